//! Compressed captures (issue 17): gzip, zstd, xz and lz4 files, and the same bytes on
//! standard input, give exactly the events of the plain capture. The compressors are
//! the command-line tools people use (`gzip`, `zstd`, `xz`, `lz4`), so the files are
//! what a rotated capture really looks like; a tool that is missing is skipped, saying so.

mod common;

use common::*;
use std::process::{Command, Stdio};

/// A few DNS exchanges, as a pcap.
fn plain_pcap() -> Vec<u8> {
    pcap_of(&dns_exchange_frames("example.org", 0, 200))
}

/// The replay's events (SensorState left out: its times are the wall clock) without
/// their `Source`, the one field that names the file.
fn replay_events(cmd: &mut Command) -> Vec<serde_json::Value> {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ev = events(&out.stdout);
    for e in &mut ev {
        e.as_object_mut().unwrap().remove("Source");
    }
    ev
}

#[test]
fn compressed_files_and_pipes_give_the_plain_events() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain.pcap", &plain_pcap());
    let want = replay_events(c2tap().args(["replay", "--events", "all"]).arg(&plain));
    assert!(want.len() > 40, "{}", want.len());
    let mut tested = 0;
    for (tool, ext) in [
        ("gzip", "gz"),
        ("zstd", "zst"),
        ("xz", "xz"),
        ("lz4", "lz4"),
    ] {
        if !have(tool) {
            eprintln!("skipping {tool}: not installed (scripts/install-deps.sh test)");
            continue;
        }
        let packed = dir.path().join(format!("plain.pcap.{ext}"));
        let out = Command::new(tool)
            .args(["-c", "-q"])
            .arg(&plain)
            .stdout(std::fs::File::create(&packed).unwrap())
            .status()
            .unwrap();
        assert!(out.success(), "{tool}");
        let from_file = replay_events(c2tap().args(["replay", "--events", "all"]).arg(&packed));
        assert!(
            from_file == want,
            "{tool} file: events differ from the plain capture"
        );
        let from_pipe = replay_events(
            c2tap()
                .args(["replay", "--events", "all", "-"])
                .stdin(Stdio::from(std::fs::File::open(&packed).unwrap())),
        );
        assert!(from_pipe == want, "{tool} on stdin: events differ");
        tested += 1;
    }
    assert!(tested > 0, "no compressor installed: nothing was tested");
}
