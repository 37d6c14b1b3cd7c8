//! Wires arguments to the library: read inputs, evaluate, print.

mod args;
mod merge;
mod ordered;
mod output;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anstyle::AnsiColor;
use clap::Parser;

use tlsreg::fleet::{Keep, Tally};
use tlsreg::input::{self, Options};
use tlsreg::regfile::{self, OutputEncoding};
use tlsreg::report::text::escape;
use tlsreg::report::{self, Outcome, Summary};
use tlsreg::schannel::Policy;
use tlsreg::{audit, diff, fix};

use args::{
    AuditArgs, AuditFormat, Cli, Color, Command, ControlSetArg, DiffArgs, EncodingArg, ExportArgs,
    FixArgs, PolicyArg, ReadArgs, TemplateArgs,
};

/// Exit status for an input that could not be read, or any other failure.
const EXIT_ERROR: i32 = 2;

pub fn run() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Audit(a) => run_audit(a),
        Command::Diff(a) => run_diff(a),
        Command::Fix(a) => run_fix(a),
        Command::Template(a) => run_template(a),
        Command::Export(a) => run_export(a),
        Command::Merge(a) => merge::run(a),
    };
    // A seam for the tests: what the run asked of the file system, counted
    // (tests/fleet_scale.rs shows a folder's cost is linear in its files).
    #[cfg(debug_assertions)]
    if std::env::var_os("TLSREG_DEBUG_IO_COUNTS").is_some() {
        let c = tlsreg::fsio::count::now();
        eprintln!(
            "tlsreg: io counts: opens={} stats={} dir_reads={} dir_entries={}",
            c.opens, c.stats, c.dir_reads, c.dir_entries
        );
    }
    match result {
        Ok(code) => code,
        // The reader of our output went away: nothing more to say to it.
        Err(_) if output::stdout_gone() => EXIT_ERROR,
        Err(message) => {
            eprintln!("tlsreg: {}", escape(&message));
            EXIT_ERROR
        }
    }
}

/// The policy `--policy` names; what its reader noticed goes to standard error.
fn policy(arg: &PolicyArg) -> Result<Policy, String> {
    let loaded = tlsreg::policies::load(&arg.policy, None).map_err(|e| e.to_string())?;
    for w in &loaded.warnings {
        eprintln!("tlsreg: policy: {}", escape(&w.to_string()));
    }
    Ok(loaded.policy)
}

fn options(read: &ReadArgs) -> Result<Options, String> {
    let codepage = match &read.codepage {
        Some(cp) => Some(regfile::codepage(cp).ok_or_else(|| {
            format!("unknown code page `{cp}` (try a number such as 1251, or a name such as windows-1251)")
        })?),
        None => None,
    };
    let control_set = match read.control_set {
        Some(ControlSetArg::Number(n)) => Some(n),
        _ => None,
    };
    Ok(Options {
        codepage,
        control_set,
        no_logs: read.no_logs,
        software: read.software.clone(),
        no_software: read.no_software,
        software_packages: tlsreg::schannel::prerequisites::kbs()
            .into_iter()
            .map(String::from)
            .collect(),
        ..Options::default()
    })
}

/// The keys of the SOFTWARE hive a policy reads.
fn software_keys(policy: &Policy) -> Vec<Vec<String>> {
    policy
        .keys
        .iter()
        .filter(|(s, _)| *s == tlsreg::schannel::Scope::Software)
        .map(|(_, k)| k.clone())
        .collect()
}

/// Audits a loaded view: the current control set, or every one with `--control-set all`.
fn evaluate(loaded: input::Loaded, read: &ReadArgs, policy: &Policy) -> tlsreg::Audit {
    match read.control_set {
        Some(ControlSetArg::All) => tlsreg::audit_all_sets(loaded, policy),
        _ => audit(loaded, policy),
    }
}

