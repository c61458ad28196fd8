//! Offline replay: pcap and pcapng files, directories of them, or stdin, read in sequence
//! as one source.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::compressed::{self, Compression, MAGIC_LEN};
use super::input::{Input, READ_CHUNK, ReadInput};
use super::linktype::linktype_name;
use super::mapped::{MappedBudget, MappedInput};
use super::pcap_file::{FILE_HEADER_LEN, PcapFile, is_pcap_magic};
use super::pcapng_file::{NgFile, SHB_TYPE};
use super::{CaptureError, CaptureStats, Frame, FrameLoc, Next, Source};

/// Directory levels followed below an input directory. Captures are rarely nested more
/// than two or three deep; the cap stops a symlink loop.
pub const MAX_DIR_DEPTH: usize = 16;

/// The name stdin has in events and messages.
pub const STDIN_NAME: &str = "stdin";

/// Longest run name ([`Source::run_name`]) built from the inputs given: past it the
/// name ends with how many inputs there were.
const MAX_RUN_NAME: usize = 200;

enum InputSpec {
    File(PathBuf),
    Stdin,
    /// A reader handed in by [`Replay::from_reader`]; taken when opened.
    Reader(Arc<str>, Option<Box<dyn io::Read + Send>>),
}

enum Format {
    Pcap(PcapFile),
    Ng(NgFile),
}

struct Current {
    input: Input,
    format: Format,
}

/// Reads capture files one after the other. See [`Replay::open`].
pub struct Replay {
    inputs: Vec<InputSpec>,
    next_input: usize,
    cur: Option<Current>,
    /// The read buffer of the last finished file, reused by the next one.
    spare: Vec<u8>,
    name: Arc<str>,
    /// Bytes of the frame returned last, consumed on the next call (the frame borrows them).
    pending: usize,
    supported: fn(u32) -> bool,
    stats: CaptureStats,
    done: bool,
    /// Bounds the memory of mapped windows across all files of this replay.
    budget: Arc<MappedBudget>,
    /// The inputs as given, for the run's SensorState events.
    run_name: Arc<str>,
    /// Why the first input could not be opened, returned by the first `next_frame`.
    deferred: Option<CaptureError>,
}

impl Replay {
    /// `inputs`: files, directories (every `*.pcap`, `*.pcapng`, `*.cap`, `*.pcap.*` file
    /// inside, recursively, sorted by path) or `-` for stdin; each may be compressed
    /// (gzip, zstd, xz, lz4: [`super::compressed`]). `supported(linktype)` says which
    /// link types the decoder knows.
    ///
    /// Fails only when an input names nothing to read (a missing path, a directory
    /// without captures). A file that cannot be read is an error of `next_frame`, after
    /// which the replay goes on with the next file. The first file is opened here (its
    /// error, if any, comes with the first `next_frame`).
    pub fn open(inputs: &[PathBuf], supported: fn(u32) -> bool) -> Result<Replay, CaptureError> {
        if inputs.is_empty() {
            return Err(CaptureError::NoInputs);
        }
        let mut specs = Vec::new();
        for p in inputs {
            if p.as_os_str() == "-" {
                specs.push(InputSpec::Stdin);
                continue;
            }
            let meta = fs::metadata(p).map_err(|source| CaptureError::Io {
                path: path_name(p),
                source,
            })?;
            if meta.is_dir() {
                let mut found = Vec::new();
                collect_dir(p, 0, &mut found)?;
                if found.is_empty() {
                    return Err(CaptureError::NoFiles { path: path_name(p) });
                }
                found.sort();
                specs.extend(found.into_iter().map(InputSpec::File));
            } else {
                specs.push(InputSpec::File(p.clone()));
            }
        }
        let mut total = Some(0u64);
        for s in &specs {
            total = match s {
                InputSpec::Stdin | InputSpec::Reader(..) => None,
                // A FIFO or device (`<(zcat x.pcap.gz)`) has no size to show progress by.
                InputSpec::File(p) => match fs::metadata(p) {
                    Ok(m) if m.is_file() => total.map(|t| t.saturating_add(m.len())),
                    _ => None,
                },
            };
        }
        let mut replay = Replay {
            inputs: specs,
            next_input: 0,
            cur: None,
            spare: Vec::new(),
            name: Arc::from(""),
            pending: 0,
            supported,
            stats: CaptureStats {
                input_bytes_total: total,
                ..CaptureStats::default()
            },
            done: false,
            budget: Arc::default(),
            run_name: run_name(inputs),
            deferred: None,
        };
        replay.open_first();
        Ok(replay)
    }

