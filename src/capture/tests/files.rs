//! Inputs on disk: directory expansion, several files, errors in later files.

use std::path::PathBuf;

use super::*;

#[test]
fn directory_expansion_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("sub")).unwrap();
    let a = pcap(MICRO, false, 65535, 1, &[(1, 0, P1, 11)]);
    let mut ng = Ng::new(false);
    ng.idb(101, 0, None, None).epb(0, 2_000_000, P2, 4);
    std::fs::write(root.join("b.pcap"), &a).unwrap();
    std::fs::write(root.join("sub/a.pcapng"), &ng.out).unwrap();
    std::fs::write(root.join("c.pcap.1"), &a).unwrap();
    std::fs::write(root.join("a.cap"), &a).unwrap();
    std::fs::write(root.join("notes.txt"), b"not a capture").unwrap();
    let mut r = Replay::open(&[root.to_path_buf()], sup).unwrap();
    let total = (3 * a.len() + ng.out.len()) as u64;
    assert_eq!(r.stats().input_bytes_total, Some(total));
    let mut names = Vec::new();
    while let Next::Frame(_) = r.next_frame().unwrap() {
        names.push(r.current_name().to_string());
    }
    let rel: Vec<String> = names
        .iter()
        .map(|n| n.strip_prefix(root.to_str().unwrap()).unwrap().to_string())
        .collect();
    assert_eq!(rel, ["/a.cap", "/b.pcap", "/c.pcap.1", "/sub/a.pcapng"]);
    let s = r.stats();
    assert_eq!((s.files, s.input_bytes_read), (4, total));

    let empty = tempfile::tempdir().unwrap();
    let err = Replay::open(&[empty.path().to_path_buf()], sup)
        .err()
        .unwrap();
    assert!(matches!(err, CaptureError::NoFiles { .. }), "{err}");
    let err = Replay::open(&[PathBuf::from("/nonexistent/x.pcap")], sup)
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with("/nonexistent/x.pcap: "),
        "{err}"
    );
    assert!(matches!(
        Replay::open(&[], sup),
        Err(CaptureError::NoInputs)
    ));
}

#[test]
fn error_in_a_later_file_comes_after_the_earlier_frames() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("1.pcap");
    let bad = dir.path().join("2.pcap");
    std::fs::write(&good, pcap(MICRO, false, 65535, 1, &[(1, 0, P1, 11)])).unwrap();
    std::fs::write(&bad, b"text").unwrap();
    let mut r = Replay::open(&[good, bad.clone()], sup).unwrap();
    let (got, err) = drain(&mut r);
    assert_eq!(got.len(), 1);
    assert!(
        err.unwrap()
            .to_string()
            .starts_with(&format!("{}: not a pcap", bad.display()))
    );
}

#[test]
fn a_bad_file_does_not_stop_the_files_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = pcap(MICRO, false, 65535, 1, &[(1, 0, P1, 11)]);
    std::fs::write(dir.path().join("1.pcap"), &good).unwrap();
    std::fs::write(dir.path().join("2.pcap"), b"not a capture").unwrap();
    std::fs::write(dir.path().join("3.pcap"), &good[..30]).unwrap();
    std::fs::write(dir.path().join("4.pcap"), &good).unwrap();
    let mut r = Replay::open(&[dir.path().to_path_buf()], sup).unwrap();
    let (mut frames, mut errors) = (Vec::new(), Vec::new());
    loop {
        match r.next_frame() {
            Ok(Next::Frame(_)) => frames.push(r.current_name().to_string()),
            Ok(Next::End) => break,
            Ok(Next::Idle) => panic!("replay is never idle"),
            Err(e) => errors.push(e.to_string()),
        }
        assert!(errors.len() < 10, "bounded by the inputs");
    }
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(frames[1].ends_with("4.pcap"), "{frames:?}");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("2.pcap: not a pcap"), "{errors:?}");
    assert!(
        errors[1].contains("3.pcap: truncated in packet record 1"),
        "{errors:?}"
    );
    assert!(matches!(r.next_frame(), Ok(Next::End)));
    assert_eq!(r.stats().files, 4);
}

#[test]
fn a_bad_first_file_is_the_first_error_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("a.pcap");
    let good = dir.path().join("b.pcap");
    std::fs::write(&bad, b"").unwrap();
    std::fs::write(&good, pcap(MICRO, false, 65535, 1, &[(1, 0, P1, 11)])).unwrap();
    let mut r = Replay::open(&[bad, good], sup).unwrap();
    assert!(matches!(r.next_frame(), Err(CaptureError::Empty { .. })));
    assert!(matches!(r.next_frame(), Ok(Next::Frame(_))));
    assert!(matches!(r.next_frame(), Ok(Next::End)));
}

