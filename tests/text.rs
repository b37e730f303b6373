//! The text reports as an admin reads them, through the binary: the answer first, violations
//! grouped by kind with a filter that lists the rest, 100 columns, numbers with separators and
//! units, nouns that agree with their counts, documents cited by their titles, and the matrix as
//! a firewall change request.

use crate::util::run;

const TOPOLOGY: &str = "captures/topology.toml";
const WIDTH: usize = 100;

fn stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 report")
}

fn audit_text(capture: &str, extra: &[&str]) -> String {
    let mut args = vec!["audit", "-q", "-r", capture, "--topology", TOPOLOGY];
    args.extend_from_slice(extra);
    stdout(&args)
}

/// Every line fits the terminal: counted in characters, as a terminal shows them.
fn assert_fits(what: &str, text: &str) {
    for (n, line) in text.lines().enumerate() {
        assert!(
            line.chars().count() <= WIDTH,
            "{what}, line {}: {} columns:\n{line}",
            n + 1,
            line.chars().count()
        );
    }
}

/// No output names a document by the data file's key (`000 "Port and firewall planning..."`,
/// `(004, ...`) or points into the repository's research notes.
fn assert_cites_titles(what: &str, text: &str) {
    for key in ["000", "001", "002", "003", "004"] {
        for cited in [
            format!("{key} \""),
            format!("({key},"),
            format!("[{key}]"),
            format!("; {key},"),
        ] {
            assert!(!text.contains(&cited), "{what} cites {cited}:\n{text}");
        }
    }
    for internal in ["seeds/", "research/"] {
        assert!(!text.contains(internal), "{what} names {internal}:\n{text}");
    }
}

/// The text with every run of whitespace (line breaks of wrapped sentences included) one space.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The position of `needle` in `text`, which must hold it.
fn at(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
}

#[test]
fn the_audit_reads_headline_violations_by_kind_findings_then_tallies() {
    let text = audit_text("captures/audit-violations.pcapng", &[]);
    assert!(
        text.starts_with("FAIL: 9 violations, 2 error findings, 2 warnings\n"),
        "{text}"
    );
    let order = [
        "FAIL: ",
        "\nViolations: 9 flows of 9 kinds\n",
        "\nFindings: 2 errors, 2 warnings, 1 info\n",
        "\nTallies\n",
        "\nDocumented flows never seen: ",
        "\nFlows: 11 ",
        "\nPacket accounting\n",
    ];
    let places: Vec<usize> = order.iter().map(|s| at(&text, s)).collect();
    assert!(
        places.windows(2).all(|w| w[0] < w[1]),
        "{order:?} out of order:\n{text}"
    );
    // One heading per kind, its count, the reason beneath once, an example flow.
    let kind = at(
        &text,
        "  wrong-direction: PSOM/MTLS TCP 8057 outbound from the Edge internal interface (internal): 1 flow\n",
    );
    let rest = &text[kind..];
    assert!(
        rest.contains("the documents give only the opposite"),
        "{rest}"
    );
    assert!(
        rest.contains(
            "      e.g. tcp 172.25.33.10:50300 -> 192.168.10.90:8057  14 packets, 4.4 kB, SF"
        ),
        "{rest}"
    );
    assert_fits("audit-violations", &text);
    assert_cites_titles("audit-violations", &text);
    assert!(
        text.contains("Microsoft, \"Edge Server environmental requirements in Skype for Business"),
        "{text}"
    );
    // Singular and plural.
    assert!(
        text.contains("1 flow touches no address of the topology"),
        "{text}"
    );
    for wrong in [" 1 flows", " 1 packets", " 1 violations", " 1 kinds"] {
        assert!(!text.contains(wrong), "{wrong:?} in:\n{text}");
    }
}

