//! Replay from standard input ("-"): the test re-runs itself as a child whose stdin is a
//! capture file, for a pcap and a pcapng of the shared corpus.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use c2tap::capture::{Next, Replay, STDIN_NAME, Source};

const CHILD_ENV: &str = "C2TAP_CAPTURE_STDIN_CHILD";

fn shared_dir() -> Option<PathBuf> {
    [
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")),
        PathBuf::from("/work/shared"),
    ]
    .into_iter()
    .find(|p| p.join("corpus/public").is_dir())
}

/// In the child: replay "-" and print the frame count and the total bytes of frames.
fn child() {
    let mut r = Replay::open(&[PathBuf::from("-")], |_| true).expect("open stdin");
    assert_eq!(r.current_name().as_ref(), STDIN_NAME);
    let mut n = 0u64;
    loop {
        match r.next_frame().expect("read stdin") {
            Next::Frame(_) => n += 1,
            Next::End => break,
            Next::Idle => unreachable!(),
        }
    }
    let s = r.stats();
    assert_eq!(s.input_bytes_total, None);
    println!("C2TAP-FRAMES {n} {}", s.bytes);
}

fn count_file(path: &PathBuf) -> (u64, u64) {
    let mut r = Replay::open(std::slice::from_ref(path), |_| true).expect("open file");
    let mut n = 0;
    while let Next::Frame(_) = r.next_frame().expect("read file") {
        n += 1;
    }
    (n, r.stats().bytes)
}

#[test]
fn stdin_replays_pcap_and_pcapng() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    let Some(shared) = shared_dir() else {
        eprintln!("skipping: ../shared not found");
        return;
    };
    let public = shared.join("corpus/public");
    for name in ["ndpi_reddit.pcap", "ndpi_sites.pcapng"] {
        let path = public.join(name);
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "stdin_replays_pcap_and_pcapng", "--nocapture"])
            .env(CHILD_ENV, "1")
            .stdin(Stdio::from(std::fs::File::open(&path).unwrap()))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("C2TAP-FRAMES "))
            .expect("child output");
        let (frames, bytes) = count_file(&path);
        assert!(frames > 0);
        eprintln!("{name}: {line}");
        assert_eq!(line, format!("{frames} {bytes}"), "{name}");
    }
}
