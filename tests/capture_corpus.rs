//! Every capture of the shared corpus reads to its end, with as many frames as Wireshark
//! counts (capinfos, or tshark) and the timestamps tshark gives the frames listed in
//! `NAME.expected.jsonl`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use c2tap::capture::{Next, Replay, Source};

fn shared_dir() -> Option<PathBuf> {
    [
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")),
        PathBuf::from("/work/shared"),
    ]
    .into_iter()
    .find(|p| p.join("corpus/public").is_dir())
}

fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read corpus dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    files
}

/// Frame counts by Wireshark's own reader: `capinfos` for all files at once, else
/// `tshark` per file; `None` when neither runs.
fn wireshark_counts(files: &[PathBuf]) -> Option<HashMap<PathBuf, u64>> {
    if let Ok(out) = Command::new("capinfos")
        .args(["-T", "-r", "-c", "-M"])
        .args(files)
        .output()
        && out.status.success()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        let mut counts = HashMap::new();
        for line in text.lines() {
            let (name, n) = line.rsplit_once('\t')?;
            counts.insert(PathBuf::from(name.trim()), n.trim().parse().ok()?);
        }
        return Some(counts);
    }
    let mut counts = HashMap::new();
    for f in files {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(f)
            .args(["-T", "fields", "-e", "frame.number"])
            .output()
            .ok()?;
        counts.insert(
            f.clone(),
            out.stdout.iter().filter(|&&b| b == b'\n').count() as u64,
        );
    }
    Some(counts)
}

/// (frame number, tshark's frame.time_epoch) of every line of NAME.expected.jsonl.
fn expected_times(capture: &Path) -> Vec<(u64, f64)> {
    let path = capture.with_extension("expected.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("expected.jsonl line");
            (
                v["frame"].as_u64().expect("frame"),
                v["ts"].as_f64().expect("ts"),
            )
        })
        .collect()
}

fn any_linktype(_: u32) -> bool {
    true
}

#[test]
fn corpus_reads_to_the_end_like_wireshark() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let files = corpus_files(&shared.join("corpus/public"));
    assert!(!files.is_empty());
    let counts = wireshark_counts(&files);
    if counts.is_none() {
        eprintln!("capinfos and tshark not found: frame counts not compared");
    }
    let (mut total_frames, mut checked_ts) = (0u64, 0usize);
    for file in &files {
        let mut replay = Replay::open(std::slice::from_ref(file), any_linktype)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut times = Vec::new();
        loop {
            match replay.next_frame() {
                Ok(Next::Frame(f)) => {
                    assert!(f.origlen as usize >= f.data.len());
                    times.push(f.ts.as_nanos());
                }
                Ok(Next::End) => break,
                Ok(Next::Idle) => panic!("replay is never idle"),
                Err(e) => panic!("{e}"),
            }
        }
        let stats = replay.stats();
        assert_eq!(stats.packets, times.len() as u64);
        assert_eq!(
            stats.input_bytes_read,
            stats.input_bytes_total.unwrap(),
            "{}",
            file.display()
        );
        if let Some(counts) = &counts {
            let want = counts
                .get(file)
                .unwrap_or_else(|| panic!("no count for {}", file.display()));
            assert_eq!(times.len() as u64, *want, "frames of {}", file.display());
        }
        for (frame, ts) in expected_times(file) {
            let ours = times[(frame - 1) as usize];
            // Microsecond precision: tshark's value went through a float in the oracle.
            let diff = (ours as f64 / 1e3 - ts * 1e6).abs();
            assert!(
                diff < 1.0,
                "{} frame {frame}: ours {ours} ns, tshark {ts}",
                file.display()
            );
            checked_ts += 1;
        }
        total_frames += times.len() as u64;
    }
    eprintln!(
        "{} files, {total_frames} frames, {checked_ts} timestamps checked",
        files.len()
    );
}

#[test]
fn corpus_directory_is_one_replay() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let dir = shared.join("corpus/public");
    let files = corpus_files(&dir);
    let mut replay = Replay::open(&[dir], any_linktype).expect("open corpus dir");
    let mut names = Vec::new();
    let mut frames = 0u64;
    loop {
        match replay.next_frame().expect("no error") {
            Next::Frame(_) => {
                frames += 1;
                let name = replay.current_name().to_string();
                if names.last() != Some(&name) {
                    names.push(name);
                }
            }
            Next::End => break,
            Next::Idle => unreachable!(),
        }
    }
    let stats = replay.stats();
    assert_eq!(stats.files, files.len() as u64);
    assert_eq!(stats.packets, frames);
    // Files in path order (a file without frames would not appear; none is empty).
    let want: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), want.len());
    for (got, want) in names.iter().zip(&want) {
        assert!(
            got.ends_with(want.rsplit('/').next().unwrap()),
            "{got} vs {want}"
        );
    }
}
