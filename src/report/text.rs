//! The report for people.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

use crate::audit::Audit;
use crate::input::Role;
use crate::schannel::{Policy, Rule, Status};

use super::{Outcome, location};
use crate::fleet::{Detail, Keep, Record, Tally};
use crate::input::discover::Skipped;

const WHY: &str = "\
Why it matters: Exchange Online and Office 365 refuse TLS 1.0 and 1.1. A mail server
without TLS 1.2 fails with `421 4.4.2 Connection dropped due to SocketError`,
`TLS negotiation failed with error SocketError` or `451 5.7.3 Must issue a STARTTLS
command first`. Import the fix with regedit, then restart the server: SCHANNEL reads
these values at startup.";

/// Makes `s` safe to show on one line of a terminal, so a file, key or value
/// name cannot start a report line of its own or send the terminal commands.
///
/// The convention is Rust's: `\n`, `\r`, `\t`; other C0 controls and DEL as
/// `\x1b`; C1 controls, the line and paragraph separators (U+2028, U+2029) and
/// the bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069) as
/// `\u{85}`. A backslash stays as it is, because registry paths are full of
/// them; so a name that holds the two characters `\n` reads the same as one
/// holding a newline, which is the price of readable paths.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        // Writing to a String cannot fail.
        let _ = match c {
            '\n' => out.write_str("\\n"),
            '\r' => out.write_str("\\r"),
            '\t' => out.write_str("\\t"),
            c if needs_escape(c) && (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
            c if needs_escape(c) => write!(out, "\\u{{{:x}}}", c as u32),
            c => out.write_char(c),
        };
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Escapes every line the report writes. Each `writeln!` is one line: its
/// final newline is the report's, and every control character before it came
/// from data (a name, a value, an error message), so it is escaped. The
/// report writes only through `writeln!`; raw `write` calls pass unescaped.
struct Escaping<'a>(&'a mut dyn Write);

impl Write for Escaping<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }

    fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> io::Result<()> {
        let text = fmt::format(args);
        let (line, end) = match text.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (text.as_str(), ""),
        };
        self.0.write_all(escape(line).as_bytes())?;
        self.0.write_all(end.as_bytes())
    }
}

/// What the text report shows beyond the checks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// Every protocol on each side, with the OS default.
    pub matrix: bool,
    /// Files found in folders and not audited: each registry-like one gets a
    /// line, the others a count (or a line each with `verbose`).
    pub skipped: &'a [Skipped],
    pub verbose: bool,
    /// Colour the verdict words (the caller decides: a terminal, `--color`).
    pub color: bool,
    /// `--summary`: the inputs that are not compliant were listed one line
    /// each as they came ([`brief`]); the summary shows the counts and the
    /// configurations one line each, within [`WIDTH`] columns.
    pub summary: bool,
    /// The files the audit applied with `--apply`, as given: the `Next:`
    /// hint asks the fix of the same state.
    pub applied: &'a [String],
    /// No INPUT was given (the files applied start from an empty machine):
    /// then there is nothing to suggest a fix of.
    pub no_input: bool,
    /// The one INPUT given, as reports name it (a URL without its query):
    /// the file to ask a fix of when a report names a disk inside it
    /// (`x.ova!disk1.vmdk [partition ...]`).
    pub input: Option<&'a str>,
}

/// How wide a `--summary` line may be, in characters: one screen of a
/// terminal or a CI log. A longer line ends in `…`.
pub const WIDTH: usize = 120;

/// A verdict word padded to the report's column, coloured when asked:
/// COMPLIANT green, NONCOMPLIANT red, ERROR and SKIPPED yellow. Only the
/// word is styled; it is written raw, past the escaping, and is never data.
fn verdict_word(word: &str, color: bool) -> String {
    let pad = " ".repeat(13usize.saturating_sub(word.chars().count()));
    let paint = match word {
        "COMPLIANT" => anstyle::AnsiColor::Green,
        "NONCOMPLIANT" => anstyle::AnsiColor::Red,
        _ => anstyle::AnsiColor::Yellow,
    };
    let style = anstyle::Style::new().fg_color(Some(paint.into())).bold();
    match color {
        true => format!("{style}{word}{style:#}{pad}"),
        false => format!("{word}{pad}"),
    }
}

