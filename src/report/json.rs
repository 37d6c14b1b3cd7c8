//! The report for machines: one JSON document `{"inputs":[...],"summary":{...}}`.

use serde_json::{Value as Json, json};

use crate::audit::Audit;
use crate::input::Role;
use crate::input::discover::Skipped;
use crate::registry::Origin;
use crate::schannel::Evaluation;

use super::Outcome;
use crate::fleet::{Detail, Keep, Record, Setting, Settings, Tally, Verdict};
use crate::report::Summary;
use std::io::{self, Write};

fn location(a: &Audit, origin: Option<Origin>) -> Json {
    match origin {
        Some(o) => json!({
            "file": a.loaded.sources.get(o.source).map(|s| s.name.as_str()),
            "line": o.line,
            "column": o.column,
        }),
        None => Json::Null,
    }
}

fn checks(a: &Audit, evaluation: &Evaluation) -> Vec<Json> {
    evaluation
        .checks
        .iter()
        .map(|c| {
            json!({
                "key": c.key.join("\\"),
                "value": c.requirement.value,
                "expected": c.requirement.expected_text(),
                "found": c.found.as_ref().map(|e| e.value.to_string()),
                "check": c.requirement.check,
                "note": c.note,
                "found_type": c.found.as_ref().map(|e| e.value.type_name()),
                "status": c.status.as_str(),
                "non_canonical": c.non_canonical,
                "location": location(a, c.origin()),
            })
        })
        .collect()
}

/// The article's step 1: `not evaluated` without a SOFTWARE hive, else
/// each prerequisite as a check.
fn prerequisites(p: &crate::audit::Prerequisites) -> Json {
    use crate::audit::Prerequisites;
    match p {
        Prerequisites::NoRules => json!({"status": "none", "checks": []}),
        Prerequisites::NotEvaluated => json!({"status": "not evaluated", "checks": []}),
        Prerequisites::Checked(checks) => json!({
            "status": "evaluated",
            "checks": checks.iter().map(|c| json!({
                "code": c.rule.code,
                "severity": c.rule.severity.as_str(),
                "status": c.status.as_str(),
                "found": c.found,
                "install": c.rule.install,
                "source": c.rule.source,
            })).collect::<Vec<_>>(),
        }),
    }
}

fn audited(a: &Audit) -> Json {
    let findings: Vec<Json> = a
        .findings()
        .into_iter()
        .map(|f| {
            json!({
                "code": f.code,
                "severity": f.severity.as_str(),
                "message": f.message,
                "location": location(a, f.origin),
                "suggestion": f.suggestion,
            })
        })
        .collect();
    let input = a.loaded.sources.first();
    json!({
        "path": input.map(|s| s.name.as_str()),
        "kind": input.map(|s| s.kind.as_str()),
        "read_as": input.map(|s| s.detail.as_str()),
        "applied": a.loaded.sources.iter().filter(|s| s.role == Role::Applied).map(|s| s.name.as_str()).collect::<Vec<_>>(),
        "software": a.loaded.sources.iter().find(|s| s.role == Role::Software).map(|s| s.detail.as_str()),
        "software_path": a.loaded.sources.iter().find(|s| s.role == Role::Software).map(|s| s.name.as_str()),
        "verdict": super::verdict(a).as_str(),
        "error": (!a.conclusive()).then_some("a required value could not be read"),
        "policy": a.evaluation.policy,
        "control_set": a.loaded.control_set.as_ref().map(|cs| json!({
            "name": cs.name(),
            "path": cs.path.join("\\"),
            "reason": cs.reason.to_string(),
        })),
        "os": a.os.as_ref().map(|os| json!({
            "product_name": os.product_name,
            "build": os.build,
            "ubr": os.ubr,
            "display_version": os.display_version,
            "installation_type": os.installation_type,
        })),
        "exchange": a.products.as_ref().and_then(|p| p.exchange).map(|b| json!({
            "build": b.to_string(),
            "cu": crate::schannel::prerequisites::cu_name(b),
        })),
        "dotnet": a.products.as_ref().and_then(|p| p.dotnet_release).map(|r| json!({
            "release": r,
            "version": crate::schannel::prerequisites::dotnet_version(r),
        })),
        "prerequisites": prerequisites(&a.prerequisites),
        "matrix": a.matrix.rows.iter().map(|r| json!({
            "protocol": r.protocol,
            "side": r.side,
            "enabled": r.enabled.as_ref().map(|e| e.value.to_string()),
            "disabled_by_default": r.disabled_by_default.as_ref().map(|e| e.value.to_string()),
            "effective": r.effective.describe(),
            "os_default": r.os_default.map(|d| d.as_str()),
        })).collect::<Vec<_>>(),
        "matrix_flags": a.matrix.flags.iter().map(|f| f.message.as_str()).collect::<Vec<_>>(),
        "checks": checks(a, &a.evaluation),
        "findings": findings,
        "other_control_sets": a.other_sets.iter().map(|(cs, e)| json!({
            "name": cs.name(),
            "path": cs.path.join("\\"),
            "verdict": if e.compliant() { "compliant" } else { "noncompliant" },
            "checks": checks(a, e),
        })).collect::<Vec<_>>(),
    })
}

