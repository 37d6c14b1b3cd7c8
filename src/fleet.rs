//! Many inputs at once: which share the same SCHANNEL protocol settings, and
//! which differ. Drift between servers is what fleet owners hunt.
//!
//! A fleet run keeps one small [`Record`] per input, never the audit itself:
//! the [`Tally`] counts verdicts and groups settings as records arrive, so a
//! run over 100,000 machines holds what its summary needs and no more. The
//! same records come from a finished run's JSONL (`tlsreg merge`), so shards
//! of a fleet audited apart add up to the summary of one run.

use std::collections::HashMap;

use crate::audit::Audit;
use crate::report::Summary;

/// One protocol side's values, in regedit's notation (`dword:00000001`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Setting {
    pub protocol: String,
    pub side: String,
    pub enabled: Option<String>,
    pub disabled_by_default: Option<String>,
}

/// The protocol values an audit found, row by row in the matrix's order
/// (each protocol's Client, then its Server): what grouping compares.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Settings(pub Vec<Setting>);

impl Settings {
    pub fn of(a: &Audit) -> Settings {
        let v = |e: &Option<crate::registry::Entry>| e.as_ref().map(|e| e.value.to_string());
        Settings(
            a.matrix
                .rows
                .iter()
                .map(|r| Setting {
                    protocol: r.protocol.to_owned(),
                    side: r.side.to_owned(),
                    enabled: v(&r.enabled),
                    disabled_by_default: v(&r.disabled_by_default),
                })
                .collect(),
        )
    }

    /// Compactly: `TLS 1.2 Client+Server Enabled=1 DisabledByDefault=0`.
    pub fn describe(&self) -> String {
        let text = |r: &Setting| {
            let mut t = Vec::new();
            if let Some(e) = &r.enabled {
                t.push(format!("Enabled={}", short(e)));
            }
            if let Some(d) = &r.disabled_by_default {
                t.push(format!("DisabledByDefault={}", short(d)));
            }
            t.join(" ")
        };
        let mut parts: Vec<String> = Vec::new();
        for pair in self.0.chunks(2) {
            if let [c, s] = pair {
                let (tc, ts) = (text(c), text(s));
                match (tc.is_empty(), ts.is_empty()) {
                    (true, true) => {}
                    _ if tc == ts => parts.push(format!("{} Client+Server {tc}", c.protocol)),
                    (false, true) => parts.push(format!("{} Client {tc}", c.protocol)),
                    (true, false) => parts.push(format!("{} Server {ts}", s.protocol)),
                    (false, false) => {
                        parts.push(format!("{} Client {tc}, Server {ts}", c.protocol))
                    }
                }
            }
        }
        match parts.is_empty() {
            true => "no protocol values set (OS defaults everywhere)".into(),
            false => parts.join("; "),
        }
    }
}

/// A value in regedit's notation, shorter: `dword:00000001` as `1`,
/// `dword:ffffffff` as `0xffffffff`; other types as they are.
pub fn short(value: &str) -> String {
    match value
        .strip_prefix("dword:")
        .and_then(|h| u32::from_str_radix(h, 16).ok())
    {
        Some(n) if n <= 9 => n.to_string(),
        Some(n) => format!("0x{n:x}"),
        None => value.to_owned(),
    }
}

/// An input's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Compliant,
    Noncompliant,
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Compliant => "compliant",
            Verdict::Noncompliant => "noncompliant",
            Verdict::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        [Verdict::Compliant, Verdict::Noncompliant, Verdict::Error]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Why a verdict is what it is, for the report's one line per input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Audited: how many checks fail, of how many, and how many could not be
    /// evaluated.
    Checks {
        failing: usize,
        total: usize,
        not_evaluated: usize,
        /// Prerequisites (updates a `.reg` cannot install) failed with an
        /// error: each makes the input noncompliant on its own.
        updates: usize,
    },
    /// Audited, but a required value could not be read.
    Inconclusive,
    /// The input could not be read at all.
    Unread,
}

/// What a fleet summary keeps of one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub path: String,
    /// `reg`, `hive`, `image`, or `unknown` for what could not be read.
    pub kind: String,
    pub verdict: Verdict,
    pub detail: Detail,
    /// The protocol values, for an audit that reached a verdict.
    pub settings: Option<Settings>,
    /// The policy the input was audited against (none when unread).
    pub policy: Option<String>,
}

/// One group of inputs with identical protocol values.
#[derive(Clone, Debug)]
pub struct Group {
    /// `A`, `B`, ... by size, largest first.
    pub label: String,
    /// How many inputs it holds.
    pub count: usize,
    /// Their names, in input order: all of them, or the first few (see
    /// [`Keep`]).
    pub names: Vec<String>,
    /// The settings, compactly: `TLS 1.2 Client+Server: Enabled=1 DisabledByDefault=0`.
    pub description: String,
}

/// What a [`Tally`] keeps per input beyond counts: each printer asks for
/// what it shows, so memory follows the output, not the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keep {
    /// Every record's line (the text report lists a verdict per input).
    pub records: bool,
    /// How many names each group keeps: all (the JSON document lists them),
    /// a few (the text report shows three and a count), or none.
    pub names_per_group: usize,
}

impl Keep {
    /// What the text report shows.
    pub const TEXT: Keep = Keep {
        records: true,
        names_per_group: 4,
    };
    /// What the JSON document lists.
    pub const JSON: Keep = Keep {
        records: false,
        names_per_group: usize::MAX,
    };
    /// Counts only (JSONL prints each record as it goes).
    pub const COUNTS: Keep = Keep {
        records: false,
        names_per_group: 0,
    };
}

