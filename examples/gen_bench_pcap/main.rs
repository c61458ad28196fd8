//! `cargo run --release --example gen_bench_pcap -- OUT.pcap [SIZE_MB] [SEED]`
//!
//! Writes the deterministic mixed capture of `mix.rs` (default 250 MB, seed 1) for
//! `make bench`, `make bench-live` and the criterion replay bench.

mod mix;

use std::io::BufWriter;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: gen_bench_pcap OUT.pcap [SIZE_MB=250] [SEED=1]");
        std::process::exit(2);
    };
    let mb: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(250);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let tmp = format!("{path}.tmp");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    // 1000 flows in progress at once: consecutive packets rarely belong to the same
    // flow, as on a busy link, and the flow tables hold thousands of entries.
    let (packets, bytes) = mix::write_mix(&mut out, seed, mb * 1_000_000, 1000, &mix::FULL)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    eprintln!("gen_bench_pcap: {path}: {packets} packets, {bytes} bytes (seed {seed})");
    Ok(())
}