/// Audits one input: one outcome, or one per Windows installation of a disk
/// image. With no input, the live registry (`live`) or the applied files alone.
fn load_outcomes(
    input: Option<&input::discover::Input>,
    live: bool,
    install: Option<u32>,
    read: &ReadArgs,
    opts: &Options,
    policy: &Policy,
) -> Vec<Outcome> {
    // A fault seam for the tests: debug builds panic on the input named
    // here, so the per-input containment of a bug can be shown working.
    #[cfg(debug_assertions)]
    if let (Some(i), Some(p)) = (input, std::env::var_os("TLSREG_DEBUG_PANIC_ON")) {
        assert!(
            p != i.path.as_str(),
            "TLSREG_DEBUG_PANIC_ON names {}",
            i.path
        );
    }
    let targets = match input {
        Some(i) => input::load_targets(i, &read.apply, opts),
        None if live => vec![input::Target {
            name: "HKLM".into(),
            kind: input::Kind::Live,
            loaded: input::live::load(&read.apply, opts),
        }],
        None => vec![input::Target {
            name: "-".into(),
            kind: input::Kind::Reg,
            loaded: input::load(None, &read.apply, opts),
        }],
    };
    // `--install N`: that installation only; a wrong N is the input's error.
    let targets = match (install, input) {
        (Some(n), Some(i)) => {
            let kind = targets.first().map_or(input::Kind::Image, |t| t.kind);
            match pick(&i.path, targets, Some(n)) {
                Ok((_, t)) => vec![t],
                Err(error) => {
                    return vec![Outcome::Failed {
                        path: i.path.clone(),
                        kind: kind.as_str(),
                        error,
                    }];
                }
            }
        }
        _ => targets,
    };
    targets
        .into_iter()
        .map(|t| match t.loaded {
            Ok(loaded) => Outcome::Audited(Box::new(evaluate(loaded, read, policy))),
            Err(e) => Outcome::Failed {
                path: t.name,
                kind: t.kind.as_str(),
                error: e.to_string(),
            },
        })
        .collect()
}

/// Refuses `--live` where this build cannot read a running registry.
fn live_available(live: bool) -> Result<(), String> {
    match live && !input::live::AVAILABLE {
        true => Err(input::live::unavailable()),
        false => Ok(()),
    }
}

