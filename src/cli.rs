//! Command-line definitions. The doc comments are the help text.
//!
//! Only the binary's edge (`app::settings`) reads these types: the value enums here are clap's
//! view of library enums, mapped there, so the library does not depend on clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::report::time::TimeFormat;

/// Audit Skype for Business / Lync Edge Server captures.
#[derive(Debug, Parser)]
#[command(
    name = "edgewise",
    version,
    about,
    long_about = None,
    disable_version_flag = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print the version. `-v` as in tshark, whose `-V` means packet details.
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the flows (conversations) of one or more captures, with the packet accounting.
    Flows(FlowsArgs),
    /// Judge every flow against the documented Edge port matrix for your topology.
    Audit(AuditArgs),
    /// Print the documented flows your topology needs, as a firewall change request per
    /// firewall with your addresses, each flow citing the documents that describe it.
    Matrix(MatrixArgs),
    /// Topology files: write a commented template, or check one.
    #[command(subcommand)]
    Topology(TopologyCommand),
    /// Group the flows of earlier `--format parquet` outputs (many captures, many sites):
    /// flows, packets and bytes per group (needs the `analytics` build feature).
    Summary(SummaryArgs),
    /// Write synthetic Edge captures (the bundled samples, test and benchmark captures).
    Generate(GenerateArgs),
    /// Browse the audit of captures interactively in the terminal.
    Tui(TuiArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) to standard output.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff) to standard output: `edgewise man audit | man -l -`; or write
    /// every page into a directory with --dir.
    Man {
        /// The subcommand whose page to print (audit, flows, matrix...); none: the tool's page.
        subcommand: Option<String>,
        /// Write edgewise.1 and edgewise-SUBCOMMAND.1 for every subcommand into DIR.
        #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// The site's topology file. Without it, the bundled sample topology is assumed.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Refused: `-t` is tshark's time format, and the TUI has no time column.
    #[arg(short = 't', value_name = "FORMAT", hide = true)]
    pub time_format: Option<String>,
}

#[derive(Debug, Args)]
#[command(mut_arg("inputs", |a| a.required(false).required_unless_present_any(["log", "interface", "netflow"])))]
pub struct AuditArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Audit a firewall log instead of captures (`-r FILE` does the same, telling a log by its
    /// content): Windows Firewall pfirewall.log, Cisco ASA/FTD syslog, PAN-OS TRAFFIC CSV,
    /// FortiGate key=value, Linux netfilter LOG lines of iptables or nftables (kern.log,
    /// journald, dmesg), pfSense/OPNsense filterlog, CEF or LEEF of any vendor, Check Point Log
    /// Exporter syslog or Zeek conn.log, gzip allowed. Windows Firewall logs neither dropped
    /// packets nor successful connections by default: enable both first.
    #[arg(long, value_name = "FILE", conflicts_with = "inputs")]
    pub log: Option<PathBuf>,
    /// Audit the flows NetFlow v5/v9 or IPFIX exporters sent: FILE is a capture (pcap, pcapng)
    /// of their export datagrams, whatever the port (`-r FILE` does the same when the capture
    /// holds mostly exports to a collector port); udp://ADDRESS:PORT collects them live until
    /// Ctrl-C or --duration.
    #[arg(long, value_name = "FILE|udp://ADDR:PORT", conflicts_with_all = ["inputs", "log"])]
    pub netflow: Option<String>,
    /// The log's format (with --log, or a log given to -r); detected from its first lines when
    /// omitted. Syslog times without a year (netfilter, filterlog, and CEF, LEEF or Check Point
    /// behind a BSD header) are taken in the year of the file's last modification, or the year
    /// before for a date after it.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// The firewall's clock, for logs that write local time without a zone: a UTC offset
    /// (+01:00, -05:30), the same for every line, or a time zone name (Europe/Berlin,
    /// America/New_York), whose daylight-saving changes apply at each line's date. Default:
    /// the times are read as UTC. The report says which was used.
    #[arg(
        long,
        visible_alias = "tz",
        value_name = "+HH:MM|ZONE",
        allow_hyphen_values = true
    )]
    pub tz_offset: Option<String>,
    /// The site's topology file (see `edgewise topology init`). Without it, the bundled sample
    /// topology is assumed, and the report says so. (No short form: `-t` is tshark's time
    /// format.)
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    #[command(flatten)]
    pub out: OutputArgs,
    /// What makes the exit status 1.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Browse the audit in the terminal UI instead of writing the report.
    #[arg(long)]
    pub tui: bool,
}