#[test]
fn a_busy_capture_lists_each_kind_once_with_a_filter_for_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cap = dir.path().join("busy.pcap");
    let cap = cap.to_str().expect("UTF-8 path");
    let gen = run(&[
        "generate",
        "busy",
        "--shape",
        "flows",
        "--size-mb",
        "2",
        "-o",
        cap,
    ]);
    assert_eq!(
        gen.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let text = audit_text(cap, &[]);
    assert_fits("busy", &text);
    let violations: u64 = {
        let head = text.lines().next().unwrap_or_default();
        let n = head
            .strip_prefix("FAIL: ")
            .and_then(|h| h.split(' ').next())
            .unwrap_or_default();
        assert!(n.contains(','), "thousands separators: {head}");
        n.replace(',', "").parse().expect("a count")
    };
    assert!(violations > 1000, "{violations}");
    // Every violation is in one kind here: one heading, five examples, then the rest counted.
    assert!(
        text.contains(&format!(
            "  wrong-direction: HTTP TCP 80 inbound to the Access Edge (external): {} flows\n",
            separated(violations)
        )),
        "{text}"
    );
    assert_eq!(text.matches("\n           tcp ").count(), 4, "{text}");
    let more = at(&text, "           and ") + 11;
    let more_line: String = text[more..]
        .lines()
        .take(2)
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        more_line.starts_with(&format!("and {} more: -Y '", separated(violations - 5))),
        "{more_line}"
    );
    let filter = more_line
        .split('\'')
        .nth(1)
        .expect("the filter between quotes");
    // The filter is one the binary takes, and it lists exactly that kind's flows.
    let json = stdout(&[
        "audit",
        "-q",
        "-r",
        cap,
        "--topology",
        TOPOLOGY,
        "-Y",
        filter,
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        doc["flows"].as_array().map(Vec::len),
        Some(violations as usize),
        "{filter}"
    );
    // The report stays short, whatever the capture's size.
    assert!(text.lines().count() < 600, "{} lines", text.lines().count());
    assert!(text.contains(" MB") || text.contains(" kB"), "{text}");
    // The flows table: one line a flow; an IPv6 address here and there overflows its own row
    // only (it once widened every row and sent their notes to a second line).
    let flows = stdout(&["flows", "-q", "-r", cap]);
    assert_fits("busy flows", &flows);
    let continued = flows.lines().filter(|l| l.starts_with("      ")).count();
    let rows = flows
        .lines()
        .filter(|l| l.starts_with("tcp ") || l.starts_with("udp "))
        .count();
    assert!(
        rows > 1000 && continued * 100 < rows,
        "{continued} of {rows} rows continued"
    );
    // --wide lists every violating flow and every flow of the table.
    let wide = audit_text(cap, &["--wide"]);
    assert!(
        wide.lines().count() as u64 > violations * 2,
        "{} lines",
        wide.lines().count()
    );
    assert!(
        !wide.contains("lists them"),
        "nothing is left out with --wide"
    );
}

