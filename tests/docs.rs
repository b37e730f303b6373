//! docs/FINDINGS.md against the code: every finding id the checks raise and every verdict label
//! has its entry, and no entry names an id the code no longer raises.
//!
//! The finding ids are read from the sources of `src/diagnose/`: a string literal shaped like an
//! id (`F1`, `CRL1`, `FW2`) counts as raised when it is the `id` field of a `Finding { .. }`
//! literal, or the argument a helper function of those files receives as its `id` parameter
//! (`push(d, "F1", ..)`, `finding("A13", ..)`), conditional expressions included
//! (`if hlb { "N4" } else { "N2" }`). Any other id-shaped literal there fails the test, so that a
//! new way of building findings cannot slip past it unseen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use edgewise::app::exit;
use edgewise::audit::Answer;
use edgewise::judge::Verdict;

/// Id-shaped literals in src/diagnose that are not finding ids. Empty: add one here only when
/// a literal that is not an id happens to look like one (`"SHA1"`).
const NOT_FINDING_IDS: &[&str] = &[];

const DOC: &str = "docs/FINDINGS.md";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `[A-Z]{1,3}[0-9]{1,2}`, the whole string.
fn is_id(s: &str) -> bool {
    let letters = s.bytes().take_while(u8::is_ascii_uppercase).count();
    let digits = s.len() - letters;
    (1..=3).contains(&letters)
        && (1..=2).contains(&digits)
        && s[letters..].bytes().all(|b| b.is_ascii_digit())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(String),
    Ident(String),
    Punct(char),
}

/// A token and the line it starts on.
type Token = (Tok, usize);

/// Rust source as tokens: comments, whitespace, numbers, char literals and lifetimes dropped;
/// string literals (plain, raw, byte) kept with their text.
fn tokens(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0usize, 1usize, Vec::new());
    let count_lines = |from: usize, to: usize| c[from..to].iter().filter(|&&x| x == '\n').count();
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let (start, mut depth) = (i, 0usize);
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += count_lines(start, i.min(c.len()));
        } else if ch == '"' {
            let start = i;
            let mut text = String::new();
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                if let Some(x) = c.get(i) {
                    text.push(*x);
                }
                i += 1;
            }
            i += 1;
            out.push((Tok::Str(text), line));
            line += count_lines(start, i.min(c.len()));
        } else if ch == 'b' && c.get(i + 1) == Some(&'"') {
            i += 1; // a byte string: the string that follows is read as one
        } else if ch == 'r' && {
            let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
            c.get(i + 1 + hashes) == Some(&'"')
        } {
            // r"..", r#".."#: a raw string ends at a quote followed by as many hashes.
            let start = i;
            let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
            i += 2 + hashes;
            let from = i;
            while i < c.len()
                && !(c[i] == '"'
                    && c[i + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&x| x == '#')
                        .count()
                        == hashes)
            {
                i += 1;
            }
            out.push((Tok::Str(c[from..i.min(c.len())].iter().collect()), line));
            i += 1 + hashes;
            line += count_lines(start, i.min(c.len()));
        } else if ch == '\'' {
            // A char literal ('x', '\n', '\u{1}') or a lifetime ('a, 'static).
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let from = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            if !ch.is_ascii_digit() {
                out.push((Tok::Ident(c[from..i].iter().collect()), line));
            }
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

fn is_punct(t: Option<&Token>, p: char) -> bool {
    matches!(t, Some((Tok::Punct(x), _)) if *x == p)
}

fn is_ident(t: Option<&Token>, name: &str) -> bool {
    matches!(t, Some((Tok::Ident(x), _)) if x == name)
}

/// The index just past the bracket closing the one opened at `open`.
fn close(toks: &[Token], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, (t, _)) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// The comma-separated parts between the bracket at `open` and its match. `angles` also nests
/// `<..>` (for parameter types; not for arguments, where `<` compares).
fn parts(toks: &[Token], open: usize, angles: bool) -> Vec<&[Token]> {
    let end = close(toks, open) - 1;
    let (mut out, mut depth, mut from, mut k) = (Vec::new(), 0i32, open + 1, open + 1);
    while k < end {
        match &toks[k].0 {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => depth -= 1,
            Tok::Punct('-') if angles && is_punct(toks.get(k + 1), '>') => k += 1,
            Tok::Punct('<') if angles => depth += 1,
            Tok::Punct('>') if angles => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                out.push(&toks[from..k]);
                from = k + 1;
            }
            _ => {}
        }
        k += 1;
    }
    if from < end {
        out.push(&toks[from..end]);
    }
    out
}

