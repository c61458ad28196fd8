//! The `c2tap` command line: argument parsing, configuration, and exit statuses.
//! Everything else lives in the library; `anyhow` and process exit codes live only here.
//!
//! Exit status (DESIGN §5, README "Exit status"):
//! - 0: every input was read and every line produced was delivered, or the reader of
//!   stdout went away early (`c2tap ... | head`: not an error, for every subcommand).
//! - 1: the command was right but the run failed: an input could not be read (corrupt,
//!   truncated, unreadable, permission denied; a directory's other files are still read),
//!   writing failed (disk full), the output delivered none of the run's lines (a
//!   collector never reached), a replay lost lines at the output, or a rule failed to
//!   load in `rules check`.
//! - 2: the command cannot work as written: a bad flag or value, a config file error,
//!   rules that do not load, a path or interface that does not exist, an unknown
//!   technique.
//!
//! Each message is one line: an error's causes are printed once each ([`report`]).

use std::io::{self, IsTerminal, Write};
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
        /// Also write the analyst's HTML report of the lines written (see `c2tap
        /// report`) to this file at the end.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
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
        /// Bytes captured per frame (64..=262144) [default: 262144, the whole frame]
        #[arg(long, value_name = "BYTES")]
        snaplen: Option<i32>,
        /// Kernel capture buffer in MiB (1..=2047) [default: 64]
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
    /// Write a self-contained HTML page for an analyst from event lines.
    Report {
        /// JSON lines files written by c2tap (or - for standard input).
        #[arg(required = true, value_name = "EVENTS.jsonl|-")]
        inputs: Vec<PathBuf>,
        /// Sigma rules for the coverage view: a file or folder; repeatable. Default:
        /// the built-in set.
        #[arg(short = 'r', long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// The HTML page to write (- for standard output).
        #[arg(short = 'o', long = "output", value_name = "FILE.html")]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load rules, report errors and which fields a network sensor cannot observe.
    Check {
        /// Sigma rules: a file or folder; repeatable. Default: the built-in set.
        #[arg(short = 'r', long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
    },
    /// Summarize what the loaded rules cover for one ATT&CK technique.
    Coverage {
        /// Sigma rules: a file or folder; repeatable. Default: the built-in set.
        #[arg(short = 'r', long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// ATT&CK technique, e.g. T1071.001 (rules tag it attack.t1071.001); one that
        /// no loaded rule carries is an error. Default: every loaded rule.
        #[arg(long, value_name = "ID")]
        technique: Option<String>,
        /// text: tables for people; json: the same data for machines.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Evaluate rules on JSON events; one output line per input event.
    Test {
        /// Sigma rules (and correlations): a file or folder; repeatable. Default: the
        /// built-in set.
        #[arg(short = 'r', long = "rules", value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// JSON lines file, or - for standard input.
        #[arg(value_name = "EVENTS.jsonl|-")]
        events: PathBuf,
        /// Alerts without their techniques' Mappings.
        #[arg(long)]
        no_mappings: bool,
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
    /// Where events go: - (stdout), FILE (appended to, created if missing; its folder
    /// must exist), tls://HOST:PORT (JSON lines over TLS), redis://HOST:PORT/STREAM
    /// (rediss:// for TLS; one XADD per line; password from [redis] in the config or
    /// C2TAP_REDIS_PASSWORD), or kafka://BROKER:PORT[,BROKER:PORT...]/TOPIC (a Kafka
    /// message per line) [default: -]
    #[arg(
        short = 'o',
        long = "output",
        value_name = "-|FILE|tls://HOST:PORT|redis://HOST:PORT/STREAM|kafka://BROKERS/TOPIC"
    )]
    output: Option<String>,
    /// Rotate the output file when it would pass this size (e.g. 100M) [default: never]
    #[arg(long, value_name = "SIZE")]
    rotate_size: Option<String>,
    /// Rotated files to keep, with --rotate-size [default: 5]
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
    /// Kafka output: memory for lines the brokers have not acknowledged (default 64M);
    /// when full, a replay waits and live drops (counted in output_drops).
    #[arg(long, value_name = "SIZE")]
    kafka_buffer: Option<String>,
    /// Which events to write: alerts (events that matched a rule, and SensorState) or
    /// all [default: alerts]
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
    /// Alerts without their techniques' Mappings (VERIS, NIST 800-53, AWS/Azure/GCP).
    #[arg(long)]
    no_mappings: bool,
    /// Any config file key, over the file: analytics.beacon_window=3600,
    /// 'analytics.allow=["*.example.com"]' (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print the summary for people (packets, flows, events, alerts, errors, drops) on
    /// stderr at the end even when stderr is not a terminal (on a terminal it always is).
    #[arg(long)]
    summary: bool,
}