    /// Replays one capture from any reader (a pipe, a socket, bytes in memory) under the
    /// given name; `input_bytes_total` is then unknown.
    pub fn from_reader(
        name: &str,
        reader: Box<dyn io::Read + Send>,
        supported: fn(u32) -> bool,
    ) -> Result<Replay, CaptureError> {
        let mut replay = Replay {
            inputs: vec![InputSpec::Reader(Arc::from(name), Some(reader))],
            next_input: 0,
            cur: None,
            spare: Vec::new(),
            name: Arc::from(name),
            pending: 0,
            supported,
            stats: CaptureStats::default(),
            done: false,
            budget: Arc::default(),
            run_name: Arc::from(name),
            deferred: None,
        };
        replay.open_first();
        Ok(replay)
    }

    /// Opens the first input now, so that its name and link type are known before the
    /// first frame; a failure waits for `next_frame`.
    fn open_first(&mut self) {
        if let Err(e) = self.open_next() {
            self.deferred = Some(e);
        }
    }

    /// Opens the next input and reads its header.
    fn open_next(&mut self) -> Result<(), CaptureError> {
        let Some(spec) = self.inputs.get_mut(self.next_input) else {
            return Ok(());
        };
        self.next_input += 1;
        let (name, input) = match spec {
            InputSpec::Stdin => {
                let name: Arc<str> = Arc::from(STDIN_NAME);
                self.name = name.clone();
                self.stats.files += 1;
                let stream = self.stream_input(Box::new(io::stdin()));
                (name, stream)
            }
            InputSpec::Reader(name, reader) => match reader.take() {
                Some(r) => {
                    let name = name.clone();
                    self.name = name.clone();
                    self.stats.files += 1;
                    let stream = self.stream_input(r);
                    (name, stream)
                }
                None => return Ok(()),
            },
            InputSpec::File(p) => {
                let name = path_name(p);
                self.name = name.clone();
                self.stats.files += 1;
                let p = p.clone();
                let input = self.open_file(&p);
                (name, input)
            }
        };
        let io_err = |source| CaptureError::Io {
            path: name.clone(),
            source,
        };
        let (mut input, compression) = input.map_err(io_err)?;
        match read_header(
            &mut input,
            &name,
            &mut self.stats,
            self.supported,
            compression,
        ) {
            Ok(format) => {
                self.cur = Some(Current { input, format });
                Ok(())
            }
            Err(e) => {
                self.spare = input.into_buf();
                Err(e)
            }
        }
    }

    /// A regular file is mapped, unless it is compressed; a FIFO (`<(zcat x.pcap.gz)`)
    /// or a device is read as a stream.
    fn open_file(&mut self, p: &Path) -> io::Result<(Input, Option<Compression>)> {
        let f = File::open(p)?;
        let meta = f.metadata()?;
        if !meta.is_file() {
            return self.stream_input(Box::new(f));
        }
        let mut head = [0u8; MAGIC_LEN];
        let got = read_head_at(&f, &mut head)?;
        if Compression::detect(head.get(..got).unwrap_or(&[])).is_some() {
            return self.stream_input(Box::new(f));
        }
        match MappedInput::open(
            f,
            meta.len(),
            self.budget.clone(),
            &mut self.stats.input_bytes_read,
        ) {
            Ok(m) => Ok((Input::Mapped(m), None)),
            // A filesystem that cannot map it.
            Err(f) => self.stream_input(Box::new(f)),
        }
    }

    /// A buffered input over `reader` (decompressed when it is compressed), with the last
    /// file's buffer. Bytes are counted as they come from `reader`, before
    /// decompression, so that progress compares like with like (file sizes).
    fn stream_input(
        &mut self,
        reader: Box<dyn Read + Send>,
    ) -> io::Result<(Input, Option<Compression>)> {
        let counter = Arc::new(AtomicU64::new(0));
        let counted = Box::new(Counted {
            inner: reader,
            count: counter.clone(),
        });
        let (found, stream) = compressed::open_stream(counted)?;
        let input = ReadInput::new(stream, std::mem::take(&mut self.spare)).counting(counter);
        Ok((Input::Read(input), found))
    }