/// The one target of an input that `fix`, `diff` and `export` read: the only
/// one, or the `install`th of a disk image's installations (a WIM's images),
/// in the order `tlsreg audit` lists them. With its place in `targets`.
fn pick(
    input: &str,
    mut targets: Vec<input::Target>,
    install: Option<u32>,
) -> Result<(usize, input::Target), String> {
    let image = targets
        .first()
        .is_some_and(|t| t.kind == input::Kind::Image);
    // An image that could not be opened at all is one failed target: its
    // error is the one to give, whatever --install says.
    let failed = targets.len() == 1 && targets[0].loaded.is_err();
    let list = || {
        targets
            .iter()
            .enumerate()
            .map(|(i, t)| format!("install {}: {}", i + 1, t.name))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match install {
        Some(_) if !image => {
            return Err(format!(
                "{input}: --install chooses a Windows installation of a disk image or WIM, and this input is not one"
            ));
        }
        None if targets.len() > 1 => {
            return Err(format!(
                "{input} holds {} Windows installations ({}); pass --install N to choose one (`tlsreg audit` reports each)",
                targets.len(),
                list()
            ));
        }
        Some(n) if !failed && n as usize > targets.len() => {
            return Err(format!(
                "{input} has no installation {n}: it holds {} ({}); pass --install N with one of these",
                targets.len(),
                list()
            ));
        }
        _ => {}
    }
    let at = match failed {
        true => 0,
        false => install.map_or(0, |n| n as usize - 1),
    };
    Ok((at, targets.swap_remove(at)))
}

/// What `diff` and `fix` work from: the input's name, and one audit (or one
/// per control set with `--control-set all`, in the order of their numbers).
struct Single {
    name: String,
    audits: Vec<tlsreg::Audit>,
}

/// Loads one input for `diff` and `fix`, where an unreadable input ends the
/// run: a file or one installation of an image (`install`), or the live
/// registry when `input` is `None`.
fn load_single(
    input: Option<&str>,
    install: Option<u32>,
    read: &ReadArgs,
    policy: &Policy,
) -> Result<Single, String> {
    let mut opts = options(read)?;
    opts.keep = Some(input::KeepKeys(tlsreg::schannel::relevant(policy)));
    opts.software_keys = software_keys(policy);
    let (name, loaded) = match input {
        Some(input) => {
            let given = input::discover::Input::given(input);
            let targets = input::load_targets(&given, &read.apply, &opts);
            let many = targets.len() > 1;
            // A URL is never shown with its query string (a signature).
            let input = tlsreg::image::source::display_name(input);
            let (_, target) = pick(&input, targets, install)?;
            // The installation's own name when there was a choice.
            let name = match many {
                true => target.name,
                false => input,
            };
            (Some(name), target.loaded)
        }
        None => (None, input::live::load(&read.apply, &opts)),
    };
    let loaded = loaded.map_err(|e| e.to_string())?;
    let audits = match read.control_set {
        Some(ControlSetArg::All) => tlsreg::per_set(loaded, policy),
        _ => vec![audit(loaded, policy)],
    };
    let name = name.unwrap_or_else(|| shown(None, &audits[0]).to_owned());
    for audit in &audits {
        if !audit.conclusive() {
            let why: Vec<String> = audit
                .findings()
                .into_iter()
                .filter(|f| f.code == "unreadable-value")
                .map(|f| f.message)
                .collect();
            return Err(format!("{name}: {}", why.join("; ")));
        }
    }
    Ok(Single { name, audits })
}

/// The name of the control set an audit read, for `--control-set all`.
fn set_of(audit: &tlsreg::Audit) -> &str {
    audit
        .loaded
        .control_set
        .as_ref()
        .map_or("CurrentControlSet", |cs| cs.name())
}

/// The input's name in messages: the path given, or the live registry's
/// (`\\COMPUTER\HKLM`).
fn shown<'a>(input: Option<&'a str>, audit: &'a tlsreg::Audit) -> &'a str {
    input.unwrap_or_else(|| {
        audit
            .loaded
            .sources
            .first()
            .map_or("HKLM", |s| s.name.as_str())
    })
}

fn run_audit(a: AuditArgs) -> Result<i32, String> {
    live_available(a.live)?;
    let policy = policy(&a.policy)?;
    let mut opts = options(&a.read)?;
    // Only what the audit reads is read from .reg exports.
    opts.keep = Some(input::KeepKeys(tlsreg::schannel::relevant(&policy)));
    opts.software_keys = software_keys(&policy);
    if a.summary && a.format != AuditFormat::Text {
        return Err(
            "--summary is for the text report: json and jsonl carry every input for a program to summarise, and junit is one test result per check"
                .into(),
        );
    }
    if a.inputs.is_empty() && a.read.apply.is_empty() && !a.live {
        return Err("audit needs an INPUT, --live, or --apply FIX.reg to check a fix on its own (see tlsreg audit --help)".into());
    }
    let found = input::discover::discover(&a.inputs);
    if a.install.install.is_some() && (found.inputs.len() != 1 || a.inputs.len() != 1) {
        return Err(
            "--install chooses an installation of one disk image or WIM: give that one INPUT"
                .into(),
        );
    }
    if !a.inputs.is_empty() && found.inputs.is_empty() && found.unreadable.is_empty() {
        // A shard of a fleet can hold nothing to audit: its JSONL still
        // accounts for its files, so a merge can add it up.
        if a.format == AuditFormat::Jsonl {
            let mut out = io::stdout().lock();
            Printer::jsonl(&mut out, &found.skipped)
                .and_then(|p| p.finish(&found.skipped))
                .map_err(output::stdout_failed)?;
        }
        return Err(format!(
            "no .reg file, hive or disk image found in {} ({} file(s) skipped; -v lists them)",
            a.inputs.join(", "),
            found.skipped.len()
        ));
    }
    let none = found.inputs.is_empty() && found.unreadable.is_empty();
    let total = if none { 1 } else { found.inputs.len() };
    let stdout = io::stdout();
    // Colour only for people, and as anstream decides for `auto`.
    let choice = match (a.format, a.color) {
        (AuditFormat::Text, Color::Auto) => anstream::AutoStream::choice(&stdout),
        (AuditFormat::Text, Color::Always) => anstream::ColorChoice::Always,
        _ => anstream::ColorChoice::Never,
    };
    let color = choice != anstream::ColorChoice::Never;
    let (mut plain, mut styled);
    let out: &mut dyn Write = match color {
        // On a Windows console without escape sequences, anstream writes
        // the colours through the console API.
        true => {
            styled = anstream::AutoStream::new(stdout.lock(), choice);
            &mut styled
        }
        false => {
            plain = stdout.lock();
            &mut plain
        }
    };
    let stdout_error = output::stdout_failed;
    let mut printer = match a.format {
        AuditFormat::Text => Printer::text(out, &policy, &a, color),
        AuditFormat::Json => Printer::json(out),
        AuditFormat::Jsonl => Printer::jsonl(out, &found.skipped),
        AuditFormat::Junit => Printer::junit(out),
    }
    .map_err(stdout_error)?;
    let progress = Progress::new(total, a.format == AuditFormat::Text);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Audits run in parallel and are printed in input order as they finish:
    // a few per thread wait at most, so memory does not grow with the fleet.
    let mut printed: io::Result<()> = Ok(());
    ordered::run(
        total,
        threads,
        threads * 8,
        |i| {
            let name = found.inputs.get(i).filter(|_| !none);
            let outcomes = isolated(name.map(|n| n.path.as_str()), || {
                load_outcomes(name, a.live, a.install.install, &a.read, &opts, &policy)
            });
            progress.tick();
            outcomes
        },
        |_, outcomes| {
            for o in &outcomes {
                if printed.is_ok() {
                    printed = printer.input(o);
                }
            }
            // Nobody reads the report any more (`| head`): stop auditing.
            printed.is_ok()
        },
    );
    progress.finish();
    printed.map_err(stdout_error)?;
    // What could not even be looked at is an error of the run, in order
    // after the inputs: what it holds is unknown.
    for (path, why) in &found.unreadable {
        let o = Outcome::Failed {
            path: path.clone(),
            kind: "unknown",
            error: format!("{path}: {why}"),
        };
        printer.input(&o).map_err(stdout_error)?;
    }
    let summary = printer.finish(&found.skipped).map_err(stdout_error)?;
    Ok(summary.exit_code())
}

/// The report being written, input by input: the inputs' findings go out
/// as each is audited, and only a [`Tally`] is kept for the summary.
struct Printer<'o> {
    out: &'o mut dyn Write,
    style: Style,
    tally: Tally,
}