impl Common {
    /// Whether the run ends with the summary for people.
    fn summary_wanted(&self) -> bool {
        self.summary || io::stderr().is_terminal()
    }

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
            kafka_buffer: self.kafka_buffer,
            rules: self.rules,
            stats_interval: self.stats_interval,
            sensor_name: self.sensor_name,
            no_connection_summaries: self.no_connection_summaries,
            no_analytics: self.no_analytics,
            no_mappings: self.no_mappings,
            sets: self.set,
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

/// One line per error: the message, then each cause that the message does not already
/// hold. The library's errors mostly carry their cause in their own text
/// (`{path}: {source}`) and also expose it as `source()`; printing the whole chain
/// blindly showed every OS error twice.
fn report(e: &anyhow::Error) {
    let _ = writeln!(io::stderr(), "c2tap: {}", message(e));
}

fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !msg.contains(&cause) {
            msg.push_str(": ");
            msg.push_str(&cause);
        }
    }
    msg
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Replay {
            inputs,
            report,
            common,
        } => {
            let summary = common.summary_wanted();
            let cfg = RuntimeConfig::load(common.overrides()).map_err(Failure::Usage)?;
            c2tap_app::replay(&cfg, &inputs, summary, report.as_deref())
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
            let summary = common.summary_wanted();
            let mut o = common.overrides();
            o.interface = interface;
            o.filter = filter;
            o.snaplen = snaplen;
            o.buffer_mib = buffer_mib;
            o.no_promiscuous = no_promiscuous;
            let cfg = RuntimeConfig::load(o).map_err(Failure::Usage)?;
            c2tap_app::live(&cfg, user.as_deref(), summary)
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
            RulesCommand::Test {
                rules,
                events,
                no_mappings,
            } => c2tap_app::rules_test(&rules, &events, !no_mappings),
        },
        Command::Report {
            inputs,
            rules,
            output,
        } => c2tap_app::report(&inputs, &rules, &output),
    }
}

