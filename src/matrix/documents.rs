//! The documents the matrix is read from, and citations of them a reader can follow.
//!
//! The data file keys each source by a short document key ("000".."004", the order the
//! documents were read in). That key is for the data file only: every output names a document
//! by its author and own title (with the product where the title does not say it), then the
//! table heading and the row as the document writes them, in the style of the findings'
//! citations: `Microsoft, "Edge Server environmental requirements in Skype for Business
//! Server" > Port and firewall planning > External port firewall summary table, row "..."`.

use std::fmt;

use serde::Serialize;

use super::{Basis, Rule, Source};

/// One document of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Document {
    /// The data file's key for it (`sources[].doc`).
    #[serde(skip)]
    pub key: &'static str,
    /// Who published it.
    pub author: &'static str,
    /// Its own title, as it is published.
    pub title: &'static str,
    /// The product and versions it is written for.
    pub product: &'static str,
    /// What kind of text it is.
    pub kind: &'static str,
    /// What it covers, and what edgewise reads of it.
    pub covers: &'static str,
}

/// Every document the matrix cites, in the order of their keys.
pub const DOCUMENTS: [Document; 5] = [
    Document {
        key: "000",
        author: "Microsoft",
        title: "Edge Server environmental requirements in Skype for Business Server",
        product: "Skype for Business Server 2015 and 2019",
        kind: "product documentation",
        covers: "Edge topologies (single, DNS load balanced, hardware load balanced), NAT, DNS \
                 records, certificates, and the external and internal port firewall summary \
                 tables, with the tables for hardware-load-balanced nodes and their virtual IPs.",
    },
    Document {
        key: "001",
        author: "Microsoft",
        title: "Port summary - Scaled consolidated edge with hardware load balancers in Lync \
                Server 2013",
        product: "Lync Server 2013",
        kind: "product documentation",
        covers: "The firewall summary of a hardware-load-balanced Edge pool: the external and \
                 internal interfaces of the nodes and of the virtual IPs, and the load balancer \
                 requirements (no source NAT on A/V).",
    },
    Document {
        key: "002",
        author: "Microsoft",
        title: "Reference Architecture 1: Port Summary for Single Consolidated Edge",
        product: "Lync Server 2010",
        kind: "product documentation (TechNet)",
        covers: "The firewall summary of a single consolidated Edge with example addresses and \
                 source ports, the reverse proxy's firewall rows, and the (in)/(out) \
                 trust-direction convention.",
    },
    Document {
        key: "003",
        author: "Microsoft",
        title: "Port and protocol requirements for servers",
        product: "Skype for Business Server 2015",
        kind: "product documentation",
        covers: "The ports of every internal server role, the hardware load balancer ports and \
                 the client ports; edgewise reads the client rows that touch the Edge and the \
                 load balancer rows \"from reverse proxy\".",
    },
    Document {
        key: "004",
        author: "Jeff Schertz",
        title: "Understanding Lync Edge Server Ports",
        product: "Lync Server 2010 and 2013",
        kind: "article by a Microsoft MVP, with readers' comments",
        covers: "Which Edge service listens on which interface and port, why the 50,000-59,999 \
                 range is opened only on the external A/V side, no NAT between the internal \
                 interface and internal subnets; and the author's answers in the comments.",
    },
];

impl Document {
    /// The document with this data-file key.
    pub fn by_key(key: &str) -> Option<&'static Document> {
        DOCUMENTS.iter().find(|d| d.key == key)
    }

    /// Author and title, with the product where the title does not name it:
    /// `Microsoft, "Port and protocol requirements for servers" (Skype for Business Server 2015)`.
    pub fn name(&self) -> String {
        let product_named = self.product.split(" and ").next().is_some_and(|p| {
            self.title
                .contains(p.trim_end_matches(char::is_numeric).trim())
        });
        if product_named {
            format!("{}, \"{}\"", self.author, self.title)
        } else {
            format!("{}, \"{}\" ({})", self.author, self.title, self.product)
        }
    }
}

/// Where a rule comes from, in words a reader can look up: the document, the heading of the
/// table (or section) and the row (or sentence) as the document writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    pub document: &'static Document,
    /// The table or section heading with its parent heading, the document's title left out.
    pub heading: String,
    /// The row as written (a table) or the sentence quoted (prose, the article, a comment).
    pub quote: String,
    /// A table row, rather than a sentence.
    pub row: bool,
}

/// How much of a row a short citation quotes.
const SHORT_QUOTE: usize = 48;

impl Citation {
    /// Document and heading only: `Microsoft, "..." > Port and firewall planning > ...`.
    pub fn place(&self) -> String {
        if self.heading.is_empty() {
            self.document.name()
        } else {
            format!("{} > {}", self.document.name(), self.heading)
        }
    }

    /// The citation with the start of its row, for a sentence: `... > table, row "Access/SIP(TLS)
    /// | TCP | 443 | Any | ..."`.
    pub fn short(&self) -> String {
        self.with_quote(Some(SHORT_QUOTE))
    }

    fn with_quote(&self, max: Option<usize>) -> String {
        let quote = match max {
            Some(max) => cut_at_cell(&self.quote, max),
            None => self.quote.clone(),
        };
        if quote.is_empty() {
            self.place()
        } else if self.row {
            format!("{}, row \"{quote}\"", self.place())
        } else {
            format!("{}: \"{quote}\"", self.place())
        }
    }
}

impl fmt::Display for Citation {
    /// The whole citation, the row in full.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.with_quote(None))
    }
}

