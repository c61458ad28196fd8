//! No input makes the replay readers panic or loop.

use proptest::prelude::*;

use super::*;

/// Reads a replay to its end; panics if it yields more frames than the input could hold.
fn run_bounded(bytes: Vec<u8>) {
    let len = bytes.len();
    let Ok(mut r) = replay_bytes(bytes) else {
        return;
    };
    // Every record takes at least 12 bytes, so more frames than this is a loop.
    let bound = len / 12 + 2;
    for _ in 0..bound {
        match r.next_frame() {
            Ok(Next::Frame(f)) => assert!(f.data.len() <= MAX_SNAPLEN),
            Ok(Next::End) | Err(_) => return,
            Ok(Next::Idle) => panic!("idle in replay"),
        }
    }
    panic!("more frames than the input can hold");
}

fn valid_files() -> Vec<Vec<u8>> {
    let mut ng = Ng::new(false);
    ng.idb(1, 0, Some(9), Some(3))
        .idb(147, 0, None, None)
        .epb(0, 1, P1, 11)
        .epb(1, 2, P2, 4)
        .spb(P2, 4)
        .opb(0, 9, P1)
        .block(77, vec![9; 8]);
    let mut ng_be = Ng::new(true);
    ng_be
        .idb(1, 0, None, None)
        .epb(0, 1, P1, 11)
        .shb()
        .idb(101, 0, None, None)
        .epb(0, 3, P2, 4);
    vec![
        pcap(
            MICRO,
            false,
            65535,
            1,
            &[(1, 0, P1, 11), (2, 0, P2, 4), (3, 0, b"", 0)],
        ),
        pcap(NANO, true, 65535, 1, &[(1, 0, P1, 11), (2, 0, P2, 4)]),
        pcap(MODIFIED, true, 65535, 1, &[(1, 0, P1, 11)]),
        ng.out,
        ng_be.out,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(prefix in 0usize..5, tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        // Start from a real magic number most of the time, so the parsers are reached.
        let mut bytes = match prefix {
            0 => vec![],
            1 => vec![0xd4, 0xc3, 0xb2, 0xa1],
            2 => vec![0xa1, 0xb2, 0xcd, 0x34],
            _ => vec![0x0a, 0x0d, 0x0d, 0x0a],
        };
        bytes.extend_from_slice(&tail);
        run_bounded(bytes);
    }

    #[test]
    fn truncated_and_mutated_files_never_panic(
        which in 0usize..5,
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut f = valid_files().swap_remove(which);
        for (at, v) in flips {
            let i = at.index(f.len());
            f[i] = v;
        }
        let cut = cut.index(f.len() + 1);
        f.truncate(cut);
        run_bounded(f);
    }
}
