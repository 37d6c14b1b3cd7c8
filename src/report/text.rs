//! The report for people.

use std::io::{self, Write};

use crate::audit::Audit;
use crate::schannel::{Policy, Status};

use super::{Outcome, Summary, location};

const WHY: &str = "\
Why it matters: Exchange Online and Office 365 refuse TLS 1.0 and 1.1. A mail server
without TLS 1.2 fails with `421 4.4.2 Connection dropped due to SocketError`,
`TLS negotiation failed with error SocketError` or `451 5.7.3 Must issue a STARTTLS
command first`. Import the fix with regedit, then restart the server: SCHANNEL reads
these values at startup.";

pub fn print(out: &mut dyn Write, policy: &Policy, outcomes: &[Outcome]) -> io::Result<()> {
    writeln!(out, "Required: {}", policy.title)?;
    for o in outcomes {
        writeln!(out)?;
        match o {
            Outcome::Audited(a) => input(out, a)?,
            Outcome::Failed { path, error, .. } => {
                writeln!(out, "{path}")?;
                writeln!(out, "  could not be read: {error}")?;
            }
        }
    }
    writeln!(out)?;
    for o in outcomes {
        let tail = match o {
            Outcome::Audited(a) if !a.conclusive() => {
                " (a required value could not be read)".to_owned()
            }
            Outcome::Audited(a) => {
                let failing = a
                    .evaluation
                    .checks
                    .iter()
                    .filter(|c| c.status != Status::Ok)
                    .count();
                match failing {
                    0 => String::new(),
                    n => format!(" ({n} of {} checks fail)", a.evaluation.checks.len()),
                }
            }
            Outcome::Failed { .. } => " (could not be read)".to_owned(),
        };
        writeln!(out, "{:<13} {}{tail}", o.verdict().to_uppercase(), o.path())?;
    }
    let summary = Summary::of(outcomes);
    if summary.noncompliant > 0 {
        writeln!(out)?;
        writeln!(out, "{WHY}")?;
        if let [Outcome::Audited(a)] = outcomes {
            writeln!(
                out,
                "Next: tlsreg fix {} -o fix.reg",
                a.loaded.sources[0].name
            )?;
        }
    }
    Ok(())
}

fn input(out: &mut dyn Write, a: &Audit) -> io::Result<()> {
    let loaded = &a.loaded;
    match loaded.sources.first() {
        Some(s) => writeln!(out, "{}", s.name)?,
        None => writeln!(out, "(a machine with no SCHANNEL keys)")?,
    }
    for (i, s) in loaded.sources.iter().enumerate() {
        let role = if i == 0 { "read as" } else { "applied" };
        let name = if i == 0 {
            String::new()
        } else {
            format!("{}: ", s.name)
        };
        writeln!(out, "  {role:<12} {name}{}", s.detail)?;
    }
    match &loaded.control_set {
        Some(cs) => {
            writeln!(out, "  {:<12} {} ({})", "control set", cs.name(), cs.reason)?;
            for note in &cs.notes {
                writeln!(out, "  {:<12} {note}", "")?;
            }
        }
        None => writeln!(
            out,
            "  {:<12} none: the input has no SYSTEM keys",
            "control set"
        )?,
    }
    let mut last_key: Option<&[String]> = None;
    for c in &a.evaluation.checks {
        if last_key != Some(c.key.as_slice()) {
            writeln!(out)?;
            writeln!(out, "  [{}]", c.key.join("\\"))?;
            last_key = Some(&c.key);
        }
        let (found, at) = match &c.found {
            Some(e) => (
                e.value.to_string(),
                e.origin.map(|o| format!("  at {}", location(a, &o))),
            ),
            None => ("(absent)".to_owned(), None),
        };
        let status = match c.status {
            Status::Ok if c.non_canonical => "ok (non-canonical)",
            Status::Ok => "ok",
            Status::Missing => "MISSING",
            Status::WrongValue => "WRONG VALUE",
            Status::WrongType => "WRONG TYPE",
            Status::Unreadable => "UNREADABLE",
        };
        writeln!(
            out,
            "    {:<18} found {found:<15} required {:<15} {status}{}",
            c.requirement.value,
            c.requirement.expected.to_string(),
            at.unwrap_or_default()
        )?;
    }
    if !a.other_sets.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "  Other control sets (they do not change the verdict):"
        )?;
        for (cs, e) in &a.other_sets {
            let failing = e.checks.iter().filter(|c| c.status != Status::Ok).count();
            let verdict = match failing {
                0 => "compliant".to_owned(),
                n => format!("noncompliant ({n} of {} checks fail)", e.checks.len()),
            };
            writeln!(out, "    {:<16} {verdict}", cs.name())?;
        }
    }
    // The control set is shown above; the rest are findings.
    let findings: Vec<_> = a
        .findings()
        .into_iter()
        .filter(|f| f.code != "control-set")
        .collect();
    if !findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "  Findings:")?;
        for f in findings {
            let at = f
                .origin
                .map(|o| format!("{}: ", location(a, &o)))
                .unwrap_or_default();
            writeln!(
                out,
                "    {:<8} {at}{} [{}]",
                f.severity.as_str(),
                f.message,
                f.code
            )?;
            if let Some(s) = f.suggestion {
                writeln!(out, "             did you mean: {s}")?;
            }
        }
    }
    Ok(())
}