/// The tokens without `#[cfg(test)]` items.
fn without_tests(toks: Vec<Token>) -> Vec<Token> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        let attr = ["#", "[", "cfg", "(", "test", ")", "]"];
        let is_attr = attr
            .iter()
            .enumerate()
            .all(|(n, want)| match toks.get(k + n) {
                Some((Tok::Punct(p), _)) => want.len() == 1 && want.starts_with(*p),
                Some((Tok::Ident(x), _)) => x == want,
                _ => false,
            });
        if is_attr {
            // Skip to the item's body and past it (or past its `;`).
            let mut j = k + attr.len();
            while j < toks.len() && !is_punct(toks.get(j), '{') && !is_punct(toks.get(j), ';') {
                j += 1;
            }
            k = if is_punct(toks.get(j), '{') {
                close(&toks, j)
            } else {
                j + 1
            };
            continue;
        }
        out.push(toks[k].clone());
        k += 1;
    }
    out
}

/// One source file of src/diagnose, tokenized without its tests.
struct Source {
    path: PathBuf,
    toks: Vec<Token>,
}

fn diagnose_sources() -> Vec<Source> {
    let dir = root().join("src/diagnose");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable source");
            Source {
                toks: without_tests(tokens(&text)),
                path,
            }
        })
        .collect()
}

/// Functions with a parameter named `id`: name -> that parameter's position.
fn id_helpers(toks: &[Token]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for k in 0..toks.len().saturating_sub(2) {
        let (true, Some((Tok::Ident(name), _))) = (is_ident(toks.get(k), "fn"), toks.get(k + 1))
        else {
            continue;
        };
        // Skip generics between the name and the parameters.
        let mut open = k + 2;
        if is_punct(toks.get(open), '<') {
            let mut depth = 0;
            while open < toks.len() {
                if is_punct(toks.get(open), '<') {
                    depth += 1;
                } else if is_punct(toks.get(open), '>') {
                    depth -= 1;
                    if depth == 0 {
                        open += 1;
                        break;
                    }
                }
                open += 1;
            }
        }
        if !is_punct(toks.get(open), '(') {
            continue;
        }
        for (n, p) in parts(toks, open, true).iter().enumerate() {
            let p: Vec<&Tok> = p
                .iter()
                .map(|(t, _)| t)
                .filter(|t| **t != Tok::Ident("mut".into()))
                .collect();
            if p.first() == Some(&&Tok::Ident("id".into())) && p.get(1) == Some(&&Tok::Punct(':')) {
                out.insert(name.clone(), n);
            }
        }
    }
    out
}

/// Every id-shaped string literal in `toks`, with its line.
fn id_literals(toks: &[Token]) -> Vec<(String, usize)> {
    toks.iter()
        .filter_map(|(t, line)| match t {
            Tok::Str(s) if is_id(s) => Some((s.clone(), *line)),
            _ => None,
        })
        .collect()
}