/// What each format carries from the first input to the summary.
enum Style {
    Text {
        matrix: bool,
        verbose: bool,
        /// `--summary`: a line per input that is not compliant, no blocks.
        summary: bool,
        color: bool,
        applied: Vec<String>,
        no_input: bool,
    },
    Json(report::json::DocumentWriter),
    Jsonl,
    /// A `<testsuite>` per input, as it is audited.
    Junit,
}

impl<'o> Printer<'o> {
    fn text(
        out: &'o mut dyn Write,
        policy: &Policy,
        a: &AuditArgs,
        color: bool,
    ) -> io::Result<Printer<'o>> {
        report::text::header(out, policy)?;
        let style = Style::Text {
            matrix: a.matrix,
            verbose: a.verbose,
            summary: a.summary,
            color,
            applied: a.read.apply.clone(),
            no_input: a.inputs.is_empty() && !a.live,
        };
        // The summary's lines go out as the inputs come: it keeps counts
        // and groups, not a line per input.
        let keep = match a.summary {
            true => Keep::COUNTS,
            false => Keep::TEXT,
        };
        Ok(Printer::new(out, style, keep))
    }

    fn junit(out: &'o mut dyn Write) -> io::Result<Printer<'o>> {
        report::junit::start(out)?;
        Ok(Printer::new(out, Style::Junit, Keep::COUNTS))
    }

    fn json(out: &'o mut dyn Write) -> io::Result<Printer<'o>> {
        let writer = report::json::DocumentWriter::start(out)?;
        Ok(Printer::new(out, Style::Json(writer), Keep::JSON))
    }

    fn jsonl(
        out: &'o mut dyn Write,
        skipped: &[input::discover::Skipped],
    ) -> io::Result<Printer<'o>> {
        for s in skipped {
            writeln!(out, "{}", report::json::skipped(s))?;
        }
        Ok(Printer::new(out, Style::Jsonl, Keep::COUNTS))
    }

    fn new(out: &'o mut dyn Write, style: Style, keep: Keep) -> Printer<'o> {
        Printer {
            out,
            style,
            tally: Tally::new(keep),
        }
    }

    fn input(&mut self, o: &Outcome) -> io::Result<()> {
        self.tally.add(o.record());
        // Machine output keeps standard output for itself: failures are
        // also said on standard error (the text report says them inline).
        if let (Outcome::Failed { error, .. }, Style::Json(_) | Style::Jsonl | Style::Junit) =
            (o, &self.style)
        {
            eprintln!("tlsreg: {}", escape(error));
        }
        match &mut self.style {
            Style::Text {
                summary: true,
                color,
                ..
            } => report::text::brief(self.out, o, *color),
            Style::Text { matrix, .. } => report::text::block(self.out, o, *matrix),
            Style::Junit => report::junit::suite(self.out, o),
            Style::Json(w) => w.input(self.out, &report::json::input(o)),
            Style::Jsonl => {
                // Each line goes out whole and at once: a pipeline reading
                // it sees every input as it is audited.
                writeln!(self.out, "{}", report::json::input(o))?;
                self.out.flush()
            }
        }
    }

    fn finish(self, skipped: &[input::discover::Skipped]) -> io::Result<Summary> {
        match self.style {
            Style::Text {
                matrix,
                verbose,
                summary,
                color,
                applied,
                no_input,
            } => {
                // After the inputs' blocks; the summary's lines need none.
                if !summary {
                    writeln!(self.out)?;
                }
                let options = report::text::Options {
                    matrix,
                    skipped,
                    verbose,
                    color,
                    summary,
                    applied: &applied,
                    no_input,
                };
                report::text::summary(self.out, &self.tally, options)?;
            }
            Style::Json(w) => {
                let skipped: Vec<_> = skipped.iter().map(report::json::skipped).collect();
                let summary = report::json::summary(&self.tally, skipped.len());
                w.finish(self.out, &skipped, &summary)?;
            }
            Style::Jsonl => {
                let trailer = report::json::trailer(&self.tally, skipped.len());
                writeln!(self.out, "{trailer}")?;
            }
            Style::Junit => report::junit::finish(self.out)?,
        }
        self.out.flush()?;
        Ok(self.tally.summary())
    }
}

/// Runs one input's audit so that a bug cannot take the other inputs' results
/// with it: a panic (which no input should cause, but a fleet must survive)
/// becomes that input's ERROR, worded as the bug it is.
fn isolated(name: Option<&str>, audit: impl FnOnce() -> Vec<Outcome>) -> Vec<Outcome> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(audit)) {
        Ok(outcomes) => outcomes,
        Err(payload) => {
            let what = match tlsreg::guard::panic_message(&*payload) {
                m if m.is_empty() => "no message".to_owned(),
                m => m,
            };
            let path = name.unwrap_or("-").to_owned();
            vec![Outcome::Failed {
                error: format!(
                    "{path}: tlsreg failed on this input (a panic: {what}); this is a bug in tlsreg, not a verdict on the input: please report it"
                ),
                path,
                kind: "unknown",
            }]
        }
    }
}