/// `s` cut to `width` characters, ending in `…` when cut.
fn fit(s: &str, width: usize) -> Cow<'_, str> {
    match s.char_indices().nth(width) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let keep: String = s.chars().take(width.saturating_sub(1)).collect();
            Cow::Owned(keep + "…")
        }
    }
}

/// `--summary`'s line for an input that is not compliant: its verdict, its
/// name and why ([`super::why`]), escaped, on one line of at most
/// [`WIDTH`] characters. Nothing for a compliant input.
pub fn brief(out: &mut dyn Write, o: &Outcome, color: bool) -> io::Result<()> {
    let verdict = o.verdict();
    if verdict == crate::fleet::Verdict::Compliant {
        return Ok(());
    }
    let why = super::why(o);
    let rest = match why.is_empty() {
        true => escape(o.path()).into_owned(),
        false => format!("{}: {}", escape(o.path()), escape(&why)),
    };
    let word = verdict.as_str().to_uppercase();
    let line = fit(&rest, WIDTH - 14);
    out.write_all(format!("{} {line}\n", verdict_word(&word, color)).as_bytes())
}

/// The whole report for outcomes at hand: [`header`], a [`block`] per
/// outcome, then the [`summary`]. A fleet run prints the same parts as its
/// inputs finish, keeping only a [`Tally`].
pub fn print(
    out: &mut dyn Write,
    policy: &Policy,
    outcomes: &[Outcome],
    options: Options,
) -> io::Result<()> {
    header(out, policy)?;
    let mut tally = Tally::new(Keep::TEXT);
    for o in outcomes {
        block(out, o, options.matrix)?;
        tally.add(o.record());
    }
    writeln!(out)?;
    summary(out, &tally, options)
}

/// The report's first line: what is required.
pub fn header(out: &mut dyn Write, policy: &Policy) -> io::Result<()> {
    writeln!(Escaping(out), "Required: {}", policy.title)
}

/// One input's findings, after a blank line.
pub fn block(out: &mut dyn Write, o: &Outcome, matrix: bool) -> io::Result<()> {
    let mut escaping = Escaping(out);
    let out: &mut dyn Write = &mut escaping;
    writeln!(out)?;
    match o {
        Outcome::Audited(a) => {
            input(out, a)?;
            if matrix {
                print_matrix(out, a)?;
            }
        }
        Outcome::Failed { path, error, .. } => {
            writeln!(out, "{path}")?;
            writeln!(out, "  could not be read: {error}")?;
        }
    }
    Ok(())
}

/// The verdict of each input, the files skipped, the fleet's counts and
/// configurations, and what to do next: everything the report says after
/// the inputs' findings, from a [`Tally`] kept with [`Keep::TEXT`]. A merge
/// of shards prints this part alone.
pub fn summary(out: &mut dyn Write, tally: &Tally, options: Options) -> io::Result<()> {
    let mut escaping = Escaping(out);
    let out: &mut dyn Write = &mut escaping;
    for r in tally.records().iter().filter(|_| !options.summary) {
        let tail = match r.detail {
            Detail::Inconclusive => " (a required value could not be read)".to_owned(),
            Detail::Unread => " (could not be read)".to_owned(),
            Detail::Checks {
                failing,
                total,
                not_evaluated,
                updates,
            } => {
                let mut parts = Vec::new();
                if failing > 0 {
                    parts.push(format!("{failing} of {total} checks fail"));
                }
                // Noncompliant for want of an update: said, or the verdict
                // line would give no reason at all.
                match updates {
                    0 => {}
                    1 => parts.push("an update is missing".to_owned()),
                    n => parts.push(format!("{n} updates are missing")),
                }
                if not_evaluated > 0 {
                    parts.push(format!("{not_evaluated} not evaluated"));
                }
                match parts.is_empty() {
                    true => String::new(),
                    false => format!(" ({})", parts.join(", ")),
                }
            }
        };
        let word = r.verdict.as_str().to_uppercase();
        // The word raw (no data in it), the rest escaped.
        out.write_all(verdict_word(&word, options.color).as_bytes())?;
        writeln!(out, " {}{tail}", r.path)?;
    }
    skipped(out, options)?;
    let summary = tally.summary();
    if summary.inputs > 1 || !options.skipped.is_empty() || options.summary {
        fleet(out, tally, options)?;
    }
    if summary.noncompliant > 0 && !options.summary {
        writeln!(out)?;
        for line in WHY.lines() {
            writeln!(out, "{line}")?;
        }
        if let (1, Some(r)) = (summary.inputs, tally.first()) {
            if let Some(next) = next_step(r, &options) {
                writeln!(out, "Next: {next}")?;
            }
        }
    }
    Ok(())
}

