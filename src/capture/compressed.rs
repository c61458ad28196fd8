//! Compressed captures: gzip, zstd, xz and lz4 files or pipes, recognized by their magic
//! bytes (never by the file name, so `capture.pcap.1` compressed by logrotate and a
//! compressed stream on stdin are read alike) and decompressed while they are read.
//!
//! Where it sits: between an input's bytes and [`super::input::ReadInput`]. A compressed
//! input is a stream, never mapped: the decoder writes straight into the read buffer, so
//! the only copy is the decompression itself. What it does not do: bzip2 and zip are
//! recognized (for the error message) but not read.
//!
//! Memory is bounded by the formats' own window sizes: gzip 32 KiB, lz4 at most 4 MiB
//! blocks, zstd up to its default window limit (128 MiB, `zstd --long` files beyond it
//! fail with zstd's message), xz by [`MAX_XZ_MEMORY`].

use std::io::{self, BufReader, Read};

/// Bytes needed to recognize every format below (xz's magic is the longest).
pub const MAGIC_LEN: usize = 6;

/// Read size of the compressed side: large enough that the decoder, not syscalls,
/// sets the speed.
const COMPRESSED_CHUNK: usize = 256 * 1024;

/// Most memory the xz decoder may use. `xz -9` (64 MiB dictionary) needs about 65 MiB;
/// a header asking for more is refused instead of allocated, so a hostile file cannot
/// push replay past its memory target (DESIGN §6).
pub const MAX_XZ_MEMORY: u64 = 96 << 20;

/// A compression format c2tap decompresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
    Lz4,
}

impl Compression {
    /// The format whose magic `head` starts with, if any.
    pub fn detect(head: &[u8]) -> Option<Compression> {
        const MAGIC: [(&[u8], Compression); 4] = [
            (&[0x1f, 0x8b], Compression::Gzip),
            (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
            (&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], Compression::Xz),
            (&[0x04, 0x22, 0x4d, 0x18], Compression::Lz4),
        ];
        MAGIC
            .iter()
            .find(|(m, _)| head.starts_with(m))
            .map(|(_, c)| *c)
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Lz4 => "lz4",
        }
    }

    /// Appended to a "not a pcap" message about the decompressed bytes.
    pub fn hint(self) -> &'static str {
        match self {
            Compression::Gzip => ", after gzip decompression",
            Compression::Zstd => ", after zstd decompression",
            Compression::Xz => ", after xz decompression",
            Compression::Lz4 => ", after lz4 decompression",
        }
    }

    /// A reader of the decompressed bytes of `compressed`. Concatenated members or
    /// frames (what `cat a.gz b.gz` or `pigz` make) are read through, as `zcat` does.
    pub fn decoder(self, compressed: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
        let buffered = BufReader::with_capacity(COMPRESSED_CHUNK, compressed);
        let inner: Box<dyn Read + Send> = match self {
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
            Compression::Xz => {
                let stream = liblzma::stream::Stream::new_stream_decoder(
                    MAX_XZ_MEMORY,
                    liblzma::stream::CONCATENATED,
                )
                .map_err(io::Error::other)?;
                Box::new(liblzma::bufread::XzDecoder::new_stream(buffered, stream))
            }
            Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(buffered)),
        };
        Ok(Box::new(Named {
            inner,
            format: self,
        }))
    }
}

/// Says which decoder an error came from: "gzip data: invalid checksum" tells the user
/// the file is damaged, not the disk.
struct Named {
    inner: Box<dyn Read + Send>,
    format: Compression,
}

impl Read for Named {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::Interrupted => e,
            kind => io::Error::new(kind, format!("{} data: {e}", self.format.name())),
        })
    }
}

/// Reads the first bytes of a stream to recognize its format, and gives back a reader
/// of the whole stream (those bytes first) with what it found.
pub fn sniff(
    mut reader: Box<dyn Read + Send>,
) -> io::Result<(Option<Compression>, Box<dyn Read + Send>)> {
    let mut head = [0u8; MAGIC_LEN];
    let mut got = 0;
    // A pipe may deliver fewer bytes per read; stop at end of input.
    while got < MAGIC_LEN {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k.min(MAGIC_LEN - got),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = head.get(..got).unwrap_or(&[]).to_vec();
    let found = Compression::detect(&head);
    Ok((found, Box::new(io::Cursor::new(head).chain(reader))))
}

/// The decompressed stream of `reader` when it is compressed, else `reader` itself.
pub fn open_stream(
    reader: Box<dyn Read + Send>,
) -> io::Result<(Option<Compression>, Box<dyn Read + Send>)> {
    let (found, reader) = sniff(reader)?;
    match found {
        Some(c) => Ok((Some(c), c.decoder(reader)?)),
        None => Ok((None, reader)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect()
    }

    fn read_all(compressed: Vec<u8>) -> (Option<Compression>, io::Result<Vec<u8>>) {
        let (found, mut r) = open_stream(Box::new(io::Cursor::new(compressed))).unwrap();
        let mut out = Vec::new();
        let res = r.read_to_end(&mut out).map(|_| out);
        (found, res)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn every_format_round_trips_and_is_recognized() {
        let data = sample();
        let xz = {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        let lz4 = {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(&data).unwrap();
            e.finish().unwrap()
        };
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        for (bytes, want) in [
            (gzip(&data), Compression::Gzip),
            (zst, Compression::Zstd),
            (xz, Compression::Xz),
            (lz4, Compression::Lz4),
        ] {
            let (found, out) = read_all(bytes);
            assert_eq!(found, Some(want));
            assert!(out.unwrap() == data, "{want:?}");
        }
    }

    #[test]
    fn plain_bytes_pass_through_even_when_short() {
        for data in [Vec::new(), vec![0xd4], sample()] {
            let (found, out) = read_all(data.clone());
            assert_eq!(found, None);
            assert_eq!(out.unwrap(), data);
        }
    }

    #[test]
    fn concatenated_gzip_members_are_read_through() {
        let mut two = gzip(b"first ");
        two.extend(gzip(b"second"));
        assert_eq!(read_all(two).1.unwrap(), b"first second");
    }

    #[test]
    fn damaged_data_is_an_error_naming_the_format() {
        let mut gz = gzip(&sample());
        let n = gz.len();
        gz.truncate(n / 2);
        let err = read_all(gz).1.unwrap_err();
        assert!(err.to_string().starts_with("gzip data: "), "{err}");
        let mut zst = zstd::encode_all(&sample()[..], 1).unwrap();
        for b in zst.iter_mut().skip(20).take(64) {
            *b ^= 0x5a;
        }
        let err = read_all(zst).1.unwrap_err();
        assert!(err.to_string().starts_with("zstd data: "), "{err}");
    }

    #[test]
    fn xz_header_asking_for_too_much_memory_is_refused() {
        // An LZMA2 dictionary of 1.5 GiB (xz --lzma2=dict=1536MiB): over MAX_XZ_MEMORY.
        let data = b"x".repeat(1000);
        let opts = liblzma::stream::LzmaOptions::new_preset(0)
            .map(|mut o| {
                o.dict_size(1536 << 20);
                o
            })
            .unwrap();
        let mut filters = liblzma::stream::Filters::new();
        filters.lzma2(&opts);
        let stream =
            liblzma::stream::Stream::new_stream_encoder(&filters, liblzma::stream::Check::Crc64)
                .unwrap();
        let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
        e.write_all(&data).unwrap();
        let xz = e.finish().unwrap();
        let err = read_all(xz).1.unwrap_err();
        assert!(err.to_string().starts_with("xz data: "), "{err}");
    }
}