    /// Finishes the current file: the pcapng "nothing but unsupported link types" check,
    /// and the buffer goes back to the spare slot.
    fn close_current(&mut self) -> Result<(), CaptureError> {
        if let Some(cur) = self.cur.take() {
            self.spare = cur.input.into_buf();
            if let Format::Ng(ng) = &cur.format
                && ng.supported_frames == 0
                && let Some(linktype) = ng.first_unsupported
            {
                return Err(CaptureError::UnsupportedLinktype {
                    path: self.name.clone(),
                    linktype,
                    name: linktype_name(linktype),
                });
            }
        }
        Ok(())
    }

    /// Advances to the next frame, opening files as needed: `None` at the end of all.
    fn advance(&mut self) -> Result<Option<FrameLoc>, CaptureError> {
        loop {
            let Some(cur) = self.cur.as_mut() else {
                if self.next_input >= self.inputs.len() {
                    return Ok(None);
                }
                self.open_next()?;
                continue;
            };
            let found = match &mut cur.format {
                Format::Pcap(p) => p.next(&mut cur.input, &self.name, &mut self.stats)?,
                Format::Ng(n) => {
                    n.next(&mut cur.input, &self.name, &mut self.stats, self.supported)?
                }
            };
            match found {
                Some(loc) => return Ok(Some(loc)),
                None => self.close_current()?,
            }
        }
    }
}

impl Source for Replay {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        if let Some(e) = self.deferred.take() {
            self.done = self.next_input >= self.inputs.len();
            return Err(e);
        }
        if self.done {
            return Ok(Next::End);
        }
        if let Some(cur) = self.cur.as_mut() {
            cur.input.consume(self.pending);
        }
        self.pending = 0;
        let loc = match self.advance() {
            Ok(Some(loc)) => loc,
            Ok(None) => {
                self.done = true;
                return Ok(Next::End);
            }
            Err(e) => {
                // The file is given up; the next call goes on with the next input.
                if let Some(cur) = self.cur.take() {
                    self.spare = cur.input.into_buf();
                }
                self.done = self.next_input >= self.inputs.len();
                return Err(e);
            }
        };
        self.pending = loc.consume;
        self.stats.packets += 1;
        self.stats.bytes += loc.len as u64;
        let data = self
            .cur
            .as_ref()
            .and_then(|c| c.input.avail().get(loc.data_off..loc.data_off + loc.len))
            .unwrap_or(&[]);
        Ok(Next::Frame(Frame {
            ts: loc.ts,
            linktype: loc.linktype,
            data,
            origlen: loc.origlen,
            source: &self.name,
            window: self.cur.as_ref().and_then(|c| c.input.window()),
        }))
    }

    fn current_name(&self) -> &Arc<str> {
        &self.name
    }

    fn run_name(&self) -> Arc<str> {
        self.run_name.clone()
    }

    fn stats(&mut self) -> CaptureStats {
        self.stats
    }
}

/// Identifies the format from the first bytes and reads the file header.
fn read_header(
    input: &mut Input,
    path: &Arc<str>,
    stats: &mut CaptureStats,
    supported: fn(u32) -> bool,
    compression: Option<Compression>,
) -> Result<Format, CaptureError> {
    let io_err = |source| CaptureError::Io {
        path: path.clone(),
        source,
    };
    input
        .fill(FILE_HEADER_LEN, &mut stats.input_bytes_read)
        .map_err(io_err)?;
    let head = input.avail();
    if head.is_empty() {
        return Err(CaptureError::Empty { path: path.clone() });
    }
    let magic = match head.get(..4) {
        Some(m) => [m[0], m[1], m[2], m[3]],
        None => return Err(not_pcap(path, head, compression)),
    };
    if is_pcap_magic(magic) {
        let Some(h) = head.get(..FILE_HEADER_LEN) else {
            return Err(CaptureError::TruncatedHeader {
                path: path.clone(),
                got: head.len(),
                need: FILE_HEADER_LEN,
            });
        };
        let mut h24 = [0u8; FILE_HEADER_LEN];
        h24.copy_from_slice(h);
        let file = PcapFile::from_header(&h24);
        input.consume(FILE_HEADER_LEN);
        if !supported(file.linktype) {
            return Err(CaptureError::UnsupportedLinktype {
                path: path.clone(),
                linktype: file.linktype,
                name: linktype_name(file.linktype),
            });
        }
        return Ok(Format::Pcap(file));
    }
    if u32::from_le_bytes(magic) == SHB_TYPE {
        return Ok(Format::Ng(NgFile::new()));
    }
    Err(not_pcap(path, head, compression))
}

