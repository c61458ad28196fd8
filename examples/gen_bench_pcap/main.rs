//! `cargo run --release --example gen_bench_pcap -- [--profile long|dense] OUT.pcap [SIZE_MB] [SEED]`
//!
//! Writes the deterministic mixed capture of `mix.rs` (default 250 MB, seed 1) for
//! `make bench`, `make bench-live` and the criterion replay bench. Profiles: `long`
//! (the default: long flows, mostly TLS bulk) and `dense` (a busy office link: many
//! short flows, half DNS, one HTTP request per connection).

mod mix;

use std::io::BufWriter;

const USAGE: &str = "usage: gen_bench_pcap [--profile long|dense] OUT.pcap [SIZE_MB=250] [SEED=1]";

fn main() -> std::io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let shape = match args.iter().position(|a| a == "--profile") {
        Some(i) => {
            let name = args.get(i + 1).cloned().unwrap_or_default();
            args.drain(i..(i + 2).min(args.len()));
            match name.as_str() {
                "long" => &mix::FULL,
                "dense" => &mix::DENSE,
                _ => {
                    eprintln!("gen_bench_pcap: unknown profile {name:?}\n{USAGE}");
                    std::process::exit(2);
                }
            }
        }
        None => &mix::FULL,
    };
    let Some(path) = args.first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let mb: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(250);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let tmp = format!("{path}.tmp");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let (packets, bytes) = mix::write_mix(&mut out, seed, mb * 1_000_000, shape.concurrent, shape)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    eprintln!("gen_bench_pcap: {path}: {packets} packets, {bytes} bytes (seed {seed})");
    Ok(())
}