/// The object for one input, as in `inputs` (and each line of `jsonl`).
pub fn input(o: &Outcome) -> Json {
    match o {
        Outcome::Audited(a) => audited(a),
        Outcome::Failed { path, kind, error } => json!({
            "path": path,
            "kind": kind,
            "verdict": "error",
            "error": error,
            "control_set": null,
            "checks": [],
            "findings": [],
        }),
    }
}

/// The object for a file found in a folder and not audited (also a line of
/// `jsonl`): `verdict` is `skipped`, so every file given appears once;
/// `notable` says whether the text report names it without `-v`.
pub fn skipped(s: &Skipped) -> Json {
    json!({
        "path": s.path,
        "kind": "skipped",
        "verdict": "skipped",
        "reason": s.reason,
        "notable": s.notable,
    })
}

/// The whole report for one input or a single run.
pub fn document(outcomes: &[Outcome]) -> Json {
    let mut tally = Tally::new(Keep::JSON);
    for o in outcomes {
        tally.add(o.record());
    }
    let mut doc = serde_json::Map::new();
    doc.insert("inputs".into(), outcomes.iter().map(input).collect());
    doc.insert("skipped".into(), Json::Array(Vec::new()));
    doc.insert("summary".into(), summary(&tally, 0));
    Json::Object(doc)
}

/// The `summary` of a run: counts, and the inputs grouped by configuration
/// (from a [`Tally`] kept with [`Keep::JSON`]).
pub fn summary(tally: &Tally, skipped: usize) -> Json {
    let configurations: Vec<Json> = tally
        .groups()
        .into_iter()
        .map(|g| {
            json!({
                "label": g.label,
                "inputs": g.names,
                "settings": g.description,
            })
        })
        .collect();
    let s = tally.summary();
    json!({
        "inputs": s.inputs,
        "skipped": skipped,
        "compliant": s.compliant,
        "noncompliant": s.noncompliant,
        "error": s.error,
        "configurations": configurations,
    })
}

/// The last line of a `jsonl` run: its counts, so that a reader (`tlsreg
/// merge`) can tell a finished run from one cut short.
pub fn trailer(tally: &Tally, skipped: usize) -> Json {
    let s = tally.summary();
    json!({
        "summary": {
            "inputs": s.inputs,
            "skipped": skipped,
            "compliant": s.compliant,
            "noncompliant": s.noncompliant,
            "error": s.error,
        }
    })
}

/// Writes the JSON document `{"inputs": [...], "skipped": [...], "summary":
/// {...}}` one input at a time, byte for byte as `serde_json`'s pretty
/// printer writes the whole document: a fleet's report never has to be
/// held in memory.
pub struct DocumentWriter {
    inputs: usize,
}

impl DocumentWriter {
    pub fn start(out: &mut dyn Write) -> io::Result<DocumentWriter> {
        out.write_all(b"{\n  \"inputs\": [")?;
        Ok(DocumentWriter { inputs: 0 })
    }

    /// One element of `inputs`.
    pub fn input(&mut self, out: &mut dyn Write, value: &Json) -> io::Result<()> {
        let sep: &[u8] = if self.inputs == 0 { b"\n" } else { b",\n" };
        out.write_all(sep)?;
        self.inputs += 1;
        write_nested(out, value, 2)
    }

    /// Closes `inputs`, then writes `skipped` and `summary`.
    pub fn finish(self, out: &mut dyn Write, skipped: &[Json], summary: &Json) -> io::Result<()> {
        match self.inputs {
            0 => out.write_all(b"]")?,
            _ => out.write_all(b"\n  ]")?,
        }
        out.write_all(b",\n  \"skipped\": ")?;
        match skipped {
            [] => out.write_all(b"[]")?,
            _ => {
                out.write_all(b"[")?;
                for (i, s) in skipped.iter().enumerate() {
                    out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
                    write_nested(out, s, 2)?;
                }
                out.write_all(b"\n  ]")?;
            }
        }
        out.write_all(b",\n  \"summary\": ")?;
        let text = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
        out.write_all(indent(&text, 1, false).as_bytes())?;
        out.write_all(b"\n}\n")
    }
}

/// `value` pretty-printed as an element `depth` levels deep.
fn write_nested(out: &mut dyn Write, value: &Json, depth: usize) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    out.write_all(indent(&text, depth, true).as_bytes())
}