/// The finding ids the code raises, each with where it is raised (file:line).
fn raised_ids(sources: &[Source]) -> BTreeMap<String, String> {
    // Helpers are private to their file, except those of mod.rs, which the others may call.
    let shared: BTreeMap<String, usize> = sources
        .iter()
        .filter(|s| s.path.ends_with("mod.rs"))
        .flat_map(|s| id_helpers(&s.toks))
        .collect();
    let mut out = BTreeMap::new();
    for s in sources {
        let file = s
            .path
            .strip_prefix(root())
            .unwrap_or(&s.path)
            .display()
            .to_string();
        let mut helpers = shared.clone();
        helpers.extend(id_helpers(&s.toks));
        let toks = &s.toks;
        let mut found = |part: &[Token]| {
            for (id, line) in id_literals(part) {
                out.entry(id).or_insert_with(|| format!("{file}:{line}"));
            }
        };
        for k in 0..toks.len() {
            // `Finding { .., id: <expr>, .. }`
            if is_ident(toks.get(k), "Finding")
                && is_punct(toks.get(k + 1), '{')
                && !is_ident(k.checked_sub(1).and_then(|j| toks.get(j)), "struct")
            {
                for field in parts(toks, k + 1, false) {
                    if is_ident(field.first(), "id") && is_punct(field.get(1), ':') {
                        found(&field[2..]);
                    }
                }
            }
            // `helper(.., <id argument>, ..)`
            if let Some((Tok::Ident(name), _)) = toks.get(k) {
                if let Some(&n) = helpers.get(name) {
                    // Not the helper's definition, nor a method of the same name (`v.push(x)`).
                    let before = k.checked_sub(1).and_then(|j| toks.get(j));
                    let call = !is_ident(before, "fn") && !is_punct(before, '.');
                    if call && is_punct(toks.get(k + 1), '(') {
                        if let Some(arg) = parts(toks, k + 1, false).get(n) {
                            found(arg);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Lines of the doc with their 1-based numbers.
fn doc() -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(root().join(DOC)).unwrap_or_else(|e| panic!("{DOC}: {e}"));
    text.lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.to_string()))
        .collect()
}

/// The lines of the `## <title>` section (up to the next `## `).
fn section(lines: &[(usize, String)], title: &str) -> Vec<(usize, String)> {
    let start = lines
        .iter()
        .position(|(_, l)| l.trim_end() == format!("## {title}"))
        .unwrap_or_else(|| panic!("{DOC} has no `## {title}` section"));
    lines[start + 1..]
        .iter()
        .take_while(|(_, l)| !l.starts_with("## "))
        .cloned()
        .collect()
}

/// `### ID Title` headings: id -> (line, the entry's text up to the next heading).
fn finding_entries(lines: &[(usize, String)]) -> BTreeMap<String, Vec<(usize, String)>> {
    let mut out: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (k, (n, l)) in lines.iter().enumerate() {
        let Some(rest) = l.strip_prefix("### ") else {
            continue;
        };
        let id = rest.split_whitespace().next().unwrap_or("");
        if !is_id(id) {
            continue;
        }
        assert!(
            !out.contains_key(id),
            "{DOC}:{n}: a second `### {id}` heading; each finding has one entry"
        );
        let body = lines[k..]
            .iter()
            .skip(1)
            .take_while(|(_, l)| !l.starts_with("## ") && !l.starts_with("### "))
            .cloned();
        out.insert(
            id.to_string(),
            std::iter::once((*n, l.clone())).chain(body).collect(),
        );
    }
    out
}

#[test]
fn every_finding_id_has_an_entry_and_every_entry_a_finding() {
    let sources = diagnose_sources();
    let raised = raised_ids(&sources);
    // The extraction itself: ids of each way of building findings must be among them.
    for (id, how) in [
        ("F1", "push(d, \"F1\", ..) in checks.rs"),
        ("N4", "if hlb { \"N4\" } else { \"N2\" } in checks.rs"),
        ("F4", "Finding { id: \"F4\", .. } in payload.rs"),
        ("A13", "finding(\"A13\", ..) in services.rs"),
        ("T1", "Finding { id: \"T1\", .. } in site.rs"),
        ("FW1", "Finding { id: \"FW1\", .. } in firewall.rs"),
    ] {
        assert!(
            raised.contains_key(id),
            "tests/docs.rs no longer sees {id} raised ({how}): the extraction of finding ids has gone \
             wrong, or the code changed how it builds findings; found {:?}",
            raised.keys().collect::<Vec<_>>()
        );
    }
    // Every id-shaped literal must be understood: a new way of raising findings must not hide
    // its ids from this test.
    let mut unexplained = Vec::new();
    for s in &sources {
        for (id, line) in id_literals(&s.toks) {
            if !raised.contains_key(&id) && !NOT_FINDING_IDS.contains(&id.as_str()) {
                unexplained.push(format!(
                    "{}:{line}: \"{id}\"",
                    s.path.strip_prefix(root()).unwrap_or(&s.path).display()
                ));
            }
        }
    }
    assert!(
        unexplained.is_empty(),
        "these literals look like finding ids, but tests/docs.rs does not see them raised (neither the \
         `id` of a `Finding {{ .. }}` nor the `id` argument of a function that builds one):\n  {}\n\
         If the code raises them in a new way, teach `raised_ids` in tests/docs.rs; if they are not \
         finding ids, list them in NOT_FINDING_IDS there.",
        unexplained.join("\n  ")
    );

    let lines = doc();
    let entries = finding_entries(&section_range(&lines, "Findings"));
    let mut problems = Vec::new();
    for (id, at) in &raised {
        match entries.get(id) {
            None => problems.push(format!(
                "finding {id} (raised at {at}) has no entry in {DOC}: add a `### {id} <title>` heading in its \
                 area under `## Findings` (the topology itself, federation, DNS and certificate revocation, \
                 A/V media, NAT, routing, internal services, firewall logs) with its severity, what fires \
                 it, the topology facts it needs, the usual causes and the fix"
            )),
            Some(body) => {
                if !body.iter().any(|(_, l)| l.contains("**Severity:**")) {
                    problems.push(format!(
                        "{DOC}:{}: the entry of {id} does not give its severity (a `**Severity:**` line)",
                        body[0].0
                    ));
                }
            }
        }
    }
    for (id, body) in &entries {
        if !raised.contains_key(id) {
            problems.push(format!(
                "{DOC}:{}: `{}` names {id}, which src/diagnose/*.rs no longer raises: remove the entry, or \
                 correct its id",
                body[0].0, body[0].1
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The lines from `## <first>` to the end of the document (the findings' areas are `## `
/// sections of their own after it).
fn section_range(lines: &[(usize, String)], first: &str) -> Vec<(usize, String)> {
    let start = lines
        .iter()
        .position(|(_, l)| l.trim_end() == format!("## {first}"))
        .unwrap_or_else(|| panic!("{DOC} has no `## {first}` section"));
    lines[start..].to_vec()
}

#[test]
fn every_verdict_has_an_entry_that_says_whether_it_is_a_violation() {
    let lines = doc();
    let verdicts = section(&lines, "Verdicts");
    let labels: BTreeSet<&str> = Verdict::ALL.iter().map(|v| v.label()).collect();
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let mut problems = Vec::new();
    for v in Verdict::ALL {
        let label = v.label();
        let heading = format!("### `{label}`");
        let Some(k) = verdicts.iter().position(|(_, l)| l.trim_end() == heading) else {
            problems.push(format!(
                "verdict `{label}` (judge::Verdict::ALL) has no entry in {DOC}: add a `{heading}` heading \
                 under `## Verdicts` saying what it means, a `- **Violation:** yes|no` line and an example"
            ));
            continue;
        };
        let body: Vec<&(usize, String)> = verdicts[k + 1..]
            .iter()
            .take_while(|(_, l)| !l.starts_with("### "))
            .collect();
        let want = if v.is_violation() { "yes" } else { "no" };
        let said = body.iter().find_map(|(n, l)| {
            l.trim()
                .strip_prefix("- **Violation:** ")
                .map(|r| (*n, r.trim_end_matches('.')))
        });
        match said {
            Some((_, s)) if s == want => {}
            Some((n, s)) => problems.push(format!(
                "{DOC}:{n}: `{label}` is documented as violation `{s}`, but Verdict::is_violation says `{want}`"
            )),
            None => problems.push(format!(
                "{DOC}:{}: the entry of `{label}` has no `- **Violation:** {want}` line",
                verdicts[k].0
            )),
        }
        if !body.iter().any(|(_, l)| l.starts_with("**Example")) {
            problems.push(format!(
                "{DOC}:{}: the entry of `{label}` has no example",
                verdicts[k].0
            ));
        }
        // The summary table's row, in the words the manual pages print (Verdict::in_short),
        // here and in the README's glossary.
        let row = format!("| `{label}` | {want} | {} |", v.in_short());
        if !verdicts.iter().any(|(_, l)| l.trim_end() == row) {
            problems.push(format!(
                "{DOC}: the verdict table has no row `{row}` (judge::Verdict::in_short)"
            ));
        }
        if !readme.lines().any(|l| l.trim_end() == row) {
            problems.push(format!(
                "README.md: the glossary has no row `{row}` (judge::Verdict::in_short)"
            ));
        }
    }
    for (n, l) in &verdicts {
        if let Some(label) = l.strip_prefix("### `").and_then(|r| r.strip_suffix('`')) {
            if !labels.contains(label) {
                problems.push(format!(
                    "{DOC}:{n}: `{label}` is not a verdict label of judge::Verdict::ALL: remove or rename the entry"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every answer, checked exhaustively so that a new one fails to compile here.
fn answers() -> [Answer; 3] {
    let _exhaustive = |a: Answer| match a {
        Answer::Pass | Answer::Fail | Answer::Incomplete => (),
    };
    [Answer::Pass, Answer::Fail, Answer::Incomplete]
}

#[test]
fn headline_answers_and_exit_statuses_are_documented() {
    let lines = doc();
    let headline = section(&lines, "The headline: PASS, FAIL, INCOMPLETE");
    for a in answers() {
        let heading = format!("### `{}`", a.label());
        assert!(
            headline.iter().any(|(_, l)| l.trim_end() == heading),
            "the headline answer {} (audit::Answer) has no `{heading}` entry under `## The headline` in {DOC}",
            a.label()
        );
    }
    let statuses = section(&lines, "Exit statuses");
    for (code, name) in [
        (0, "success"),
        (exit::FINDINGS, "app::exit::FINDINGS"),
        (exit::UNUSABLE, "app::exit::UNUSABLE"),
        (exit::PARTIAL, "app::exit::PARTIAL"),
    ] {
        let row = format!("| {code} |");
        assert!(
            statuses.iter().any(|(_, l)| l.starts_with(&row)),
            "exit status {code} ({name}) has no row starting `{row}` under `## Exit statuses` in {DOC}"
        );
    }
}

#[test]
fn the_id_extraction_reads_rust_as_rust() {
    let src = r##"
        // push(d, "X1", ..) in a comment is no finding
        /* nor "X2" in a block comment */
        fn push(d: &mut Diagnosis, id: &'static str, sev: Severity, m: BTreeMap<u8, Vec<u8>>) {}
        fn other(x: u8) {}
        fn run() {
            let c = '"';
            push(d, "F1", Severity::Error, m);
            push(d, if hlb { "N4" } else { "N2" }, s, m);
            other("A9");
            d.findings.push(Finding { id: "T1", title: r#"a "quoted" title"#.into(), ..x });
            d.skipped.push(Skipped { id: "R2", title: "t", needs: "n".into() });
        }
        #[cfg(test)]
        mod tests { fn t() { push(d, "Z9", s, m); } }
    "##;
    let toks = without_tests(tokens(src));
    assert_eq!(id_helpers(&toks).get("push"), Some(&1));
    let s = Source {
        path: root().join("src/diagnose/example.rs"),
        toks,
    };
    let raised: Vec<String> = raised_ids(std::slice::from_ref(&s)).into_keys().collect();
    assert_eq!(raised, ["F1", "N2", "N4", "T1"]);
    let all: Vec<String> = id_literals(&s.toks).into_iter().map(|(id, _)| id).collect();
    assert_eq!(all, ["F1", "N4", "N2", "A9", "T1", "R2"]);
    assert!(is_id("CRL1") && is_id("FW12") && !is_id("ABCD1") && !is_id("F123") && !is_id("f1"));
}
