//! `-o FILE`: append JSON lines to a file, reopen it on SIGHUP (logrotate's
//! `postrotate`), and optionally rotate it by size ourselves.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{OutputError, Rotation};

/// Write buffer: big enough that a batch of events is one `write(2)`.
const FILE_BUFFER: usize = 1 << 16;

pub struct FileSink {
    path: PathBuf,
    rotate: Option<Rotation>,
    file: BufWriter<File>,
    /// Bytes in the current file (its size when opened, plus what we wrote).
    size: u64,
}

impl FileSink {
    pub fn open(path: &Path, rotate: Option<Rotation>) -> Result<FileSink, OutputError> {
        let (file, size) = open_append(path)?;
        Ok(FileSink {
            path: path.to_path_buf(),
            rotate,
            file: BufWriter::with_capacity(FILE_BUFFER, file),
            size,
        })
    }

    pub fn write_lines(&mut self, bytes: &[u8]) -> Result<(), OutputError> {
        if let Some(rot) = self.rotate {
            // Rotate before a write that would pass the limit, never in its middle, so
            // no line is split between two files. A file always takes at least one write.
            if self.size > 0 && self.size + bytes.len() as u64 > rot.max_bytes {
                self.rotate_now(rot)?;
            }
        }
        self.file.write_all(bytes).map_err(OutputError::Write)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), OutputError> {
        self.file.flush().map_err(OutputError::Write)
    }

    pub fn reopen(&mut self) -> Result<(), OutputError> {
        self.flush()?;
        let (file, size) = open_append(&self.path)?;
        self.file = BufWriter::with_capacity(FILE_BUFFER, file);
        self.size = size;
        Ok(())
    }

    fn rotate_now(&mut self, rot: Rotation) -> Result<(), OutputError> {
        self.flush()?;
        let name = |n: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        if rot.keep == 0 {
            let _ = fs::remove_file(&self.path);
        } else {
            let _ = fs::remove_file(name(rot.keep));
            for n in (1..rot.keep).rev() {
                let _ = fs::rename(name(n), name(n + 1));
            }
            fs::rename(&self.path, name(1)).map_err(|source| OutputError::Open {
                path: self.path.display().to_string(),
                source,
            })?;
        }
        self.reopen()
    }
}

fn open_append(path: &Path) -> Result<(File, u64), OutputError> {
    let err = |source: io::Error| OutputError::Open {
        path: path.display().to_string(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    let size = file.metadata().map_err(err)?.len();
    Ok((file, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_whole_lines_and_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.json");
        let mut sink = FileSink::open(
            &path,
            Some(Rotation {
                max_bytes: 100,
                keep: 2,
            }),
        )
        .unwrap();
        for i in 0..30 {
            sink.write_lines(format!("{{\"n\":{i:04}}}\n").as_bytes())
                .unwrap();
        }
        sink.flush().unwrap();
        let mut lines = Vec::new();
        for p in [
            path.with_extension("json.2"),
            path.with_extension("json.1"),
            path.clone(),
        ] {
            let text = fs::read_to_string(&p).unwrap();
            assert!(text.len() <= 100, "{} is {} bytes", p.display(), text.len());
            lines.extend(text.lines().map(str::to_owned));
        }
        assert!(!path.with_extension("json.3").exists());
        // The newest lines survive, contiguous and unsplit.
        let last: Vec<String> = (30 - lines.len()..30)
            .map(|i| format!("{{\"n\":{i:04}}}"))
            .collect();
        assert_eq!(lines, last);
    }

    #[test]
    fn reopen_follows_a_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.json");
        let mut sink = FileSink::open(&path, None).unwrap();
        sink.write_lines(b"a\n").unwrap();
        sink.flush().unwrap();
        fs::rename(&path, dir.path().join("e.json.old")).unwrap();
        sink.reopen().unwrap();
        sink.write_lines(b"b\n").unwrap();
        sink.flush().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "b\n");
        assert_eq!(
            fs::read_to_string(dir.path().join("e.json.old")).unwrap(),
            "a\n"
        );
    }
}
