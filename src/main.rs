//! The `c2tap` command line: argument parsing, configuration, and exit statuses.
//! Everything else lives in the library; `anyhow` and process exit codes live only here.
//!
//! Exit status: 0 success, 1 runtime error (after flushing what was parsed), 2 bad usage
//! or configuration. A closed stdout (`c2tap ... | head`) is not an error.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use c2tap::config::{EventsMode, Overrides, RuntimeConfig, TlsOverrides};

#[derive(Parser)]
#[command(
    name = "c2tap",
    version,
    about = "Finds command-and-control traffic in web protocols (ATT&CK T1071.001)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read pcap/pcapng files as fast as possible.
    Replay {
        /// Files, directories (every capture inside), or - for standard input.
        #[arg(required = true, value_name = "PCAP|DIR|-")]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Capture from a network interface.
    Live {
        /// Interface to capture on.
        #[arg(short = 'i', long = "interface", value_name = "IFACE")]
        interface: Option<String>,
        /// BPF capture filter, as tcpdump takes it.
        #[arg(short = 'f', long = "filter", value_name = "BPF")]
        filter: Option<String>,
        /// Bytes captured per frame.
        #[arg(long, value_name = "BYTES")]
        snaplen: Option<i32>,
        /// Kernel capture buffer, MiB.
        #[arg(long, value_name = "MIB")]
        buffer_mib: Option<i32>,
        /// Do not put the interface in promiscuous mode.
        #[arg(long)]
        no_promiscuous: bool,
        /// Started as root: open the capture, then run as this user (it must be able
        /// to create the output file).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Rule authors' tools.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load rules, report errors and which fields a network sensor cannot observe.
    Check {
        #[arg(short = 'r', long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
    },
    /// Summarize what the loaded rules cover for one ATT&CK technique.
    Coverage {
        #[arg(short = 'r', long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        #[arg(long, value_name = "ID")]
        technique: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Evaluate rules on JSON events; one output line per input event.
    Test {
        #[arg(short = 'r', long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// JSON lines file, or - for standard input.
        #[arg(value_name = "EVENTS.jsonl|-")]
        events: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Options shared by `replay` and `live`.
#[derive(Args)]
struct Common {
    /// Sigma rules: a file or folder; repeatable. Default: the built-in set.
    #[arg(short = 'r', long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Where events go: - (stdout), FILE, or tls://HOST:PORT (JSON lines over TLS).
    #[arg(short = 'o', long = "output", value_name = "-|FILE|tls://HOST:PORT")]
    output: Option<String>,
    /// Rotate the output file when it would pass this size (e.g. 100M).
    #[arg(long, value_name = "SIZE")]
    rotate_size: Option<String>,
    /// Rotated files to keep.
    #[arg(long, value_name = "N")]
    rotate_keep: Option<u32>,
    /// TLS output: CA bundle (PEM) to verify the collector (default: the system's).
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// TLS output: client certificate chain (PEM), with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS output: client private key (PEM), with --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// TLS output: name the collector's certificate must carry (default: HOST).
    #[arg(long, value_name = "NAME")]
    tls_server_name: Option<String>,
    /// TLS output: memory for lines while the collector is away (default 64M).
    #[arg(long, value_name = "SIZE")]
    tls_buffer: Option<String>,
    /// Which events to write.
    #[arg(long, value_enum)]
    events: Option<EventsMode>,
    /// Parser worker threads (default: cores - 1, at least 1).
    #[arg(short = 'w', long = "workers", value_name = "N")]
    workers: Option<usize>,
    /// TOML configuration file.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Seconds between SensorState events (default: only at start and stop).
    #[arg(long, value_name = "SECS")]
    stats_interval: Option<u64>,
    /// Name written as `Computer` (default: the host name).
    #[arg(long, value_name = "NAME")]
    sensor_name: Option<String>,
    /// No connection summaries (EventID 101, ConnectionEnd, one per flow at its end).
    #[arg(long)]
    no_connection_summaries: bool,
    /// No behavioural detection (EventID 110 Beacon, 111 DnsTunnel).
    #[arg(long)]
    no_analytics: bool,
}

impl Common {
    fn overrides(self) -> Overrides {
        Overrides {
            config: self.config,
            workers: self.workers,
            events: self.events,
            output: self.output,
            rotate_size: self.rotate_size,
            rotate_keep: self.rotate_keep,
            tls: TlsOverrides {
                ca: self.tls_ca,
                cert: self.tls_cert,
                key: self.tls_key,
                server_name: self.tls_server_name,
                buffer: self.tls_buffer,
            },
            rules: self.rules,
            stats_interval: self.stats_interval,
            sensor_name: self.sensor_name,
            no_connection_summaries: self.no_connection_summaries,
            no_analytics: self.no_analytics,
            ..Overrides::default()
        }
    }
}

/// A failure and the exit status it maps to.
enum Failure {
    Usage(anyhow::Error),
    Runtime(anyhow::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Failure::Usage(e)) => {
            report(&e);
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            report(&e);
            ExitCode::from(1)
        }
    }
}

fn report(e: &anyhow::Error) {
    let _ = writeln!(io::stderr(), "c2tap: {e:#}");
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Replay { inputs, common } => {
            let cfg = RuntimeConfig::load(common.overrides()).map_err(Failure::Usage)?;
            c2tap_app::replay(&cfg, &inputs)
        }
        Command::Live {
            interface,
            filter,
            snaplen,
            buffer_mib,
            no_promiscuous,
            user,
            common,
        } => {
            let mut o = common.overrides();
            o.interface = interface;
            o.filter = filter;
            o.snaplen = snaplen;
            o.buffer_mib = buffer_mib;
            o.no_promiscuous = no_promiscuous;
            let cfg = RuntimeConfig::load(o).map_err(Failure::Usage)?;
            c2tap_app::live(&cfg, user.as_deref())
        }
        Command::Rules { command } => match command {
            RulesCommand::Check { rules } => c2tap_app::rules_check(&rules),
            RulesCommand::Coverage {
                rules,
                technique,
                format,
            } => c2tap_app::rules_coverage(
                &rules,
                technique.as_deref(),
                matches!(format, Format::Json),
            ),
            RulesCommand::Test { rules, events } => c2tap_app::rules_test(&rules, &events),
        },
    }
}

/// The glue between the command line and the library, kept apart from parsing.
mod c2tap_app {
    use std::path::Path;
    use std::sync::Arc;

    use anyhow::{Context, anyhow};
    use c2tap::capture::{Live, LiveConfig, Replay, Source};
    use c2tap::decode::LinkType;
    use c2tap::detect::Engine;
    use c2tap::detect::tools::{self, coverage};
    use c2tap::output::Sink;
    use c2tap::pipeline::shutdown::Signals;
    use c2tap::pipeline::writer::WriterEnd;
    use c2tap::pipeline::{self, Mode};
    use c2tap::privdrop::Target;

    use super::*;

    pub fn replay(cfg: &RuntimeConfig, inputs: &[PathBuf]) -> Result<ExitCode, Failure> {
        let engine = load_engine(&cfg.rules)?;
        let sink = Sink::open(&cfg.output).map_err(|e| Failure::Usage(e.into()))?;
        let signals = Signals::install().map_err(|e| Failure::Runtime(e.into()))?;
        let mut source =
            Replay::open(inputs, LinkType::is_supported).map_err(|e| Failure::Runtime(e.into()))?;
        let report = pipeline::run(cfg, Mode::Replay, &mut source, engine, sink, &signals);
        // A replay that decoded little of its input must say so: the events alone
        // cannot tell an empty capture from one c2tap could not walk.
        if let Some(notice) = c2tap::telemetry::undecoded_notice(&report.totals) {
            let _ = writeln!(io::stderr(), "c2tap: {notice}");
        }
        finish(report)
    }

    /// With `user`, the capture is opened as root, then the process becomes `user`, and
    /// only then is the output opened: the user who reopens it on SIGHUP created it.
    pub fn live(cfg: &RuntimeConfig, user: Option<&str>) -> Result<ExitCode, Failure> {
        let Some(interface) = cfg.live.interface.clone() else {
            return Err(Failure::Usage(anyhow!(
                "live capture needs -i IFACE (or [live] interface in the config)"
            )));
        };
        let target = user
            .map(Target::resolve)
            .transpose()
            .map_err(|e| Failure::Usage(e.into()))?;
        let engine = load_engine(&cfg.rules)?;
        let signals = Signals::install().map_err(|e| Failure::Runtime(e.into()))?;
        let live = LiveConfig {
            interface,
            bpf: cfg.live.filter.clone(),
            snaplen: cfg.live.snaplen,
            buffer_size: cfg.live.buffer_bytes,
            promiscuous: cfg.live.promiscuous,
            ..LiveConfig::default()
        };
        let mut source: Box<dyn Source> = Box::new(
            Live::open(&live, LinkType::is_supported).map_err(|e| Failure::Runtime(e.into()))?,
        );
        if let Some(target) = &target {
            target.switch().map_err(|e| Failure::Runtime(e.into()))?;
        }
        let sink = Sink::open(&cfg.output).map_err(|e| Failure::Usage(e.into()))?;
        finish(pipeline::run(
            cfg,
            Mode::Live,
            source.as_mut(),
            engine,
            sink,
            &signals,
        ))
    }

    /// Loads the rules (the built-in set when none is given). A rule that fails to
    /// load is reported and skipped; rules given by the user that all fail are a
    /// usage error.
    fn load_engine(rules: &[PathBuf]) -> Result<Arc<Engine>, Failure> {
        let (engine, failures) = Engine::load(rules);
        for f in &failures {
            let _ = writeln!(
                io::stderr(),
                "c2tap: rule skipped: {}: {}",
                f.path,
                f.reason
            );
        }
        if !rules.is_empty() && engine.stats().active == 0 {
            return Err(Failure::Usage(anyhow!(
                "no usable rule in {}",
                rules
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Arc::new(engine))
    }

    /// Maps how a run ended to the exit status; the error comes after everything
    /// parsed before it was written.
    fn finish(report: pipeline::RunReport) -> Result<ExitCode, Failure> {
        // The stop SensorState went out before the sink's last flush: the final count
        // is only known here.
        let drops = report.totals.get(c2tap::telemetry::Counter::OutputDrops);
        if drops > 0 {
            let _ = writeln!(
                io::stderr(),
                "c2tap: {drops} events dropped at the output (output_drops)"
            );
        }
        match report.writer {
            WriterEnd::Done | WriterEnd::BrokenPipe => {}
            WriterEnd::Failed(e) => return Err(Failure::Runtime(e.into())),
        }
        match report.capture_error {
            Some(e) => Err(Failure::Runtime(e.into())),
            None => Ok(ExitCode::SUCCESS),
        }
    }

    pub fn rules_check(rules: &[PathBuf]) -> Result<ExitCode, Failure> {
        let mut out = io::stdout().lock();
        let status =
            c2tap::detect::tools::check(rules, &mut out).map_err(|e| Failure::Runtime(e.into()))?;
        Ok(exit(status))
    }

    pub fn rules_coverage(
        rules: &[PathBuf],
        technique: Option<&str>,
        json: bool,
    ) -> Result<ExitCode, Failure> {
        let mut out = io::stdout().lock();
        let format = if json {
            coverage::Format::Json
        } else {
            coverage::Format::Text
        };
        let status = c2tap::detect::tools::coverage(rules, technique, format, &mut out)
            .map_err(|e| Failure::Runtime(e.into()))?;
        Ok(exit(status))
    }

    pub fn rules_test(rules: &[PathBuf], events: &Path) -> Result<ExitCode, Failure> {
        let mut out = io::stdout().lock();
        let mut input: Box<dyn io::BufRead> = if events == Path::new("-") {
            Box::new(io::stdin().lock())
        } else {
            let f = std::fs::File::open(events)
                .with_context(|| format!("{}", events.display()))
                .map_err(Failure::Usage)?;
            Box::new(io::BufReader::new(f))
        };
        let status = c2tap::detect::tools::test(rules, &mut input, &mut out)
            .map_err(|e| Failure::Runtime(e.into()))?;
        Ok(exit(status))
    }

    fn exit(status: tools::ExitStatus) -> ExitCode {
        ExitCode::from(status.code() as u8)
    }
}