struct Acc {
    count: usize,
    /// The index of its first member among the conclusive records.
    first: usize,
    names: Vec<String>,
    description: String,
}

/// Verdicts counted and settings grouped, one record at a time.
pub struct Tally {
    keep: Keep,
    summary: Summary,
    conclusive: usize,
    groups: Vec<Acc>,
    index: HashMap<Settings, usize>,
    records: Vec<Record>,
    /// The first record, without its settings: a report of one input says
    /// what to run next for it.
    first: Option<Record>,
}

impl Tally {
    pub fn new(keep: Keep) -> Tally {
        Tally {
            keep,
            summary: Summary::default(),
            conclusive: 0,
            groups: Vec::new(),
            index: HashMap::new(),
            records: Vec::new(),
            first: None,
        }
    }

    pub fn add(&mut self, mut record: Record) {
        self.summary.add(record.verdict);
        if let (Some(settings), false) = (record.settings.take(), record.verdict == Verdict::Error)
        {
            let at = match self.index.get(&settings) {
                Some(&i) => i,
                None => {
                    self.groups.push(Acc {
                        count: 0,
                        first: self.conclusive,
                        names: Vec::new(),
                        description: settings.describe(),
                    });
                    self.index.insert(settings, self.groups.len() - 1);
                    self.groups.len() - 1
                }
            };
            let g = &mut self.groups[at];
            g.count += 1;
            if g.names.len() < self.keep.names_per_group {
                g.names.push(record.path.clone());
            }
            self.conclusive += 1;
        }
        if self.first.is_none() {
            self.first = Some(record.clone());
        }
        if self.keep.records {
            self.records.push(record);
        }
    }

    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// How many inputs reached a verdict (and so are grouped).
    pub fn conclusive(&self) -> usize {
        self.conclusive
    }

    /// Every record, in the order added (kept only with [`Keep::records`]).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The first record added, without its settings.
    pub fn first(&self) -> Option<&Record> {
        self.first.as_ref()
    }

    /// The groups, largest first; equal sizes in order of their first member.
    pub fn groups(&self) -> Vec<Group> {
        let mut order: Vec<&Acc> = self.groups.iter().collect();
        order.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.cmp(&b.first)));
        order
            .into_iter()
            .enumerate()
            .map(|(n, g)| Group {
                label: label(n),
                count: g.count,
                names: g.names.clone(),
                description: g.description.clone(),
            })
            .collect()
    }
}

/// `A` .. `Z`, then `AA`, `AB`, ...
fn label(n: usize) -> String {
    let letter = |i: usize| char::from(b'A' + (i % 26) as u8);
    // A loop, not recursion: the depth would follow the number of groups.
    let mut out = vec![letter(n)];
    let mut n = n / 26;
    while n > 0 {
        out.push(letter(n - 1));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(label(0), "A");
        assert_eq!(label(25), "Z");
        assert_eq!(label(26), "AA");
        assert_eq!(label(27), "AB");
        assert_eq!(label(26 + 26 * 26), "AAA");
    }

    fn record(path: &str, enabled: Option<&str>, verdict: Verdict) -> Record {
        Record {
            path: path.into(),
            kind: "hive".into(),
            verdict,
            detail: Detail::Checks {
                failing: 0,
                total: 4,
                not_evaluated: 0,
                updates: 0,
            },
            settings: Some(Settings(vec![
                Setting {
                    protocol: "TLS 1.2".into(),
                    side: "Client".into(),
                    enabled: enabled.map(str::to_owned),
                    disabled_by_default: None,
                },
                Setting {
                    protocol: "TLS 1.2".into(),
                    side: "Server".into(),
                    enabled: enabled.map(str::to_owned),
                    disabled_by_default: None,
                },
            ])),
            policy: Some("article".into()),
        }
    }

    #[test]
    fn groups_by_size_then_first_member_and_keeps_what_is_asked() {
        let mut t = Tally::new(Keep::TEXT);
        let on = Some("dword:00000001");
        t.add(record("a", None, Verdict::Noncompliant));
        for i in 0..6 {
            t.add(record(&format!("b{i}"), on, Verdict::Compliant));
        }
        t.add(record("c", Some("dword:00000000"), Verdict::Noncompliant));
        // An error's settings are not a configuration.
        t.add(record("d", on, Verdict::Error));
        let g = t.groups();
        assert_eq!(
            g.iter()
                .map(|g| (g.label.as_str(), g.count))
                .collect::<Vec<_>>(),
            [("A", 6), ("B", 1), ("C", 1)]
        );
        assert_eq!(g[0].names, ["b0", "b1", "b2", "b3"], "four names kept");
        assert_eq!(g[0].description, "TLS 1.2 Client+Server Enabled=1");
        assert_eq!(g[1].names, ["a"]);
        assert_eq!(t.conclusive(), 8);
        assert_eq!(t.records().len(), 9);
        let s = t.summary();
        assert_eq!(
            (s.inputs, s.compliant, s.noncompliant, s.error),
            (9, 6, 2, 1)
        );
        let mut counts = Tally::new(Keep::COUNTS);
        counts.add(record("a", on, Verdict::Compliant));
        assert!(counts.records().is_empty() && counts.groups()[0].names.is_empty());
    }
}