/// The command line as typed, for the report's header.
fn command_line() -> String {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The glue between the command line and the library, kept apart from parsing.
mod c2tap_app {
    use std::path::Path;
    use std::sync::Arc;

    use anyhow::{Context, anyhow};
    use c2tap::capture::CaptureError;
    use c2tap::capture::{Live, LiveConfig, Replay, Source};
    use c2tap::decode::LinkType;
    use c2tap::detect::Engine;
    use c2tap::detect::tools::ToolError;
    use c2tap::detect::tools::{self, coverage};
    use c2tap::output::{OutputError, Sink};
    use c2tap::pipeline::shutdown::Signals;
    use c2tap::pipeline::writer::WriterEnd;
    use c2tap::pipeline::{self, Mode};
    use c2tap::privdrop::Target;

    use super::*;

    pub fn replay(
        cfg: &RuntimeConfig,
        inputs: &[PathBuf],
        summary: bool,
        report_page: Option<&Path>,
    ) -> Result<ExitCode, Failure> {
        if let Some(page) = report_page {
            c2tap::report::check_output(page).map_err(report_failure)?;
        }
        let engine = load_engine(&cfg.rules, cfg.mappings)?;
        let mut source = Replay::open(inputs, LinkType::is_supported).map_err(capture_failure)?;
        let sink = Sink::open(&cfg.output).map_err(output_failure)?;
        let signals = Signals::install().map_err(|e| Failure::Runtime(e.into()))?;
        let aggregator = report_page.map(|_| {
            let mut a = Box::new(c2tap::report::Aggregator::default());
            a.begin_input("lines written by this replay");
            a
        });
        let mut report = pipeline::run_with_report(
            cfg,
            Mode::Replay,
            &mut source,
            engine,
            sink,
            &signals,
            aggregator,
        );
        // A replay that decoded little of its input must say so: the events alone
        // cannot tell an empty capture from one c2tap could not walk.
        if let Some(notice) = c2tap::telemetry::undecoded_notice(&report.totals) {
            let _ = writeln!(io::stderr(), "c2tap: {notice}");
        }
        // The page is written even when the run failed: it shows what was parsed.
        let page_result = match (report_page, report.report.take()) {
            (Some(page), Some(agg)) => {
                if agg.malformed > 0 {
                    let _ = writeln!(
                        io::stderr(),
                        "c2tap: the report skipped {} malformed lines of {}",
                        agg.malformed,
                        agg.lines
                    );
                }
                let captures: Vec<String> =
                    inputs.iter().map(|p| p.display().to_string()).collect();
                c2tap::report::finish_replay(&agg, &cfg.rules, &captures, command_line(), page)
            }
            _ => Ok(()),
        };
        let status = finish(report, Mode::Replay, summary)?;
        page_result.map_err(report_failure)?;
        Ok(status)
    }

    fn report_failure(e: c2tap::report::ReportError) -> Failure {
        match e {
            c2tap::report::ReportError::Usage(_) => Failure::Usage(e.into()),
            c2tap::report::ReportError::Io(_) => Failure::Runtime(e.into()),
        }
    }

    /// `c2tap report`: exit 1 when lines were malformed or an input failed midway
    /// (the page is written all the same), 2 when the command cannot work.
    pub fn report(
        inputs: &[PathBuf],
        rules: &[PathBuf],
        output: &Path,
    ) -> Result<ExitCode, Failure> {
        let outcome = c2tap::report::run(inputs, rules, output, command_line(), &mut io::stderr())
            .map_err(report_failure)?;
        Ok(if outcome.malformed > 0 || outcome.failed_inputs > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }

    /// A capture error at start: usage when the input named does not exist.
    fn capture_failure(e: CaptureError) -> Failure {
        if e.is_usage() {
            Failure::Usage(e.into())
        } else {
            Failure::Runtime(e.into())
        }
    }

    /// An output that cannot be opened: usage when its path or settings are wrong.
    fn output_failure(e: OutputError) -> Failure {
        if e.is_usage() {
            Failure::Usage(e.into())
        } else {
            Failure::Runtime(e.into())
        }
    }

    /// With `user`, the capture is opened as root, then the process becomes `user`, and
    /// only then is the output opened: the user who reopens it on SIGHUP created it.
    pub fn live(
        cfg: &RuntimeConfig,
        user: Option<&str>,
        summary: bool,
    ) -> Result<ExitCode, Failure> {
        let Some(interface) = cfg.live.interface.clone() else {
            return Err(Failure::Usage(anyhow!(
                "live capture needs -i IFACE (or [live] interface in the config)"
            )));
        };
        let target = user
            .map(Target::resolve)
            .transpose()
            .map_err(|e| Failure::Usage(e.into()))?;
        let engine = load_engine(&cfg.rules, cfg.mappings)?;
        let signals = Signals::install().map_err(|e| Failure::Runtime(e.into()))?;
        let live = LiveConfig {
            interface,
            bpf: cfg.live.filter.clone(),
            snaplen: cfg.live.snaplen,
            buffer_size: cfg.live.buffer_bytes,
            promiscuous: cfg.live.promiscuous,
            ..LiveConfig::default()
        };
        let mut source: Box<dyn Source> =
            Box::new(Live::open(&live, LinkType::is_supported).map_err(capture_failure)?);
        if let Some(target) = &target {
            target.switch().map_err(|e| Failure::Runtime(e.into()))?;
        }
        let sink = Sink::open(&cfg.output).map_err(output_failure)?;
        finish(
            pipeline::run(cfg, Mode::Live, source.as_mut(), engine, sink, &signals),
            Mode::Live,
            summary,
        )
    }

    /// Loads the rules (the built-in set when none is given). A rule that fails to
    /// load is reported and skipped; rules given by the user that all fail are a
    /// usage error.
    fn load_engine(rules: &[PathBuf], mappings: bool) -> Result<Arc<Engine>, Failure> {
        let opts = c2tap::detect::EngineOptions {
            mappings,
            ..Default::default()
        };
        let (engine, failures) = Engine::load_with(rules, opts);
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

    /// Maps how a run ended to the exit status, after everything parsed was written.
    /// The failed inputs were reported when they happened; a failed output is the
    /// last line.
    fn finish(report: pipeline::RunReport, mode: Mode, summary: bool) -> Result<ExitCode, Failure> {
        if summary {
            let _ = write!(io::stderr(), "{}", report.summary());
        }
        // The stop SensorState went out before the sink's last flush: the final count
        // is only known here.
        let drops = report.totals.get(c2tap::telemetry::Counter::OutputDrops);
        let delivered_nothing = report.delivered_nothing();
        // When nothing arrived, the error line below says it all.
        if drops > 0 && !delivered_nothing {
            let _ = writeln!(
                io::stderr(),
                "c2tap: {drops} of {} lines dropped at the output (output_drops)",
                report.output_lines
            );
        }
        match report.writer {
            WriterEnd::Done | WriterEnd::BrokenPipe => {}
            WriterEnd::Failed(e) => return Err(Failure::Runtime(e.into())),
        }
        if delivered_nothing {
            return Err(Failure::Runtime(anyhow!(
                "the output delivered none of the {} lines this run produced",
                report.output_lines
            )));
        }
        // Replay promises every event: a lost one fails the run. Live counts drops as
        // part of normal operation (DESIGN §1).
        if mode == Mode::Replay && drops > 0 {
            return Ok(ExitCode::from(1));
        }
        Ok(if report.failed_inputs > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }

    /// A tool's error: a closed stdout is success, bad input usage, the rest runtime.
    fn tool_failure(e: ToolError) -> Result<ExitCode, Failure> {
        match e {
            ToolError::Io(io) if io.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
            e @ (ToolError::Usage(_) | ToolError::RuleLoad(_)) => Err(Failure::Usage(e.into())),
            e => Err(Failure::Runtime(e.into())),
        }
    }

    pub fn rules_check(rules: &[PathBuf]) -> Result<ExitCode, Failure> {
        let mut out = io::stdout().lock();
        match c2tap::detect::tools::check(rules, &mut out).and_then(|s| flushed(&mut out, s)) {
            Ok(status) => Ok(exit(status)),
            Err(e) => tool_failure(e),
        }
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
        match c2tap::detect::tools::coverage(rules, technique, format, &mut out)
            .and_then(|s| flushed(&mut out, s))
        {
            Ok(status) => Ok(exit(status)),
            Err(e) => tool_failure(e),
        }
    }

    pub fn rules_test(
        rules: &[PathBuf],
        events: &Path,
        mappings: bool,
    ) -> Result<ExitCode, Failure> {
        let mut out = io::stdout().lock();
        let mut input: Box<dyn io::BufRead> = if events == Path::new("-") {
            Box::new(io::stdin().lock())
        } else {
            let f = std::fs::File::open(events)
                .with_context(|| format!("{}", events.display()))
                .map_err(Failure::Usage)?;
            Box::new(io::BufReader::new(f))
        };
        match c2tap::detect::tools::test_with(rules, mappings, &mut input, &mut out)
            .and_then(|s| flushed(&mut out, s))
        {
            Ok(status) => Ok(exit(status)),
            Err(e) => tool_failure(e),
        }
    }

    /// Flushes stdout so that a closed pipe shows up here, not in a silent drop.
    fn flushed(
        out: &mut dyn Write,
        status: tools::ExitStatus,
    ) -> Result<tools::ExitStatus, ToolError> {
        out.flush()?;
        Ok(status)
    }

    fn exit(status: tools::ExitStatus) -> ExitCode {
        ExitCode::from(status.code() as u8)
    }
}