/// `text` cut after the last table cell (or word) that ends within `max` characters, with an
/// ellipsis where it was cut.
fn cut_at_cell(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    let cut = head
        .rfind(" | ")
        .filter(|i| *i > max / 3)
        .or_else(|| head.rfind(' '))
        .unwrap_or(head.len());
    let kept = head[..cut].trim_end_matches([' ', '|', ',', ';', ':']);
    if head[..cut].ends_with(" |") || head[cut..].starts_with(" | ") {
        format!("{kept} | …")
    } else {
        format!("{kept} …")
    }
}

/// A heading as a reader finds it in the document: the document's own title, repeated by the
/// data file at the head of some headings, left out; the comment section's heading ("72
/// thoughts on ...") called what it is.
fn heading_in(doc: &Document, table: &str) -> String {
    table
        .split(" > ")
        .filter(|part| *part != doc.title)
        .map(|part| {
            if part.contains(doc.title) && part.contains("thoughts on") {
                "readers' comments"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(" > ")
}

impl Rule {
    /// Every source of the rule as a citation, in the data file's order (the document a rule was
    /// read from first). A source whose document is not known is left out (a validated matrix
    /// has none).
    pub fn citations(&self) -> Vec<Citation> {
        // `as_written` holds one part per source, `[key] text`, joined by ` || `, in order.
        let parts: Vec<(&str, &str)> = self
            .as_written
            .split(" || ")
            .map(|p| {
                let p = p.trim();
                match p.strip_prefix('[').and_then(|r| r.split_once("] ")) {
                    Some((key, text)) => (key, text.trim()),
                    None => ("", p),
                }
            })
            .collect();
        let mut used = vec![false; parts.len()];
        // Reconciled rules are read from table rows too (of another scenario's table).
        let row = matches!(
            self.basis,
            Basis::Table | Basis::TableExpanded | Basis::TableDerived | Basis::Reconciled
        );
        self.sources
            .iter()
            .filter_map(|s: &Source| {
                let document = Document::by_key(&s.doc)?;
                let quote = parts
                    .iter()
                    .zip(used.iter_mut())
                    .find(|((key, _), used)| *key == s.doc && !**used)
                    .map(|((_, text), used)| {
                        *used = true;
                        text.to_string()
                    })
                    .unwrap_or_default();
                Some(Citation {
                    document,
                    heading: heading_in(document, &s.table),
                    quote,
                    row,
                })
            })
            .collect()
    }

    /// The first citation, shortened, for a sentence about one flow.
    pub fn first_citation(&self) -> String {
        self.citations()
            .first()
            .map(Citation::short)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    fn builtin() -> &'static Matrix {
        match Matrix::builtin() {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn names_carry_the_title_and_the_product_where_the_title_does_not() {
        let name = |k: &str| Document::by_key(k).map(Document::name).unwrap_or_default();
        assert_eq!(
            name("000"),
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\""
        );
        assert_eq!(
            name("001"),
            "Microsoft, \"Port summary - Scaled consolidated edge with hardware load balancers in Lync Server 2013\""
        );
        assert_eq!(
            name("002"),
            "Microsoft, \"Reference Architecture 1: Port Summary for Single Consolidated Edge\" (Lync Server 2010)"
        );
        assert_eq!(
            name("003"),
            "Microsoft, \"Port and protocol requirements for servers\" (Skype for Business Server 2015)"
        );
        assert_eq!(
            name("004"),
            "Jeff Schertz, \"Understanding Lync Edge Server Ports\" (Lync Server 2010 and 2013)"
        );
    }

    #[test]
    fn every_source_of_every_rule_is_cited_with_its_row() {
        for r in &builtin().rules {
            let cites = r.citations();
            assert_eq!(cites.len(), r.sources.len(), "{}", r.id);
            for c in &cites {
                assert!(!c.quote.is_empty(), "{}: no quote for {}", r.id, c.place());
                let text = c.to_string();
                assert!(!text.contains("[00"), "{}: {text}", r.id);
                assert!(!c.heading.contains(c.document.title), "{}: {text}", r.id);
            }
        }
    }

    #[test]
    fn a_citation_reads_as_the_document_writes_it() {
        let r = builtin()
            .rule("ext-access-sip-tls-443-in.dns.s000")
            .expect("rule");
        let c = &r.citations()[0];
        assert_eq!(
            c.short(),
            "Microsoft, \"Edge Server environmental requirements in Skype for Business Server\" \
             > Port and firewall planning > External port firewall summary table, row \
             \"Access/SIP(TLS) | TCP | 443 | Any | …\""
        );
        assert!(c
            .to_string()
            .ends_with("Client-to-server SIP traffic for external user access.\""));
        // 002's headings repeat its title: the citation does not.
        let rp = builtin()
            .rules
            .iter()
            .find(|r| r.sources.iter().any(|s| s.doc == "002"))
            .expect("a rule of 002");
        let c = rp
            .citations()
            .into_iter()
            .find(|c| c.document.key == "002")
            .expect("cites 002");
        assert!(c.place().starts_with(
            "Microsoft, \"Reference Architecture 1: Port Summary for Single Consolidated Edge\" (Lync Server 2010) > "
        ), "{}", c.place());
        assert!(
            !c.heading.starts_with("Reference Architecture"),
            "{}",
            c.heading
        );
    }

    #[test]
    fn quotes_are_cut_at_a_cell() {
        assert_eq!(cut_at_cell("a | b", 10), "a | b");
        assert_eq!(
            cut_at_cell(
                "Access/SIP(TLS) | TCP | 443 | Any | Private IP using NAT",
                30
            ),
            "Access/SIP(TLS) | TCP | 443 | …"
        );
        assert_eq!(cut_at_cell("one two three four", 10), "one two …");
    }
}
