//! The report as JUnit XML, for the CI systems that build golden images
//! (Azure Pipelines' PublishTestResults, GitLab's junit reports, Jenkins'
//! junit step): each input is a `<testsuite>`, each of its checks a
//! `<testcase>`.
//!
//! The report streams like the others: each input's suite is written as it
//! is audited, with its own `tests`, `failures`, `errors` and `skipped`
//! counts, and nothing is kept for the end. The root `<testsuites>` carries
//! no totals, which the common schema (Jenkins' junit-10.xsd, what GitLab
//! and Azure read) leaves optional: they would need every input's counts
//! before the first suite is written, and readers add up the suites.

use std::io::{self, Write};

use crate::audit::Prerequisites;
use crate::registry::Severity;
use crate::schannel::Status;
use crate::schannel::prerequisites::{PrereqCheck, PrereqStatus};

use super::{Outcome, check_name, location};

/// The XML declaration and the root element's start.
pub fn start(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="tlsreg audit">"#)
}

/// One input's `<testsuite>`: a `<testcase>` per check, named like
/// `TLS 1.2\Client\Enabled`, with the input's path as its classname. A
/// failing check has a `<failure>`, an unreadable value an `<error>`, a
/// check the input cannot answer `<skipped>`. An input that could not be
/// read is one testcase, `read`, with an `<error>`.
pub fn suite(out: &mut dyn Write, o: &Outcome) -> io::Result<()> {
    let path = xml(o.path());
    let a = match o {
        Outcome::Failed { error, .. } => {
            writeln!(
                out,
                r#"  <testsuite name="{path}" tests="1" failures="0" errors="1" skipped="0">"#
            )?;
            writeln!(out, r#"    <testcase name="read" classname="{path}">"#)?;
            let error = xml(error);
            writeln!(
                out,
                r#"      <error message="{error}" type="unreadable-input">{error}</error>"#
            )?;
            writeln!(out, "    </testcase>")?;
            return writeln!(out, "  </testsuite>");
        }
        Outcome::Audited(a) => a,
    };
    let checks = &a.evaluation.checks;
    let findings = a.findings();
    let count = |f: &dyn Fn(Status) -> bool| checks.iter().filter(|c| f(c.status)).count();
    let errors = count(&|s| s == Status::Unreadable);
    // The article's step 1, when checked: a testcase per prerequisite,
    // named by its code; a failing error is a failure (a warning passes,
    // its finding below says why), one the SOFTWARE hive cannot answer skipped.
    let prereqs: &[PrereqCheck] = match &a.prerequisites {
        Prerequisites::Checked(c) => c,
        _ => &[],
    };
    let prereq_fails =
        |c: &PrereqCheck| c.status == PrereqStatus::Fail && c.rule.severity == Severity::Error;
    let failures = count(&|s| s.fails() && s != Status::Unreadable)
        + prereqs.iter().filter(|c| prereq_fails(c)).count();
    let skipped = count(&|s| s == Status::NotEvaluated)
        + prereqs
            .iter()
            .filter(|c| c.status == PrereqStatus::NotEvaluated)
            .count();
    writeln!(
        out,
        r#"  <testsuite name="{path}" tests="{}" failures="{failures}" errors="{errors}" skipped="{skipped}">"#,
        checks.len() + prereqs.len()
    )?;
    for c in prereqs {
        let name = xml(c.rule.code);
        match c.status {
            PrereqStatus::NotEvaluated => {
                writeln!(out, r#"    <testcase name="{name}" classname="{path}">"#)?;
                writeln!(out, r#"      <skipped message="{}"/>"#, xml(&c.found))?;
                writeln!(out, "    </testcase>")?;
            }
            _ if prereq_fails(c) => {
                let message = format!("{}: install {}", c.found, c.rule.install);
                writeln!(out, r#"    <testcase name="{name}" classname="{path}">"#)?;
                writeln!(
                    out,
                    r#"      <failure message="{}" type="{name}">{} ({})</failure>"#,
                    xml(&message),
                    xml(&message),
                    xml(&c.rule.source)
                )?;
                writeln!(out, "    </testcase>")?;
            }
            _ => writeln!(out, r#"    <testcase name="{name}" classname="{path}"/>"#)?,
        }
    }
    for c in checks {
        let name = xml(&check_name(c));
        let found = c.found_text();
        let required = c.requirement.expected_text();
        let at = c
            .found
            .as_ref()
            .and_then(|e| e.origin)
            .map(|o| format!(" at {}", location(a, &o)))
            .unwrap_or_default();
        let key = c.key.join("\\");
        let value = c.requirement.value.as_str();
        // The check as the text report words it, with the full key, and
        // the findings that explain it (they name the check, or its key).
        let mut detail = vec![format!(
            "[{key}] {}: found {found}, required {required}{at}",
            if value.is_empty() { "@" } else { value }
        )];
        let own = format!("{} ", c.short_name());
        let tail = c.key[c.key.len().saturating_sub(2)..].join("\\");
        let missing_key = format!("the key {tail} ");
        for f in &findings {
            if f.message.starts_with(&own) || f.message.starts_with(&missing_key) {
                detail.push(f.message.clone());
            }
        }
        let message = format!("found {found}, required {required}");
        let (element, kind) = match c.status {
            Status::Ok => {
                writeln!(out, r#"    <testcase name="{name}" classname="{path}"/>"#)?;
                continue;
            }
            Status::NotEvaluated => {
                let why = c.note.as_deref().unwrap_or("the input cannot answer it");
                writeln!(out, r#"    <testcase name="{name}" classname="{path}">"#)?;
                writeln!(out, r#"      <skipped message="{}"/>"#, xml(why))?;
                writeln!(out, "    </testcase>")?;
                continue;
            }
            Status::Unreadable => ("error", "unreadable"),
            s => ("failure", s.as_str()),
        };
        writeln!(out, r#"    <testcase name="{name}" classname="{path}">"#)?;
        writeln!(
            out,
            r#"      <{element} message="{}" type="{kind}">{}</{element}>"#,
            xml(&message),
            detail.iter().map(|d| xml(d)).collect::<Vec<_>>().join("\n")
        )?;
        writeln!(out, "    </testcase>")?;
    }
    // The findings (near misses, lines regedit would skip) say why, and
    // where: CI shows them with the suite.
    let findings: Vec<String> = findings
        .into_iter()
        .map(|f| {
            let at = f
                .origin
                .map(|o| format!("{}: ", location(a, &o)))
                .unwrap_or_default();
            format!("{} {at}{} [{}]", f.severity.as_str(), f.message, f.code)
        })
        .collect();
    if !findings.is_empty() {
        let lines: Vec<String> = findings.iter().map(|f| xml(f)).collect();
        writeln!(out, "    <system-out>{}</system-out>", lines.join("\n"))?;
    }
    writeln!(out, "  </testsuite>")
}

/// The root element's end.
pub fn finish(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "</testsuites>")
}

/// Text safe in XML 1.0 content and attribute values. Names come from
/// hostile input: control characters (which XML 1.0 forbids, or which a
/// parser would fold in an attribute) are first shown as the text report
/// shows them (`\x1b`, `\n`), so the report and the XML agree; the
/// noncharacters U+FFFE and U+FFFF, also forbidden, as `\u{fffe}`; then
/// markup characters become entities.
pub fn xml(s: &str) -> String {
    let s = super::text::escape(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match (entity(c), c) {
            (Some(e), _) => out.push_str(e),
            (None, '\u{FFFE}' | '\u{FFFF}') => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            (None, c) => out.push(c),
        }
    }
    out
}

/// The entity that stands for a character of XML's markup.
fn entity(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "&amp;",
        '<' => "&lt;",
        '>' => "&gt;",
        '"' => "&quot;",
        '\'' => "&apos;",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn escapes_markup_and_what_xml_forbids() {
        assert_eq!(
            xml(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(xml("x\u{1b}[31m\u{0}y"), "x\\x1b[31m\\x00y");
        assert_eq!(xml("tab\there\nnl"), "tab\\there\\nnl");
        assert_eq!(xml("\u{fffe}\u{ffff}ok"), "\\u{fffe}\\u{ffff}ok");
        assert_eq!(xml("TLS 1.2\\Client"), "TLS 1.2\\Client");
    }
}