fn separated(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn every_text_report_fits_100_columns() {
    let captures = [
        "captures/edge-sample.pcapng",
        "captures/audit-compliant.pcapng",
        "captures/federation-failing.pcapng",
        "captures/internal-hairpin.pcapng",
        "captures/ip-edge-cases.pcapng",
        "captures/tcp-states.pcapng",
        "captures/link-types.pcapng",
    ];
    for cap in captures {
        let flows = stdout(&["flows", "-q", "-r", cap]);
        assert_fits(cap, &flows);
        let audit = audit_text(cap, &[]);
        assert_fits(cap, &audit);
        assert_cites_titles(cap, &audit);
        assert!(
            audit.starts_with("FAIL: ") || audit.starts_with("PASS: "),
            "{audit}"
        );
    }
    for args in [
        vec!["matrix", "--topology", TOPOLOGY],
        vec!["matrix", "--sources"],
        vec![
            "audit",
            "-q",
            "--log",
            "tests/data/logs/pfirewall.log",
            "--topology",
            TOPOLOGY,
        ],
    ] {
        let text = stdout(&args);
        assert_fits(&args.join(" "), &text);
        assert_cites_titles(&args.join(" "), &text);
    }
}

#[test]
fn the_flows_table_fits_and_wide_gives_every_column() {
    let text = stdout(&["flows", "-q", "-r", "captures/edge-sample.pcapng"]);
    assert!(
        text.starts_with("24 flows from 589 packets (160.0 kB on the wire); "),
        "{text}"
    );
    let header = text
        .lines()
        .find(|l| l.starts_with("proto"))
        .expect("a table header");
    for column in [
        "initiator",
        "responder",
        "pkts ->/<-",
        "bytes",
        "duration",
        "state",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        text.contains("  read                                               589          160,032"),
        "{text}"
    );
    let wide = stdout(&["flows", "-q", "-r", "captures/edge-sample.pcapng", "--wide"]);
    let header = wide
        .lines()
        .find(|l| l.starts_with("proto"))
        .expect("a table header");
    for column in ["pkts->", "bytes->", "<-pkts", "<-bytes", "history"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(header.chars().count() > WIDTH, "{header}");
}

#[test]
fn the_firewall_log_audit_puts_its_headline_first() {
    let text = stdout(&[
        "audit",
        "-q",
        "--log",
        "tests/data/logs/pfirewall.log",
        "--topology",
        TOPOLOGY,
    ]);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("FAIL: ") || first.starts_with("PASS: "),
        "{text}"
    );
    assert!(at(&text, "\nFirewall log: format pfirewall") > 0);
    assert!(
        at(&text, "\nFirewall log: ") < at(&text, "\nAudit of "),
        "{text}"
    );
}

#[test]
fn features_off_and_hosts_out_of_view_are_not_counted_as_never_seen() {
    let text = audit_text("captures/edge-sample.pcapng", &[]);
    let never = at(&text, "\nDocumented flows never seen: ");
    let apart = at(&text, "\nNot expected in this capture: ");
    let table = at(&text, "\nFlows: ");
    let (never, apart) = (&text[never..apart], &text[apart..table]);
    assert!(!never.contains("XMPP"), "{never}");
    assert!(!never.contains("reverse proxy"), "{never}");
    assert!(
        apart.contains("  [features] xmpp is off in captures/topology.toml: 3 flows"),
        "{apart}"
    );
    assert!(
        apart.contains("the capture never shows 10.45.16.40"),
        "{apart}"
    );
    assert!(
        apart.contains("the topology has no Director pool VIP"),
        "{apart}"
    );
    // Placeholders are the site's ports, everywhere.
    assert!(!text.contains('$'), "{text}");
    assert!(
        never.contains("RTP TCP 50000-59999 inbound to the A/V Edge"),
        "{never}"
    );

    // JSON says the same, rule by rule.
    let json = stdout(&[
        "audit",
        "-q",
        "-r",
        "captures/edge-sample.pcapng",
        "--topology",
        TOPOLOGY,
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let rules = doc["never_exercised"].as_array().expect("never_exercised");
    let xmpp = rules
        .iter()
        .find(|r| r["id"] == "ext-xmpp-xmpp-5269-in.dns")
        .expect("the XMPP rule");
    assert_eq!(xmpp["expected"], false);
    assert_eq!(
        xmpp["why"],
        "[features] xmpp is off in captures/topology.toml"
    );
    let dns = rules
        .iter()
        .find(|r| r["id"] == "ext-access-dns-tcp-53-out.dns.s000")
        .expect("DNS over TCP, never seen");
    assert_eq!(dns["expected"], true);
    assert!(dns["why"].is_null());
    assert!(
        dns["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("Microsoft, \"Edge Server environmental requirements")),
        "{dns}"
    );
    for r in rules {
        assert!(
            !r["dst_port"].as_str().unwrap_or("").starts_with('$'),
            "{r}"
        );
    }
}

#[test]
fn the_matrix_is_a_change_request_per_firewall_without_repeats() {
    let text = stdout(&["matrix", "--topology", TOPOLOGY]);
    assert!(
        text.starts_with("Firewall change request for site 'contoso'"),
        "{text}"
    );
    assert_eq!(text.matches("\nExternal firewall (").count(), 1, "{text}");
    assert_eq!(text.matches("\nInternal firewall (").count(), 1, "{text}");
    assert!(at(&text, "\nExternal firewall (") < at(&text, "\nInternal firewall ("));
    // SIP/TLS 443 to the Access Edge is documented by three documents: one row, three citations.
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains("10.45.16.10")
                && l.contains(" TCP ")
                && l.contains(" 443 ")
                && l.contains("inbound")
        })
        .collect();
    assert_eq!(rows.len(), 1, "{rows:#?}\n{text}");
    let sip = &text[at(&text, rows[0])..];
    let sip = &sip[..sip[1..].find("\n  2.").map_or(sip.len(), |i| i + 1)];
    let sip = flat(sip);
    for title in [
        "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\"",
        "Microsoft, \"Port and protocol requirements for servers\"",
        "Jeff Schertz, \"Understanding Lync Edge Server Ports\"",
    ] {
        assert!(sip.contains(title), "{title} in:\n{sip}");
    }
    assert!(sip.contains("row \"Access/SIP(TLS) | TCP | 443"), "{sip}");
    // No placeholder, no repeated flow, and what is not asked for is said apart, with why.
    assert!(!text.contains('$'), "{text}");
    let not = &text[at(&text, "\nNot requested: ")..];
    assert!(
        not.contains("[features] xmpp is off in captures/topology.toml:"),
        "{not}"
    );
    // The numbered rows: `  1.   any ...` in the tables, `   32. XMPP ...` in the rest.
    let mut numbered: Vec<&str> = text
        .lines()
        .filter(|l| l.len() - l.trim_start().len() <= 3)
        .filter(|l| {
            l.trim_start()
                .split(". ")
                .next()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .map(str::trim)
        .collect();
    assert!(numbered.len() >= 36, "{numbered:#?}");
    let count = numbered.len();
    numbered.sort();
    numbered.dedup();
    assert_eq!(numbered.len(), count, "a flow is listed twice:\n{text}");
}

#[test]
fn matrix_sources_lists_the_documents_by_title() {
    let text = flat(&stdout(&["matrix", "--sources"]));
    for title in [
        "\"Edge Server environmental requirements in Skype for Business Server\"",
        "\"Port summary - Scaled consolidated edge with hardware load balancers in Lync Server 2013\"",
        "\"Reference Architecture 1: Port Summary for Single Consolidated Edge\" (Lync Server 2010)",
        "\"Port and protocol requirements for servers\" (Skype for Business Server 2015)",
        "Jeff Schertz, \"Understanding Lync Edge Server Ports\"",
    ] {
        assert!(text.contains(title), "{title}:\n{text}");
    }
    assert!(text.contains("Covers: "), "{text}");
    let json = stdout(&["matrix", "--sources", "--format", "json"]);
    let docs: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let docs = docs.as_array().expect("a list");
    assert_eq!(docs.len(), 5);
    let rules: u64 = docs.iter().filter_map(|d| d["rules"].as_u64()).sum();
    // Every rule cites at least one document; some cite several.
    assert!(rules >= 171, "{rules}");
    for d in docs {
        for field in ["author", "title", "product", "covers", "cited_as"] {
            assert!(
                d[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field}: {d}"
            );
        }
    }
    let csv = stdout(&["matrix", "--sources", "--format", "csv"]);
    assert!(
        csv.starts_with("author,title,product,kind,covers,cited_as,tables,rules,rules_for_site\n")
    );
}

#[test]
fn matrix_json_and_csv_name_the_flow_and_cite_titles() {
    let json = stdout(&["matrix", "--topology", TOPOLOGY, "--format", "json"]);
    let rules: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let rules = rules.as_array().expect("a list");
    assert_eq!(rules.len(), 60);
    for r in rules {
        let doc = r["document"].as_str().unwrap_or_default();
        assert!(
            doc.starts_with("Microsoft, \"") || doc.starts_with("Jeff Schertz, \""),
            "{r}"
        );
        assert!(r["flow"].as_u64().is_some_and(|n| n >= 1), "{r}");
        assert!(
            !r["destination_port"].as_str().unwrap_or("").contains('$'),
            "{r}"
        );
    }
    // The three SIP/TLS 443 rows are one flow.
    let sip: Vec<u64> = rules
        .iter()
        .filter(|r| {
            r["protocol"] == "SIP/TLS"
                && r["destination_port"] == "443"
                && r["interface"] == "external"
        })
        .filter_map(|r| r["flow"].as_u64())
        .collect();
    assert!(sip.len() >= 3, "{sip:?}");
    assert!(sip.iter().all(|f| *f == sip[0]), "{sip:?}");
    let xmpp = rules
        .iter()
        .find(|r| r["id"] == "ext-xmpp-xmpp-5269-in.dns")
        .expect("XMPP");
    assert_eq!(xmpp["requested"], false);
    assert_eq!(
        xmpp["not_requested_because"],
        "[features] xmpp is off in captures/topology.toml"
    );
    let csv = stdout(&["matrix", "--topology", TOPOLOGY, "--format", "csv"]);
    assert!(csv.starts_with(
        "id,interface,protocol,transport,source,source_port,destination,destination_port,direction,verdict,feature,document,note,flow,firewall,requested,not_requested_because\n"
    ));
}

#[test]
fn a_capture_with_every_flow_permitted_says_none_in_a_word() {
    let text = audit_text("captures/audit-compliant.pcapng", &[]);
    assert!(text.contains("\nViolations: none\n"), "{text}");
}
