//! The analyst's report (DESIGN §5 `c2tap report`): event lines in, one
//! self-contained HTML page out — the input and its counters, alerts by rule, level
//! and technique with their mappings, an alert timeline, top destinations, beacon and
//! DNS-tunnel candidates with their subscores and histograms, TLS/QUIC fingerprints,
//! and the coverage of the loaded rules.
//!
//! Where it sits: after the output. It reads JSON lines (files, stdin, or the
//! writer's buffers during `replay --report`), never packets, and imports only
//! `detect` (for the coverage view) and `time`.
//!
//! One streaming pass in bounded memory: [`aggregate`] keeps every figure in a table
//! with a named cap ([`aggregate::Caps`]) and counts what the caps turn away; lines
//! are read with a cap on their length ([`MAX_LINE`]). What it does not do: fetch
//! anything (the page has no script, font or image to load), or read compressed
//! input (pipe it: `zstdcat events.jsonl.zst | c2tap report - -o r.html`).

pub mod aggregate;
pub mod candidates;
pub mod html;
pub mod line;
pub mod page;
pub mod svg;
pub mod timeline;
pub mod topn;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

pub use aggregate::{Aggregator, Caps};

use crate::detect::sigma;
use crate::detect::tools::coverage;
use crate::time::Timestamp;

/// Longest line read, in bytes. c2tap's largest event holds a few values of at most
/// 16 KiB each (URI, User-Agent, Cookie); 4 MiB leaves room for other tools' lines
/// and bounds what one line can make the reader hold. A longer line is skipped
/// (without being buffered) and counted as malformed.
pub const MAX_LINE: usize = 4 << 20;

/// Malformed lines named on stderr one by one; the rest are summed up in one line.
pub const STDERR_MALFORMED: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The command cannot work as written (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Reading an input or writing the page failed (exit 1).
    #[error("{0}")]
    Io(String),
}

/// How a `c2tap report` run went, once the page is written.
#[derive(Debug, Default)]
pub struct Outcome {
    pub lines: u64,
    pub malformed: u64,
    /// Inputs that could not be read to their end (named on stderr).
    pub failed_inputs: u64,
}

/// `-` or a path.
fn is_stdin(p: &Path) -> bool {
    p == Path::new("-")
}

/// Checks before anything is read: every input exists, the page's folder exists.
fn check_paths(inputs: &[PathBuf], output: &Path) -> Result<(), ReportError> {
    for p in inputs.iter().filter(|p| !is_stdin(p)) {
        if let Err(e) = std::fs::metadata(p) {
            return Err(ReportError::Usage(format!("{}: {e}", p.display())));
        }
    }
    if !is_stdin(output) {
        let dir = match output.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(ReportError::Usage(format!(
                "{}: the folder {} does not exist",
                output.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Reads `r` line by line into `agg`, never holding more than [`MAX_LINE`] bytes of
/// one line. Returns the malformed lines' (number, reason) for stderr.
pub fn read_lines(
    agg: &mut Aggregator,
    r: &mut dyn BufRead,
    mut on_malformed: impl FnMut(u64, &str),
) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut overlong = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            if overlong || !buf.is_empty() {
                finish_line(agg, &buf, overlong, &mut on_malformed);
            }
            return Ok(());
        }
        let (chunk, end) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], Some(i + 1)),
            None => (avail, None),
        };
        if !overlong {
            if buf.len() + chunk.len() <= MAX_LINE {
                buf.extend_from_slice(chunk);
            } else {
                overlong = true;
                buf = Vec::new();
            }
        }
        let used = end.unwrap_or(chunk.len());
        r.consume(used);
        if end.is_some() {
            finish_line(agg, &buf, overlong, &mut on_malformed);
            buf.clear();
            overlong = false;
        }
    }
}

fn finish_line(
    agg: &mut Aggregator,
    line: &[u8],
    overlong: bool,
    on_malformed: &mut impl FnMut(u64, &str),
) {
    if overlong {
        agg.lines += 1;
        let n = {
            let before = agg.inputs.last().map_or(0, |i| i.lines);
            if let Some(i) = agg.inputs.last_mut() {
                i.lines += 1;
            }
            before + 1
        };
        let reason = format!("line longer than {} MiB, skipped", MAX_LINE >> 20);
        on_malformed(n, &reason);
        agg.malformed_line(n, reason);
    } else if let Some(reason) = agg.feed(line) {
        let n = agg.inputs.last().map_or(0, |i| i.lines);
        on_malformed(n, &reason);
    }
}

/// The wall clock in Sysmon's form, for the page's header.
fn now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_secs_nanos(d.as_secs() as i64, d.subsec_nanos())
        .sysmon()
        .to_string()
}

