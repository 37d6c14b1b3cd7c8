//! The report for machines: one JSON document `{"inputs":[...],"summary":{...}}`.

use serde_json::{Value as Json, json};

use crate::audit::Audit;
use crate::input::Role;
use crate::input::discover::Skipped;
use crate::registry::Origin;
use crate::schannel::Evaluation;

use super::{Outcome, Summary};

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
                "location": location(a, c.found.as_ref().and_then(|e| e.origin)),
            })
        })
        .collect()
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
        "verdict": if !a.conclusive() { "error" } else if a.compliant() { "compliant" } else { "noncompliant" },
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
/// `jsonl`): `verdict` is `skipped`, so every file given appears once.
pub fn skipped(s: &Skipped) -> Json {
    json!({
        "path": s.path,
        "kind": "skipped",
        "verdict": "skipped",
        "reason": s.reason,
    })
}

/// The whole report for one input or a single run.
pub fn document(outcomes: &[Outcome]) -> Json {
    fleet_document(outcomes, &[])
}

/// The whole report: `inputs`, the `skipped` files, and the `summary`.
pub fn fleet_document(outcomes: &[Outcome], skipped_files: &[Skipped]) -> Json {
    let inputs: Vec<Json> = outcomes.iter().map(input).collect();
    let audited = super::conclusive(outcomes);
    let configurations: Vec<Json> = crate::fleet::group(&audited)
        .iter()
        .map(|g| {
            json!({
                "label": g.label,
                "inputs": g.members.iter().map(|&i| audited[i].loaded.sources.first().map(|s| s.name.as_str())).collect::<Vec<_>>(),
                "settings": g.description,
            })
        })
        .collect();
    let s = Summary::of(outcomes);
    json!({
        "inputs": inputs,
        "skipped": skipped_files.iter().map(skipped).collect::<Vec<_>>(),
        "summary": {
            "inputs": s.inputs,
            "skipped": skipped_files.len(),
            "compliant": s.compliant,
            "noncompliant": s.noncompliant,
            "error": s.error,
            "configurations": configurations,
        },
    })
}
