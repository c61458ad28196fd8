//! Offline replay: pcap and pcapng files, directories of them, or stdin, read in sequence
//! as one source.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
}

impl Replay {
    /// `inputs`: files, directories (every `*.pcap`, `*.pcapng`, `*.cap`, `*.pcap.*` file
    /// inside, recursively, sorted by path) or `-` for stdin. `supported(linktype)` says
    /// which link types the decoder knows. The first file is opened (and its header
    /// checked) here, so an unreadable or foreign first file fails now.
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
        };
        replay.open_next()?;
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
        };
        replay.open_next()?;
        Ok(replay)
    }

    /// Opens the next input and reads its header.
    fn open_next(&mut self) -> Result<(), CaptureError> {
        let Some(spec) = self.inputs.get_mut(self.next_input) else {
            return Ok(());
        };
        self.next_input += 1;
        let (name, mut input) = match spec {
            InputSpec::Stdin => (
                Arc::from(STDIN_NAME),
                self.read_input(Box::new(io::stdin())),
            ),
            InputSpec::Reader(name, reader) => match reader.take() {
                Some(r) => {
                    let name = name.clone();
                    (name, self.read_input(r))
                }
                None => return Ok(()),
            },
            InputSpec::File(p) => {
                let name = path_name(p);
                let io_err = |source| CaptureError::Io {
                    path: name.clone(),
                    source,
                };
                let f = File::open(p).map_err(io_err)?;
                let meta = f.metadata().map_err(io_err)?;
                // Regular files are mapped; a FIFO (`<(zcat x.pcap.gz)`) or a device is read.
                let mapped = if meta.is_file() {
                    MappedInput::open(
                        f,
                        meta.len(),
                        self.budget.clone(),
                        &mut self.stats.input_bytes_read,
                    )
                } else {
                    Err(f)
                };
                let input = match mapped {
                    Ok(m) => Input::Mapped(m),
                    // Not a regular file, or one on a filesystem that cannot map it.
                    Err(f) => self.read_input(Box::new(f)),
                };
                (name, input)
            }
        };
        self.name = name.clone();
        self.stats.files += 1;
        let format = read_header(&mut input, &name, &mut self.stats, self.supported)?;
        self.cur = Some(Current { input, format });
        Ok(())
    }

    /// A buffered input over `reader`, with the last file's buffer.
    fn read_input(&mut self, reader: Box<dyn io::Read + Send>) -> Input {
        Input::Read(ReadInput::new(reader, std::mem::take(&mut self.spare)))
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
                self.done = true;
                self.cur = None;
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
        None => return Err(not_pcap(path, head)),
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
    Err(not_pcap(path, head))
}

/// Known magic numbers of things people feed a pcap reader by mistake.
const FOREIGN_MAGIC: [(&[u8], &str); 6] = [
    (&[0x1f, 0x8b], ": gzip-compressed? decompress it first"),
    (
        &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
        ": xz-compressed? decompress it first",
    ),
    (
        &[0x28, 0xb5, 0x2f, 0xfd],
        ": zstd-compressed? decompress it first",
    ),
    (
        &[0x42, 0x5a, 0x68],
        ": bzip2-compressed? decompress it first",
    ),
    (
        &[0x04, 0x22, 0x4d, 0x18],
        ": lz4-compressed? decompress it first",
    ),
    (
        &[0x50, 0x4b, 0x03, 0x04],
        ": a zip archive? extract it first",
    ),
];

fn not_pcap(path: &Arc<str>, head: &[u8]) -> CaptureError {
    let (shown, hint) = FOREIGN_MAGIC
        .iter()
        .find(|(m, _)| head.starts_with(m))
        .map_or((head.len().min(4), ""), |(m, h)| (m.len(), *h));
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