/// `--log-format`; maps to [`crate::logs::LogFormat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Windows Firewall `pfirewall.log` (W3C extended, `#Fields` header).
    Pfirewall,
    /// Cisco ASA / Firepower Threat Defense syslog (302013-302016, 106001, 106015, 106023, 106100).
    Asa,
    /// Palo Alto PAN-OS TRAFFIC log, syslog CSV.
    Panos,
    /// Fortinet FortiGate traffic log, `key=value`.
    Fortigate,
    /// Zeek `conn.log`, tab-separated with `#fields` header.
    ZeekTsv,
    /// Zeek `conn.log`, one JSON object a line.
    ZeekJson,
    /// A capture (pcap, pcapng) of NetFlow v5/v9 or IPFIX export datagrams, read at any port.
    Netflow,
    /// nfdump's CSV output (`nfdump -r nfcapd.FILE -o csv`).
    NfdumpCsv,
    /// Linux netfilter LOG lines (iptables/ip6tables `-j LOG`, nftables `log`) from the kernel
    /// log; the log prefix's words (DROP, REJECT, ACCEPT...) give the decision. Also
    /// `iptables`, `nftables`.
    #[value(alias = "iptables", alias = "nftables")]
    Netfilter,
    /// pfSense / OPNsense `filterlog` CSV lines (BSD or RFC 5424 syslog header). Also
    /// `pfsense`, `opnsense`.
    #[value(alias = "pfsense", alias = "opnsense")]
    Filterlog,
    /// ArcSight Common Event Format (`CEF:0|Vendor|Product|...`) of any vendor, behind a syslog
    /// header or none; `act` gives the decision (accept, allow, deny, drop, reject...). Also
    /// `arcsight`.
    #[value(alias = "arcsight")]
    Cef,
    /// QRadar Log Event Extended Format 1.0 or 2.0 (`LEEF:2.0|Vendor|Product|...`) of any
    /// vendor; `action` gives the decision. Also `qradar`.
    #[value(alias = "qradar")]
    Leef,
    /// Check Point Log Exporter syslog (`CheckPoint ... [action:"Drop"; src:"..."; ...]`). Also
    /// `check-point`.
    #[value(alias = "check-point")]
    Checkpoint,
}