/// Loads the rules for the coverage view (the built-in set when none is given).
/// Rules given by the user of which none loads are a usage error, as for `replay`.
fn load_rules(rules: &[PathBuf], stderr: &mut dyn Write) -> Result<sigma::RuleSet, ReportError> {
    let set = sigma::load_or_builtin(rules);
    for f in &set.failures {
        let _ = writeln!(stderr, "c2tap: rule skipped: {}: {}", f.path, f.reason);
    }
    if !rules.is_empty() && set.rules.iter().all(|r| r.is_deprecated()) {
        return Err(ReportError::Usage(format!(
            "no usable rule in {}",
            rules
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(set)
}

/// Renders the page and writes it to `output` (`-`: stdout).
pub fn write_page(
    agg: &Aggregator,
    set: &sigma::RuleSet,
    command: String,
    captures: &[String],
    output: &Path,
) -> Result<(), ReportError> {
    let cov = coverage::compute(&set.rules, None, set.failures.len());
    let origin = page::Origin {
        command,
        generated: now(),
        captures,
    };
    let html = page::render(agg, &cov, &origin);
    let result = if is_stdin(output) {
        let mut out = io::stdout().lock();
        out.write_all(html.as_bytes()).and_then(|()| out.flush())
    } else {
        std::fs::write(output, html.as_bytes())
    };
    match result {
        Ok(()) => Ok(()),
        // The reader of stdout went away: not an error (README "Exit status").
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(ReportError::Io(format!("{}: {e}", output.display()))),
    }
}

/// `c2tap report`: reads every input, writes the page. Malformed lines and inputs
/// that fail midway are reported on `stderr` and in the page, and the page is still
/// written; the caller turns them into exit status 1.
pub fn run(
    inputs: &[PathBuf],
    rules: &[PathBuf],
    output: &Path,
    command: String,
    stderr: &mut dyn Write,
) -> Result<Outcome, ReportError> {
    check_paths(inputs, output)?;
    let set = load_rules(rules, stderr)?;
    let mut agg = Aggregator::default();
    let mut outcome = Outcome::default();
    let mut named = 0usize;
    for path in inputs {
        let name = path.display().to_string();
        agg.begin_input(&name);
        let mut on_malformed = |n: u64, reason: &str| {
            if named < STDERR_MALFORMED {
                let _ = writeln!(stderr, "c2tap: {name}: line {n}: {reason} (skipped)");
            }
            named += 1;
        };
        let result = if is_stdin(path) {
            read_lines(&mut agg, &mut io::stdin().lock(), &mut on_malformed)
        } else {
            match File::open(path) {
                Ok(f) => read_lines(
                    &mut agg,
                    &mut BufReader::with_capacity(256 * 1024, f),
                    &mut on_malformed,
                ),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            outcome.failed_inputs += 1;
            let _ = writeln!(stderr, "c2tap: {name}: {e}");
        }
    }
    if agg.malformed > 0 {
        let _ = writeln!(
            stderr,
            "c2tap: {} of {} lines were malformed and skipped (listed in the report's Input section)",
            agg.malformed, agg.lines
        );
    }
    outcome.lines = agg.lines;
    outcome.malformed = agg.malformed;
    write_page(&agg, &set, command, &[], output)?;
    Ok(outcome)
}

/// `replay --report`: the checks made before the replay starts (the page's folder
/// must exist), so that a typo fails before the capture is read.
pub fn check_output(output: &Path) -> Result<(), ReportError> {
    check_paths(&[], output)
}

/// `replay --report`: writes the page from what the writer fed the aggregator.
pub fn finish_replay(
    agg: &Aggregator,
    rules: &[PathBuf],
    captures: &[String],
    command: String,
    output: &Path,
) -> Result<(), ReportError> {
    // The rules loaded for the replay already reported their failures.
    let set = load_rules(rules, &mut io::sink())?;
    write_page(agg, &set, command, captures, output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_skipped_without_being_held() {
        let mut agg = Aggregator::default();
        agg.begin_input("t");
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"EventID\":22,\"QueryName\":\"a.test\"}\n");
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        input.extend_from_slice(b"\n{\"EventID\":22,\"QueryName\":\"b.test\"}");
        let mut bad = Vec::new();
        read_lines(&mut agg, &mut &input[..], |n, r| {
            bad.push((n, r.to_string()))
        })
        .unwrap();
        assert_eq!(agg.lines, 3);
        assert_eq!(agg.queries.total(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 2);
        assert_eq!(agg.malformed, 1);
    }
}
