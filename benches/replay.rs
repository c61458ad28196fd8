//! End-to-end replay: capture → workers → JSON → /dev/null, on the largest capture
//! available (`C2TAP_BENCH_PCAP`, else the biggest file in `pcaps/`), with the built-in
//! rules and `--events all`. Reports packets per second through criterion's throughput.

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use c2tap::capture::Replay;
use c2tap::config::{EventsMode, Overrides, RuntimeConfig};
use c2tap::decode::LinkType;
use c2tap::detect::Engine;
use c2tap::output::Sink;
use c2tap::pipeline::shutdown::Signals;
use c2tap::pipeline::{self, Mode};
use c2tap::telemetry::Counter;

fn bench_pcap() -> PathBuf {
    if let Some(p) = std::env::var_os("C2TAP_BENCH_PCAP") {
        return PathBuf::from(p);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    std::fs::read_dir(&dir)
        .expect("pcaps/")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "pcap" || x == "pcapng")
        })
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .expect("a capture in pcaps/")
        .path()
}

fn replay_once(cfg: &RuntimeConfig, engine: &Arc<Engine>, pcap: &PathBuf) -> u64 {
    let mut source = Replay::open(std::slice::from_ref(pcap), LinkType::is_supported).unwrap();
    let sink = Sink::open(&cfg.output).unwrap();
    let report = pipeline::run(
        cfg,
        Mode::Replay,
        &mut source,
        engine.clone(),
        sink,
        &Signals::new(),
    );
    assert_eq!(report.failed_inputs, 0);
    report.totals.get(Counter::Packets)
}

fn replay(c: &mut Criterion) {
    let pcap = bench_pcap();
    let engine = Arc::new(Engine::load(&[]).0);
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    for workers in [1usize, 2] {
        let cfg = RuntimeConfig::load(Overrides {
            workers: Some(workers),
            events: Some(EventsMode::All),
            output: Some("/dev/null".into()),
            ..Overrides::default()
        })
        .unwrap();
        let packets = replay_once(&cfg, &engine, &pcap);
        group.throughput(Throughput::Elements(packets));
        group.bench_function(
            format!(
                "{}_workers{workers}",
                pcap.file_name().unwrap().to_string_lossy()
            ),
            |b| b.iter(|| replay_once(&cfg, &engine, &pcap)),
        );
    }
    group.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