/// Known magic numbers of things people feed a pcap reader by mistake (the formats of
/// [`Compression`] are decompressed instead; one compressed twice lands here).
const FOREIGN_MAGIC: [(&[u8], &str); 6] = [
    (&[0x1f, 0x8b], ": gzip-compressed twice?"),
    (
        &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
        ": xz-compressed twice?",
    ),
    (&[0x28, 0xb5, 0x2f, 0xfd], ": zstd-compressed twice?"),
    (
        &[0x42, 0x5a, 0x68],
        ": bzip2-compressed? decompress it first (bunzip2), or recompress it with zstd",
    ),
    (&[0x04, 0x22, 0x4d, 0x18], ": lz4-compressed twice?"),
    (
        &[0x50, 0x4b, 0x03, 0x04],
        ": a zip archive? extract it first",
    ),
];

fn not_pcap(path: &Arc<str>, head: &[u8], compression: Option<Compression>) -> CaptureError {
    let (shown, hint) = FOREIGN_MAGIC
        .iter()
        .find(|(m, _)| head.starts_with(m))
        .map_or((head.len().min(4), ""), |(m, h)| (m.len(), *h));
    let hint = match compression {
        Some(c) if hint.is_empty() => c.hint(),
        _ => hint,
    };
    let head = head
        .iter()
        .take(shown)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    CaptureError::NotPcap {
        path: path.clone(),
        head,
        hint,
    }
}

/// Reads up to `head.len()` bytes at offset 0 without moving the file position.
fn read_head_at(f: &File, head: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < head.len() {
        match f.read_at(head.get_mut(got..).unwrap_or(&mut []), got as u64) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got.min(head.len()))
}

/// Counts the bytes read from an input before decompression (see `stream_input`).
struct Counted {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.count.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// The name of a whole run: the inputs as given, shortened past [`MAX_RUN_NAME`].
fn run_name(inputs: &[PathBuf]) -> Arc<str> {
    let mut name = String::new();
    for (i, p) in inputs.iter().enumerate() {
        let p = p.to_string_lossy();
        if i > 0 && name.len() + p.len() + 1 > MAX_RUN_NAME {
            name.push_str(&format!(" … ({} inputs)", inputs.len()));
            break;
        }
        if i > 0 {
            name.push(' ');
        }
        name.push_str(if p == "-" { STDIN_NAME } else { &p });
    }
    Arc::from(name)
}

fn path_name(p: &Path) -> Arc<str> {
    Arc::from(p.to_string_lossy().as_ref())
}

/// True for the names a directory scan picks up.
fn is_capture_name(name: &str) -> bool {
    name.ends_with(".pcap")
        || name.ends_with(".pcapng")
        || name.ends_with(".cap")
        || name.contains(".pcap.")
}

fn collect_dir(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), CaptureError> {
    if depth > MAX_DIR_DEPTH {
        return Err(CaptureError::TooDeep {
            path: path_name(dir),
            depth: MAX_DIR_DEPTH,
        });
    }
    let io_err = |source| CaptureError::Io {
        path: path_name(dir),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let path = entry.path();
        // Follows symlinks, as a shell glob would.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            collect_dir(&path, depth + 1, out)?;
        } else if meta.is_file()
            && path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_capture_name)
        {
            out.push(path);
        }
    }
    Ok(())
}

// The buffer size is a property of this reader worth asserting: an ordinary frame never
// makes it grow.
const _: () = assert!(READ_CHUNK >= super::input::MAX_SNAPLEN + 64);
