//! captures/README.md says how many packets and flows each bundled capture holds: the table is
//! checked against what `edgewise flows --format json` reads, and lists every capture shipped.

use std::collections::BTreeMap;
use std::path::Path;

use crate::util::flows_json;

/// The README's table: file name -> (packets, flows).
fn readme_counts() -> BTreeMap<String, (u64, u64)> {
    let text = std::fs::read_to_string("captures/README.md").expect("captures/README.md");
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let (Some(name), Some(packets), Some(flows)) = (
            cells.first(),
            cells.get(cells.len().wrapping_sub(2)),
            cells.last(),
        ) else {
            continue;
        };
        let number = |s: &str| -> u64 {
            s.replace(',', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name}: `{s}` is not a count in: {line}"))
        };
        rows.insert(
            name.trim_matches('`').to_string(),
            (number(packets), number(flows)),
        );
    }
    rows
}

#[test]
fn the_captures_readme_counts_what_edgewise_reads() {
    let rows = readme_counts();
    assert!(rows.len() >= 9, "{rows:?}");
    let mut wrong = Vec::new();
    for (name, (packets, flows)) in &rows {
        let (json, code) = flows_json(&Path::new("captures").join(name));
        assert_eq!(code, 0, "{name}");
        let read = (
            json["accounting"]["packets"].as_u64().unwrap_or(0),
            json["flows"].as_array().map_or(0, |f| f.len() as u64),
        );
        if read != (*packets, *flows) {
            wrong.push(format!(
                "{name}: the README says {packets} packets and {flows} flows, edgewise reads {} and {}",
                read.0, read.1
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every capture shipped is in the table.
    for entry in std::fs::read_dir("captures").expect("captures/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".pcapng") || name.ends_with(".pcap") {
            assert!(
                rows.contains_key(&name),
                "{name} is not in captures/README.md"
            );
        }
    }
}