/// The command that writes the fix of what was audited: the same input,
/// the same `--apply` files, and an output none of them is. `None` when
/// there is no such command: the input was not read, no INPUT was given
/// (the files applied are the thing to fix, not a machine), or a file came
/// from standard input, which a second command cannot read again.
fn next_step(r: &Record, options: &Options) -> Option<String> {
    if r.detail == Detail::Unread || (options.no_input && r.kind != "live") {
        return None;
    }
    // The registry values are as required and only updates are missing:
    // `fix` would write nothing, so it is not the next step.
    if let Detail::Checks {
        failing: 0,
        updates: 1..,
        ..
    } = r.detail
    {
        return Some("install the updates the findings name (a .reg cannot), then restart".into());
    }
    let target = fix_target(r, options.input);
    if options.applied.iter().any(|a| a == "-") {
        return None;
    }
    let mut words = vec!["tlsreg".to_owned(), "fix".to_owned(), quoted(target)];
    for a in options.applied {
        words.push("--apply".into());
        words.push(quoted(a));
    }
    let read: Vec<&str> = std::iter::once(target)
        .chain(options.applied.iter().map(String::as_str))
        .collect();
    let out = ["fix.reg", "tls12-fix.reg"]
        .into_iter()
        .map(str::to_owned)
        .chain((2..).map(|n| format!("fix-{n}.reg")))
        .find(|o| !read.iter().any(|r| same_file(r, o)))?;
    words.push("-o".into());
    words.push(out);
    Some(words.join(" "))
}

/// Whether two paths as given name the same file, as far as their text
/// tells: `./fix.reg`, `FIX.REG` (Windows ignores case) and `fix.reg` do.
fn same_file(a: &str, b: &str) -> bool {
    let parts = |p: &str| -> Vec<String> {
        p.split(['/', '\\'])
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_lowercase)
            .collect()
    };
    parts(a) == parts(b)
}

/// A word of a command line, quoted when a shell would split or expand it:
/// in single quotes, which `sh` and PowerShell both take literally, or in
/// double quotes when the word holds a single quote.
fn quoted(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '/' | '\\' | '.' | '_' | '-' | ':' | '+' | ',' | '@')
        });
    match (plain, word.contains('\'')) {
        (true, _) => word.to_owned(),
        (false, false) => format!("'{word}'"),
        (false, true) => format!("\"{word}\""),
    }
}

/// The file to ask a fix of: an installation in an image is named
/// `FILE [partition ...]` (a disk of an OVA `FILE!disk1.vmdk [...]`), and
/// the fix is asked of the file given; the live registry is asked with
/// `--live`.
fn fix_target<'r>(r: &'r Record, input: Option<&'r str>) -> &'r str {
    let inside = |file: &str| {
        r.path
            .strip_prefix(file)
            .is_some_and(|rest| rest.starts_with(" [") || rest.starts_with('!'))
    };
    match (r.kind.as_str(), r.path.rfind(" [")) {
        ("live", _) => "--live",
        ("image", _) if input.is_some_and(inside) => input.unwrap_or_default(),
        ("image", Some(i)) if r.path.ends_with(']') => &r.path[..i],
        _ => r.path.as_str(),
    }
}