#[test]
fn compressed_files_read_like_plain_ones() {
    use std::io::Write;
    let recs = varied_records(3_000);
    let borrowed: Vec<Rec<'_>> = recs
        .iter()
        .map(|(s, f, d, o)| (*s, *f, d.as_slice(), *o))
        .collect();
    let plain = pcap(MICRO, false, 65535, 1, &borrowed);
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&plain).unwrap();
        e.finish().unwrap()
    };
    let xz = {
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 0);
        e.write_all(&plain).unwrap();
        e.finish().unwrap()
    };
    let lz4 = {
        let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
        e.write_all(&plain).unwrap();
        e.finish().unwrap()
    };
    let zst = zstd::encode_all(&plain[..], 3).unwrap();
    let (want, _) = drain(&mut replay_bytes(plain.clone()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    // Named without a compression suffix: the magic bytes decide, not the name.
    for (name, bytes) in [
        ("g.pcap", gz),
        ("z.pcap", zst),
        ("x.pcap", xz),
        ("l.pcap", lz4),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let mut r = Replay::open(std::slice::from_ref(&path), sup).unwrap();
        let (got, err) = drain(&mut r);
        assert!(err.is_none(), "{name}: {err:?}");
        assert!(got == want, "{name}: frames differ from the plain file");
        let s = r.stats();
        // Progress counts the file's own (compressed) bytes, as its size does.
        assert_eq!(s.input_bytes_read, bytes.len() as u64, "{name}");
        assert_eq!(s.input_bytes_total, Some(bytes.len() as u64), "{name}");
        // The same bytes through a pipe-like reader.
        let (piped, err) = drain(&mut replay_bytes(bytes).unwrap());
        assert!(err.is_none() && piped == want, "{name} as a stream");
    }
}

#[test]
fn sources_are_send() {
    fn send<T: Send>() {}
    send::<Replay>();
    send::<Live>();
}

/// Records of every size from 1 byte to a few KiB, so that several straddle each window
/// boundary of a mapped file.
fn varied_records(n: usize) -> Vec<(u32, u32, Vec<u8>, u32)> {
    (0..n)
        .map(|i| {
            let len = 1 + (i * 7919) % 3000;
            let data: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
            (i as u32, (i % 1_000_000) as u32, data, len as u32 + 10)
        })
        .collect()
}

#[test]
fn mapped_files_read_like_streams() {
    let recs = varied_records(9_000);
    let borrowed: Vec<Rec<'_>> = recs
        .iter()
        .map(|(s, f, d, o)| (*s, *f, d.as_slice(), *o))
        .collect();
    let classic = pcap(MICRO, false, 65535, 1, &borrowed);
    let mut ng = Ng::new(true);
    ng.idb(1, 0, None, None);
    for (s, _, d, o) in &recs {
        ng.epb(0, u64::from(*s), d, *o);
    }
    for bytes in [classic, ng.out] {
        assert!(bytes.len() > 2 * WINDOW_BYTES, "spans several windows");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.pcap");
        std::fs::write(&path, &bytes).unwrap();
        let mut mapped = Replay::open(&[path], sup).unwrap();
        let (got, err) = drain(&mut mapped);
        assert!(err.is_none(), "{err:?}");
        let (want, _) = drain(&mut replay_bytes(bytes.clone()).unwrap());
        assert_eq!(got.len(), recs.len());
        assert!(got == want, "mapped and streamed replays differ");
        let s = mapped.stats();
        assert_eq!(s.input_bytes_read, bytes.len() as u64);
    }
}

#[test]
fn mapped_file_that_grows_is_read_to_its_new_end() {
    let first = pcap(MICRO, false, 65535, 1, &[(1, 0, P1, 11)]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing.pcap");
    std::fs::write(&path, &first).unwrap();
    let mut r = Replay::open(std::slice::from_ref(&path), sup).unwrap();
    // A capture still being written: another record lands after the file was opened.
    let more = &pcap(MICRO, false, 65535, 1, &[(2, 0, P2, 4)])[24..];
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    io::Write::write_all(&mut f, more).unwrap();
    let (got, err) = drain(&mut r);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].2, P2);
}

#[test]
fn batches_hold_mapped_frames_by_reference_and_copy_the_rest() {
    use crate::capture::mapped::{MappedBudget, MappedInput};
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bytes");
    std::fs::write(&path, &data).unwrap();
    let mut read = 0;
    let input = MappedInput::open(
        std::fs::File::open(&path).unwrap(),
        data.len() as u64,
        Arc::new(MappedBudget::default()),
        &mut read,
    )
    .ok()
    .unwrap();
    let window = input.window().unwrap().clone();
    let ts = crate::time::Timestamp::from_secs(1);
    let mut batch = PacketBatch::with_capacity(Arc::from("f"));
    batch.push_shared(ts, 1, &window, &window.bytes()[100..160], 60);
    let elsewhere = [7u8; 20];
    batch.push_shared(ts, 1, &window, &elsewhere, 20);
    batch.push(ts, 1, &data[..5], 5);
    let got: Vec<&[u8]> = batch.iter().map(|(_, f)| f).collect();
    assert_eq!(got, [&data[100..160], &elsewhere[..], &data[..5]]);
    assert_eq!(
        batch.data.len(),
        25,
        "only the two frames outside the window are copied"
    );
    assert_eq!(
        Arc::strong_count(&window),
        3,
        "input, this test, and the batch"
    );
    batch.clear();
    assert_eq!(
        Arc::strong_count(&window),
        2,
        "cleared: the batch lets go of the window"
    );
}