/// Pretty JSON text moved `depth` levels (two spaces each) to the right:
/// every line, or all but the first (which follows a key). A JSON string
/// holds no raw line break, so lines are the printer's own.
fn indent(text: &str, depth: usize, first: bool) -> String {
    let pad = "  ".repeat(depth);
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if i > 0 || first {
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    out
}

/// One line of a `jsonl` run, read back.
#[derive(Debug)]
pub enum Line {
    /// An input's object, and what a fleet summary keeps of it.
    Input(Record),
    /// A file the run found and did not audit.
    Skipped(Skipped),
    /// The run's closing counts.
    Trailer(Summary, usize),
}

/// What a `jsonl` line says, checked as far as a summary relies on it: the
/// error says which field is wrong.
pub fn read_line(v: &Json) -> Result<Line, String> {
    let obj = v.as_object().ok_or("not a JSON object")?;
    let text = |key: &str| -> Result<&str, String> {
        obj.get(key)
            .and_then(Json::as_str)
            .ok_or_else(|| format!("no text `{key}`"))
    };
    if let Some(summary) = obj.get("summary").filter(|_| obj.len() == 1) {
        let count = |key: &str| -> Result<usize, String> {
            summary
                .get(key)
                .and_then(Json::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| format!("the summary line has no count `{key}`"))
        };
        let s = Summary {
            inputs: count("inputs")?,
            compliant: count("compliant")?,
            noncompliant: count("noncompliant")?,
            error: count("error")?,
        };
        return Ok(Line::Trailer(s, count("skipped")?));
    }
    let path = text("path")?.to_owned();
    let verdict = text("verdict")?;
    if verdict == "skipped" {
        return Ok(Line::Skipped(Skipped {
            path,
            reason: text("reason")?.to_owned(),
            notable: obj.get("notable").and_then(Json::as_bool).unwrap_or(true),
        }));
    }
    let verdict = Verdict::parse(verdict).ok_or_else(|| format!("unknown verdict `{verdict}`"))?;
    let kind = text("kind")?.to_owned();
    // Only an audit has `read_as`; an input that could not be read has none.
    if !obj.contains_key("read_as") {
        return Ok(Line::Input(Record {
            path,
            kind,
            verdict: Verdict::Error,
            detail: Detail::Unread,
            settings: None,
            policy: None,
        }));
    }
    let statuses: Vec<&str> = obj
        .get("checks")
        .and_then(Json::as_array)
        .ok_or("no `checks` list")?
        .iter()
        .map(|c| {
            c.get("status")
                .and_then(Json::as_str)
                .ok_or("a check with no `status`")
        })
        .collect::<Result<_, _>>()?;
    let detail = match verdict {
        Verdict::Error => Detail::Inconclusive,
        _ => Detail::Checks {
            failing: statuses
                .iter()
                .filter(|s| !matches!(**s, "ok" | "not-evaluated"))
                .count(),
            total: statuses.len(),
            not_evaluated: statuses.iter().filter(|s| **s == "not-evaluated").count(),
            // As the audit counted them: prerequisites failed with an error.
            updates: obj
                .get("prerequisites")
                .and_then(|p| p.get("checks"))
                .and_then(Json::as_array)
                .map_or(0, |checks| {
                    checks
                        .iter()
                        .filter(|c| c["status"] == "fail" && c["severity"] == "error")
                        .count()
                }),
        },
    };
    let cell = |row: &Json, key: &str| -> Result<Option<String>, String> {
        match row.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("a matrix row whose `{key}` is not text")),
        }
    };
    let settings = obj
        .get("matrix")
        .and_then(Json::as_array)
        .ok_or("no `matrix` list")?
        .iter()
        .map(|row| {
            let name = |key: &str| {
                row.get(key)
                    .and_then(Json::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| format!("a matrix row with no `{key}`"))
            };
            Ok(Setting {
                protocol: name("protocol")?,
                side: name("side")?,
                enabled: cell(row, "enabled")?,
                disabled_by_default: cell(row, "disabled_by_default")?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Line::Input(Record {
        path,
        kind,
        verdict,
        detail,
        settings: Some(Settings(settings)),
        policy: Some(text("policy")?.to_owned()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed document is the one `serde_json` prints whole.
    #[test]
    fn streamed_document_is_the_pretty_document() {
        let inputs = [
            json!({"path": "a", "checks": [], "nested": {"x": [1, 2]}}),
            json!({"path": "b\nc", "findings": [{"m": "x"}], "empty": {}}),
        ];
        let skipped = [json!({"path": "s", "verdict": "skipped"})];
        let summary = json!({"inputs": 2, "configurations": [{"inputs": ["a"]}]});
        for (inputs, skipped) in [
            (&inputs[..], &skipped[..]),
            (&inputs[..1], &[][..]),
            (&[][..], &skipped[..]),
        ] {
            let mut streamed = Vec::new();
            let mut w = DocumentWriter::start(&mut streamed).unwrap();
            for i in inputs {
                w.input(&mut streamed, i).unwrap();
            }
            w.finish(&mut streamed, skipped, &summary).unwrap();
            let whole = json!({"inputs": inputs, "skipped": skipped, "summary": summary});
            let mut expected = serde_json::to_string_pretty(&whole).unwrap();
            expected.push('\n');
            assert_eq!(String::from_utf8(streamed).unwrap(), expected);
        }
    }
}