/// The article's step 1: Exchange and .NET as found, and each prerequisite;
/// one short line when no SOFTWARE hive was read.
fn prerequisites(out: &mut dyn Write, a: &Audit) -> io::Result<()> {
    use crate::audit::Prerequisites;
    use crate::schannel::prerequisites::{dotnet_name, exchange_name};
    let checks = match &a.prerequisites {
        Prerequisites::NoRules => return Ok(()),
        Prerequisites::NotEvaluated => {
            return writeln!(out, "  {:<12} not evaluated (no SOFTWARE hive)", "updates");
        }
        Prerequisites::Checked(checks) => checks,
    };
    let facts = a.products.clone().unwrap_or_default();
    let exchange = facts
        .exchange
        .map_or_else(|| "none installed".to_owned(), exchange_name);
    writeln!(out, "  {:<12} {exchange}", "Exchange")?;
    // .NET matters with Exchange; without, it is shown when known.
    match facts.dotnet_release {
        Some(r) => writeln!(out, "  {:<12} {}", ".NET", dotnet_name(r))?,
        None if facts.exchange.is_some() => {
            writeln!(out, "  {:<12} no .NET Framework 4.x", ".NET")?
        }
        None => {}
    }
    for c in checks {
        writeln!(
            out,
            "  {:<12} {}  {}  {}",
            "updates",
            c.status.as_str(),
            c.rule.code,
            c.found
        )?;
    }
    Ok(())
}