/// A progress bar on standard error, for text runs on a terminal that take
/// more than a moment; nothing otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    start: std::time::Instant,
}

impl Progress {
    fn new(total: usize, text: bool) -> Progress {
        let show = text && total > 1 && io::stderr().is_terminal();
        let bar = show.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::hidden(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} inputs, {per_sec}, {eta} left",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            start: std::time::Instant::now(),
        }
    }

    fn tick(&self) {
        if let Some(bar) = &self.bar {
            if bar.is_hidden() && self.start.elapsed() > std::time::Duration::from_millis(500) {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What `fix` and `diff` say of a compliant input, or of one control set
/// of it (`name` then ends in `[ControlSetNNN]`): one wording for both.
fn nothing_to_fix(name: &str, audits: &[tlsreg::Audit]) -> String {
    let non_canonical = audits
        .iter()
        .any(|audit| audit.evaluation.checks.iter().any(|c| c.non_canonical));
    let hint = match non_canonical {
        true => " (some values are non-canonical: `fix --canonical` rewrites them)",
        false => "",
    };
    format!(
        "tlsreg: {}: nothing to fix, the input is compliant{hint}",
        escape(name)
    )
}

fn run_diff(a: DiffArgs) -> Result<i32, String> {
    live_available(a.live)?;
    let policy = policy(&a.policy)?;
    let single = load_single(a.input.as_deref(), a.install.install, &a.read, &policy)?;
    let all = a.read.control_set == Some(ControlSetArg::All);
    let mut text = String::new();
    for audit in &single.audits {
        // With --control-set all, one diff per control set, each named.
        let name = match all {
            true => format!("{} [{}]", single.name, set_of(audit)),
            false => single.name.clone(),
        };
        let one = diff::unified(audit, &policy, &name);
        if one.is_empty() && all {
            eprintln!("{}", nothing_to_fix(&name, std::slice::from_ref(audit)));
        }
        text.push_str(&one);
    }
    if text.is_empty() {
        eprintln!("{}", nothing_to_fix(&single.name, &single.audits));
        return Ok(0);
    }
    // anstream decides for `auto`: a terminal that takes colour, NO_COLOR,
    // CLICOLOR and CLICOLOR_FORCE; on a Windows console it turns on escape
    // sequences, or falls back to the console API.
    let choice = match a.color {
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
        Color::Auto => anstream::ColorChoice::Auto,
    };
    let mut out = anstream::AutoStream::new(io::stdout(), choice).lock();
    for line in text.lines() {
        // Names in the diff come from the input: shown escaped, like the
        // report, so none can move the cursor or forge a line.
        let line = escape(line);
        let paint = match line.as_bytes().first() {
            Some(b'+') if !line.starts_with("+++") => Some(AnsiColor::Green),
            Some(b'-') if !line.starts_with("---") => Some(AnsiColor::Red),
            Some(b'@') => Some(AnsiColor::Cyan),
            _ => None,
        };
        // A plain style writes nothing, neither before nor after.
        let style = anstyle::Style::new().fg_color(paint.map(Into::into));
        writeln!(out, "{style}{line}{style:#}").map_err(output::stdout_failed)?;
    }
    Ok(1)
}

/// Refuses `-o` when it names a file the command reads: the input, its
/// transaction logs, `--software` and its logs, every `--apply` file and a
/// `--policy` file. Checked before anything is read or written.
fn check_output(
    out: &args::OutputArgs,
    input: Option<&str>,
    read: Option<&ReadArgs>,
    policy: Option<&PolicyArg>,
) -> Result<(), String> {
    let Some(target) = out.output.as_deref() else {
        return Ok(());
    };
    let mut hives: Vec<(PathBuf, &str)> = Vec::new();
    if let Some(i) = input.filter(|i| *i != "-") {
        hives.push((PathBuf::from(i), "the input"));
    }
    if let Some(s) = read.and_then(|r| r.software.as_deref()) {
        hives.push((PathBuf::from(s), "the --software hive"));
    }
    let mut reads: Vec<(PathBuf, String)> = Vec::new();
    for (h, what) in &hives {
        reads.push((h.clone(), (*what).to_owned()));
        for log in tlsreg::input::folder::sibling_logs(h) {
            reads.push((log, format!("a transaction log of {what} {}", h.display())));
        }
    }
    for a in read.iter().flat_map(|r| &r.apply).filter(|a| *a != "-") {
        reads.push((PathBuf::from(a), "an --apply file".to_owned()));
    }
    if let Some(p) = policy.filter(|p| Path::new(&p.policy).is_file()) {
        reads.push((PathBuf::from(&p.policy), "the --policy file".to_owned()));
    }
    let hives: Vec<PathBuf> = hives.into_iter().map(|(h, _)| h).collect();
    output::check_target(target, &reads, &hives)
}

/// Writes a `.reg` file where `--output`, `--force` and `--encoding` say.
fn emit(export: &regfile::Export, out: &args::OutputArgs) -> Result<(), String> {
    output::emit(
        export,
        encoding(out.encoding),
        out.output.as_deref(),
        out.force,
    )
}

fn encoding(e: EncodingArg) -> OutputEncoding {
    match e {
        EncodingArg::Utf16 => OutputEncoding::Utf16Le,
        EncodingArg::Utf8 => OutputEncoding::Utf8,
    }
}

fn run_fix(a: FixArgs) -> Result<i32, String> {
    live_available(a.live)?;
    check_output(&a.out, a.input.as_deref(), Some(&a.read), Some(&a.policy))?;
    let policy = policy(&a.policy)?;
    let single = load_single(a.input.as_deref(), a.install.install, &a.read, &policy)?;
    let all = a.read.control_set == Some(ControlSetArg::All);
    let mut export: Option<regfile::Export> = None;
    let mut count = 0;
    let mut outside = false;
    for audit in &single.audits {
        let mut changes = if a.full {
            fix::full_changes(&policy)
        } else {
            audit.evaluation.changes(a.canonical)
        };
        // Keys outside the control set (SOFTWARE) are fixed once.
        if outside {
            changes.retain(|c| c.scope == tlsreg::schannel::Scope::ControlSet);
        }
        let removals: Vec<_> = match a.remove_near_misses {
            true => audit
                .evaluation
                .near_misses
                .iter()
                .map(|m| m.remedy.clone())
                .collect(),
            false => Vec::new(),
        };
        let base = tlsreg::schannel::base_path(audit.loaded.control_set.as_ref());
        // With --control-set all, each set's keys under its own name.
        let set = match all {
            true => set_of(audit),
            false => tlsreg::registry::control_set::LIVE_LINK,
        };
        let Some(one) = fix::render_in_set(&policy, &changes, &removals, &base, set) else {
            if all {
                let name = format!("{} [{set}]", single.name);
                eprintln!("{}", nothing_to_fix(&name, std::slice::from_ref(audit)));
            }
            continue;
        };
        outside |= changes
            .iter()
            .any(|c| c.scope != tlsreg::schannel::Scope::ControlSet);
        count += changes.len();
        match &mut export {
            Some(e) => {
                e.append(&one);
            }
            None => export = Some(one),
        }
    }
    // Updates the article's step 1 needs: no .reg installs them.
    let mut updates: Vec<String> = Vec::new();
    for u in single.audits.iter().flat_map(|a| a.updates_needed()) {
        if !updates.contains(&u) {
            updates.push(u);
        }
    }
    for u in &updates {
        eprintln!(
            "tlsreg: {}: this fix cannot install {}; install it too",
            escape(&single.name),
            escape(u)
        );
    }
    let Some(mut export) = export else {
        eprintln!(
            "{}; nothing was written",
            nothing_to_fix(&single.name, &single.audits)
        );
        return Ok(0);
    };
    if !updates.is_empty() {
        let mut text =
            vec!["This file cannot install these updates, which TLS 1.2 also needs:".to_owned()];
        text.extend(updates.iter().map(|u| format!("  {u}")));
        export.comment_at_top(&text);
    }
    emit(&export, &a.out)?;
    if let Some(p) = a.out.output.as_deref().filter(|p| !output::is_stdout(p)) {
        eprintln!(
            "tlsreg: wrote {} ({count} value(s)); import it with regedit, then restart the server",
            escape(&p.display().to_string()),
        );
    }
    Ok(0)
}

fn run_template(a: TemplateArgs) -> Result<i32, String> {
    check_output(&a.out, None, None, Some(&a.policy))?;
    // A built-in policy prints as shipped, comments and all; a user's file is
    // checked, then printed as regedit would write it.
    let export = match tlsreg::policies::template(&a.policy.policy) {
        Some(e) => e,
        None => {
            let p = policy(&a.policy)?;
            fix::render(&p, &fix::full_changes(&p)).ok_or("the policy requires nothing")?
        }
    };
    emit(&export, &a.out)?;
    Ok(0)
}

/// `HKLM\SYSTEM\...` as path parts with the long root name.
fn parse_key(key: &str) -> Result<Vec<String>, String> {
    let mut parts = key.trim_matches('\\').split('\\').filter(|p| !p.is_empty());
    let root = parts.next().unwrap_or_default();
    let (root, _) = regfile::parse_root(root).ok_or_else(|| {
        format!("`{root}` is not a registry root (HKEY_LOCAL_MACHINE, HKLM, ...)")
    })?;
    Ok(std::iter::once(root.long_name().to_owned())
        .chain(parts.map(str::to_owned))
        .collect())
}

fn run_export(a: ExportArgs) -> Result<i32, String> {
    use tlsreg::registry::Severity;
    use tlsreg::registry::control_set::LIVE_LINK;
    use tlsreg::registry::name;

    if a.read.control_set == Some(ControlSetArg::All) {
        return Err(
            "export writes one control set: give --control-set N (1 for ControlSet001), or name ControlSetNNN in KEY"
                .into(),
        );
    }
    check_output(&a.out, Some(&a.input), Some(&a.read), None)?;
    let mut opts = options(&a.read)?;
    opts.require_system = false;
    let mut path = parse_key(&a.key)?;
    // A .reg input keeps only the way to the key and below it: exporting
    // one key of a whole-HKLM export must not cost the whole export.
    opts.keep = Some(input::KeepKeys(tlsreg::registry::subtree_filter(&path)));
    // Resolve CurrentControlSet the way an audit does, then read the key:
    // a file, a hive, or one installation of a disk image or WIM.
    let given = input::discover::Input::given(&a.input);
    let targets = input::load_targets(&given, &a.read.apply, &opts);
    let many = targets.len() > 1;
    // A URL is never shown with its query string (a signature).
    let input_shown = tlsreg::image::source::display_name(&a.input);
    let (at, target) = pick(&input_shown, targets, a.install.install)?;
    let (kind, shown) = match many {
        true => (target.kind, target.name),
        false => (target.kind, input_shown),
    };
    let mut loaded = target.loaded.map_err(|e| e.to_string())?;
    let control_set = loaded.control_set.clone();
    if let Some(cs) = &control_set {
        let system = &cs.path[..cs.path.len() - 1];
        let live = path.len() > system.len()
            && path.iter().zip(system).all(|(x, y)| name::eq(x, y))
            && name::eq(&path[system.len()], LIVE_LINK);
        if live {
            path.splice(..=system.len(), cs.path.iter().cloned());
        }
    }
    if matches!(kind, input::Kind::Hive | input::Kind::Image) {
        let mount = input::hive::mount();
        let inside =
            path.len() >= 2 && name::eq(&path[0], &mount[0]) && name::eq(&path[1], &mount[1]);
        if !inside {
            return Err(format!(
                "{shown}: a SYSTEM hive holds only keys under HKEY_LOCAL_MACHINE\\SYSTEM"
            ));
        }
        // The audit read only SCHANNEL's neighbourhood; read the key asked
        // for, whole, from the same hive (the same installation).
        opts.scope = input::Scope::Key(path[2..].to_vec());
        let again = input::load_targets(&given, &a.read.apply, &opts);
        loaded = again
            .into_iter()
            .nth(at)
            .ok_or_else(|| format!("{shown}: the installation is gone on a second read"))?
            .loaded
            .map_err(|e| e.to_string())?;
    }
    // Export shows what is there; what could not be read is said, not hidden.
    for d in loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
    {
        eprintln!(
            "tlsreg: warning: {}: {}",
            escape(&shown),
            escape(&d.message)
        );
    }
    let key = loaded
        .root
        .find(&path)
        .ok_or_else(|| format!("{shown}: there is no key {}", path.join("\\")))?;
    let mut export = regfile::Export::new();
    export.tree(&path, key);
    emit(&export, &a.out)?;
    if let Some(cs) = &control_set {
        eprintln!(
            "tlsreg: control set {} ({})",
            escape(cs.name()),
            escape(&cs.reason.to_string())
        );
    }
    Ok(0)
}