/// `--fail-on`; maps to [`crate::audit::FailOn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any flow the matrix does not permit, or an error finding (the default: a broken
    /// federation fails even when every flow is permitted).
    Error,
    /// As `error`, and warning findings too.
    Warning,
    /// Only flows the matrix does not permit; findings never fail.
    Violation,
    /// Only an internal NAT hairpin.
    Hairpin,
    /// Never: exit 0 whatever the verdicts and findings (damaged input still exits 3).
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Text,
    Json,
    /// JSON Lines: one object per line, tagged by "type": every flow with its judgement as it
    /// is written, then each finding and call, then the summary (tallies, coverage, inputs).
    Jsonl,
    /// Zeek conn.log (TSV) with the judgement's columns after Zeek's.
    Zeek,
    /// Zeek conn.log as JSON lines, with the judgement's fields.
    ZeekJson,
    /// The flow table with the verdict's columns, one row per flow; with -o FILE the findings
    /// go to FILE.findings.csv beside it.
    Csv,
    /// Parquet (needs -o FILE and the `analytics` build feature): the flow table in FILE, the
    /// findings in FILE.findings.parquet; `edgewise summary` combines many of them.
    Parquet,
    /// One self-contained HTML page (no network access; opens from a mail attachment, prints):
    /// the headline, a map of the Edge with every documented flow, the violations, findings,
    /// traffic over time, call timelines and the first 500 flows.
    Html,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Parquet flow tables written by `edgewise audit|flows --format parquet -o FILE`.
    #[arg(required = true, value_name = "PARQUET")]
    pub files: Vec<PathBuf>,
    /// Columns to group by, comma-separated: site, capture, transport, edge_interface,
    /// edge_service, protocol, verdict, partner, conn_state, responder_port.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "edge_interface,edge_service,verdict"
    )]
    pub by: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    Text,
    Csv,
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// The site's topology file. Without it, the bundled sample topology is assumed.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Refused: `-t` is tshark's time format; the topology is `--topology FILE`.
    #[arg(short = 't', value_name = "FORMAT", hide = true)]
    pub time_format: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = MatrixFormat::Text)]
    pub format: MatrixFormat,
    /// List the documents the matrix is read from (title, product, what each covers, the
    /// tables read) instead of the firewall rules.
    #[arg(long)]
    pub sources: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MatrixFormat {
    Text,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum TopologyCommand {
    /// Write a commented template topology (the sample site) to a file or standard output.
    Init {
        /// File to write; standard output if omitted.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check a topology file and print what edgewise understood of it.
    Check {
        /// The topology file.
        file: PathBuf,
    },
    /// Write a starting topology inferred from captures: the Edge's addresses by role, the
    /// Front End pool, client and server subnets, federation partners, each line commented
    /// with what it was inferred from and how sure.
    Infer {
        /// Capture to read (pcap or pcapng, gzip allowed), a directory of them, or - for
        /// standard input. Repeat for several.
        #[arg(short = 'r', long = "read", value_name = "CAPTURE", required = true, num_args = 1..)]
        inputs: Vec<String>,
        /// File to write; standard output if omitted.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        /// Do not show a progress bar.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
}

/// Reading captures.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Capture to read: a pcap or pcapng file (gzip allowed), a directory of them, or - for
    /// standard input. Repeat -r for several. A firewall or flow log (pfirewall.log, ASA/FTD,
    /// PAN-OS, FortiGate, netfilter LOG lines, pfSense/OPNsense filterlog, CEF, LEEF, Check
    /// Point Log Exporter, Zeek conn.log) is told by its content and read on its own.
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        required_unless_present = "interface",
        num_args = 1..
    )]
    pub inputs: Vec<String>,
    /// Capture live from this network interface instead of reading files (needs the `live`
    /// build feature and the right to capture). Ends on Ctrl-C, --duration or --count, with the
    /// same report as a file.
    #[arg(
        short = 'i',
        long = "interface",
        value_name = "IFACE",
        conflicts_with = "inputs"
    )]
    pub interface: Option<String>,
    /// BPF capture filter for -i, as tcpdump writes it ("host 10.45.16.10 and port 5061").
    #[arg(
        short = 'f',
        long = "capture-filter",
        value_name = "BPF",
        requires = "interface"
    )]
    pub capture_filter: Option<String>,
    /// With -i (or audit --netflow udp://): stop after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = at_least_one)]
    pub duration: Option<u64>,
    /// Stop after this many packets, as tshark's -c: with -r, the first N packets read (across
    /// every input, in order); with -i, N packets captured.
    #[arg(short = 'c', long, value_name = "N", value_parser = at_least_one)]
    pub count: Option<u64>,
    /// Most flows held open at once (1 to 100,000,000); the least recently seen are finished
    /// beyond this.
    #[arg(long, default_value_t = 1_000_000, value_name = "N", value_parser = max_flows)]
    pub max_flows: usize,
    /// Threads that read capture files (0: one per core, up to 8). With more than one the flow
    /// tables are sharded by address pair, counted together against --max-flows; the report
    /// is the same.
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = threads)]
    pub threads: usize,
    /// Do not show a progress bar (it is shown only when standard error is a terminal).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display filter over the flows, like tshark's -Y, applied after the analysis (the
    /// accounting still covers every packet): `ip == 10.45.16.0/24 and port in {443, 5061}`,
    /// `verdict != permitted && interface == internal`, `not state == SF`. Fields: ip, ip.src,
    /// ip.dst, port, port.src, port.dst, transport, payload, state, packets, bytes, duration,
    /// and with `audit`: documented, interface, service, verdict, severity, and `blocked` alone
    /// (a firewall log denied the flow on every line); protocol matches payload or documented.
    /// Wireshark's names work where a flow can answer them: ip.addr, ipv6.addr/.src/.dst, ip.proto, tcp.port, udp.port,
    /// tcp.srcport, tcp.dstport, udp.srcport, udp.dstport, frames,
    /// tls.handshake.extensions_server_name; `tcp`, `udp`, `icmp`, `ip`, `ipv6`, `tls`, `stun`,
    /// `rtp`, `sip`... alone test presence; `contains` and `matches` (or `~`) test text.
    #[arg(short = 'Y', long = "display-filter", value_name = "EXPR")]
    pub display_filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct FlowsArgs {
    #[command(flatten)]
    pub read: ReadArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FlowsFormat::Text)]
    pub format: FlowsFormat,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Where the report and the packets go, and how times are shown: tshark's options where tshark