fn input(out: &mut dyn Write, a: &Audit) -> io::Result<()> {
    let loaded = &a.loaded;
    match loaded.sources.first() {
        Some(s) if s.role != Role::Applied => writeln!(out, "{}", s.name)?,
        _ => writeln!(
            out,
            "a machine with no SCHANNEL keys, after the files applied below"
        )?,
    }
    for s in &loaded.sources {
        let (role, name) = match s.role {
            Role::Input => ("read as", String::new()),
            // Where the SOFTWARE hive came from: beside SYSTEM, --software, an image.
            Role::Software => ("software", format!("{}: ", s.name)),
            Role::Applied => ("applied", format!("{}: ", s.name)),
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
    let os = match &a.os {
        Some(os) => os.describe(),
        None => "unknown (the input holds no SOFTWARE hive)".into(),
    };
    writeln!(out, "  {:<12} {os}", "OS")?;
    prerequisites(out, a)?;
    // One block per key; its columns are as wide as its own values, and a
    // value too long for a column goes on a line of its own below its row.
    const LONG: usize = 40;
    let checks = &a.evaluation.checks;
    let mut start = 0;
    while start < checks.len() {
        let key = &checks[start].key;
        let len = checks[start..].iter().take_while(|c| &c.key == key).count();
        let block = &checks[start..start + len];
        start += len;
        let width = |texts: &mut dyn Iterator<Item = String>, least: usize| {
            texts
                .map(|t| t.chars().count())
                .filter(|&n| n <= LONG)
                // A space more than the longest, as between the others.
                .fold(least, |w, n| w.max(n + 1))
        };
        let found_w = width(&mut block.iter().map(|c| c.found_text()), 15);
        let required_w = width(&mut block.iter().map(|c| c.requirement.expected_text()), 15);
        writeln!(out)?;
        writeln!(out, "  [{}]", key.join("\\"))?;
        for c in block {
            let at = c.origin().map(|o| format!("  at {}", location(a, &o)));
            let status = match c.status {
                Status::Ok if c.non_canonical => "ok (non-canonical)",
                Status::Ok => "ok",
                Status::Missing => "MISSING",
                Status::WrongValue => "WRONG VALUE",
                Status::WrongType => "WRONG TYPE",
                Status::Unreadable => "UNREADABLE",
                Status::Present => "MUST BE ABSENT",
                Status::NotEvaluated => "not evaluated",
            };
            let name = match c.requirement.rule {
                Rule::KeyAbsent => "(the key)",
                _ => c.requirement.value.as_str(),
            };
            let found = c.found_text();
            let long = found.chars().count() > LONG;
            writeln!(
                out,
                "    {:<18} found {:<found_w$} required {:<required_w$} {status}{}",
                if name.is_empty() { "@" } else { name },
                if long { "(below)" } else { found.as_str() },
                c.requirement.expected_text(),
                at.unwrap_or_default()
            )?;
            if long {
                writeln!(out, "    {:<18} found {found}", "")?;
            }
        }
    }
    if !a.other_sets.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "  Other control sets (they do not change the verdict):"
        )?;
        for (cs, e) in &a.other_sets {
            let failing = e.checks.iter().filter(|c| c.status.fails()).count();
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

fn print_matrix(out: &mut dyn Write, a: &Audit) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "  Protocol matrix:")?;
    writeln!(
        out,
        "    {:<28} {:<7} {:<15} {:<18} {:<26} OS default",
        "protocol", "side", "Enabled", "DisabledByDefault", "effective"
    )?;
    let show = |e: &Option<crate::registry::Entry>| {
        e.as_ref().map_or("-".to_owned(), |e| e.value.to_string())
    };
    for r in &a.matrix.rows {
        let os_default = match (&a.os, r.os_default) {
            (_, Some(d)) => d.as_str().to_owned(),
            (Some(os), None) if os.build.is_some() => "(no data)".to_owned(),
            _ => "(OS unknown)".to_owned(),
        };
        writeln!(
            out,
            "    {:<28} {:<7} {:<15} {:<18} {:<26} {os_default}",
            r.protocol,
            r.side,
            show(&r.enabled),
            show(&r.disabled_by_default),
            r.effective.describe()
        )?;
    }
    for f in &a.matrix.flags {
        writeln!(out, "    ! {}", f.message)?;
    }
    Ok(())
}

/// Files a folder held that were not audited, after the verdicts: a run
/// accounts for every file it was given.
fn skipped(out: &mut dyn Write, options: Options<'_>) -> io::Result<()> {
    let mut others = 0;
    for s in options.skipped {
        if s.notable || options.verbose {
            out.write_all(verdict_word("SKIPPED", options.color).as_bytes())?;
            writeln!(out, " {}: {}", s.path, s.reason)?;
        } else {
            others += 1;
        }
    }
    if others > 0 {
        let files = if others == 1 { "file" } else { "files" };
        out.write_all(verdict_word("SKIPPED", options.color).as_bytes())?;
        writeln!(
            out,
            " {others} other {files}: not a .reg file, a hive or a disk image (-v lists them)"
        )?;
    }
    Ok(())
}

/// The fleet view: counts, then inputs grouped by identical protocol values.
/// With `summary`, each group is one line, cut to [`WIDTH`].
fn fleet(out: &mut dyn Write, tally: &Tally, options: Options<'_>) -> io::Result<()> {
    let s = tally.summary();
    writeln!(out)?;
    let skipped = match options.skipped.len() {
        0 => String::new(),
        1 => "; 1 file skipped".to_owned(),
        n => format!("; {n} files skipped"),
    };
    writeln!(
        out,
        "Summary: {} inputs: {} compliant, {} noncompliant, {} could not be read{skipped}",
        s.inputs, s.compliant, s.noncompliant, s.error
    )?;
    let groups = tally.groups();
    if groups.len() < 2 && tally.conclusive() < 2 {
        return Ok(());
    }
    match groups.len() {
        1 => writeln!(
            out,
            "All {} readable inputs share one configuration: {}",
            tally.conclusive(),
            groups[0].description
        )?,
        n => writeln!(
            out,
            "Configurations ({n}; SCHANNEL protocol values, largest group first):"
        )?,
    }
    if groups.len() == 1 {
        return Ok(());
    }
    for g in &groups {
        let names: Vec<&str> = g.names.iter().map(String::as_str).collect();
        let shown = match g.count {
            0..=4 => names.join(", "),
            n => format!(
                "{}, ... ({} more)",
                names[..names.len().min(3)].join(", "),
                n - 3
            ),
        };
        let count = match g.count {
            1 => "1 input ".to_owned(),
            n => format!("{n} inputs"),
        };
        if options.summary {
            let line = format!("  {:<3} {count:<11} {}", g.label, escape(&g.description));
            out.write_all(format!("{}\n", fit(&line, WIDTH)).as_bytes())?;
            continue;
        }
        writeln!(out, "  {:<3} {count:<11} {}", g.label, g.description)?;
        writeln!(out, "      {shown}")?;
    }
    Ok(())
}

#[cfg(test)]
mod next_tests {
    #[test]
    fn same_file_and_quoting() {
        assert!(super::same_file("./FIX.reg", "fix.reg"));
        assert!(super::same_file(".\\fix.reg", "fix.reg"));
        assert!(!super::same_file("dir/fix.reg", "fix.reg"));
        assert_eq!(super::quoted("C:\\a\\b.reg"), "C:\\a\\b.reg");
        assert_eq!(super::quoted("a b.reg"), "'a b.reg'");
        assert_eq!(super::quoted("it's.reg"), "\"it's.reg\"");
    }
}