/// has one (`-w`, `-t`), so that its users' habits do what they expect.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write the packets of the flows shown (all, or those -Y keeps) to this pcapng file, as
    /// tshark's -w does: `-Y 'verdict != permitted' -w bad.pcapng` hands the violating flows to
    /// Wireshark. `-` writes to standard output (then the report needs -o). Capture files only:
    /// the packets are read again from them.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Add a start-time column to the text flows table, in tshark's -t formats: a, ad, adoy
    /// (local time, with date, with day of year), u, ud, udoy (the same in UTC), r (seconds
    /// since the first packet), e (seconds since the epoch).
    #[arg(short = 't', long = "time-format", value_name = "FORMAT", value_parser = TimeFormat::parse)]
    pub time_format: Option<TimeFormat>,
    /// Text report: every flow and every column, nothing wrapped. By default the report fits 100
    /// columns, wraps long sentences, and lists a few example flows of each kind of violation.
    #[arg(long)]
    pub wide: bool,
}

/// `flows --format`; maps to [`crate::report::Format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FlowsFormat {
    /// A conversation table, like `tshark -z conv`, with the packet accounting.
    Text,
    /// One JSON document: inputs, interfaces, flows, accounting.
    Json,
    /// One JSON object per flow per line, then one summary object.
    Jsonl,
    /// One row per flow.
    Csv,
    /// Zeek conn.log, TSV with its `#` header (zeek-cut, Tenzir, SIEM Zeek parsers).
    Zeek,
    /// Zeek conn.log as JSON, one object per line (Zeek's `LogAscii::use_json=T`).
    ZeekJson,
    /// Parquet (needs -o FILE and the `analytics` build feature).
    Parquet,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Scenario to write (see --list), `bulk` for a large benchmark capture, `busy` for a
    /// capture shaped like a busy Edge (see --shape), or `log` for a busy Edge's day as a
    /// firewall log (see --format).
    #[arg(required_unless_present = "list")]
    pub scenario: Option<String>,
    /// File to write (`-` for standard output with `busy` and `log`).
    #[arg(short = 'o', long, required_unless_present = "list")]
    pub output: Option<PathBuf>,
    /// Container format.
    #[arg(long, value_enum, default_value_t = ContainerFormat::Pcapng)]
    pub container: ContainerFormat,
    /// With `bulk`: approximate size in MB (default 100). With `busy`: overrides the shape's
    /// size.
    #[arg(long)]
    pub size_mb: Option<u64>,
    /// With `bulk` and `busy`: seed of the deterministic generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// With `busy`: the preset. calls: 300 MB, 10,000 flow slots, a federation pool and hundreds
    /// of concurrent calls; flows: 300 MB with about 650,000 distinct flows; large: about 2 GB
    /// of the calls mix; distinct: --flows flows of 1-2 packets each.
    #[arg(long, value_parser = ["calls", "flows", "large", "distinct"], default_value = "calls")]
    pub shape: String,
    /// With `busy`: concurrent flow slots (overrides the shape's).
    #[arg(long, value_name = "N")]
    pub concurrent: Option<usize>,
    /// With `busy --shape distinct`: how many flows to write (default 10,000,000). With `log`:
    /// how many distinct flows the lines hold (default one for every 25 lines).
    #[arg(long, value_name = "N")]
    pub flows: Option<u64>,
    /// With `log`: the firewall's format, pfirewall (Windows Firewall on the Edge) or asa
    /// (Cisco ASA syslog).
    #[arg(long, value_name = "FORMAT", value_parser = ["pfirewall", "asa"])]
    pub format: Option<String>,
    /// With `log`: lines to write, header lines included (default 1,000,000).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub lines: Option<u64>,
    /// With `busy`: write the calls' ground truth as JSON Lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// List the scenarios.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ContainerFormat {
    Pcap,
    PcapNano,
    Pcapng,
}

/// A count or a time that must be positive: 0 would end the run before it starts.
fn at_least_one(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
}

/// `--max-flows`: 0 would finish every flow after each packet and split every connection;
/// beyond 100 million the table alone outgrows any machine this runs on.
fn max_flows(s: &str) -> Result<usize, String> {
    const MOST: u64 = 100_000_000;
    match at_least_one(s)? {
        n if n > MOST => Err(format!(
            "{n} is beyond reason: at most {MOST} flows are held open (each costs about 1 KB)"
        )),
        n => usize::try_from(n).map_err(|_| format!("{n} is too large for this machine")),
    }
}

/// `--threads`: 0 means one per core.
fn threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n <= 64 => Ok(n),
        Ok(n) => Err(format!(
            "{n} threads is beyond reason: use 0 (one per core) or at most 64"
        )),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
}
