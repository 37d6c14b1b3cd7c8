//! Wires arguments to the library: read inputs, evaluate, print.

mod args;
mod output;

use std::io::{self, IsTerminal, Write};

use clap::Parser;

use tlsreg::input::{self, Options};
use tlsreg::regfile::{self, OutputEncoding};
use tlsreg::report::{self, Outcome, Summary};
use tlsreg::schannel::Policy;
use tlsreg::{audit, diff, fix};

use args::{
    AuditArgs, Cli, Color, Command, DiffArgs, EncodingArg, FixArgs, Format, ReadArgs, TemplateArgs,
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
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("tlsreg: {message}");
            EXIT_ERROR
        }
    }
}

fn options(read: &ReadArgs) -> Result<Options, String> {
    let codepage = match &read.codepage {
        Some(cp) => Some(regfile::codepage(cp).ok_or_else(|| {
            format!("unknown code page `{cp}` (try a number such as 1251, or a name such as windows-1251)")
        })?),
        None => None,
    };
    Ok(Options { codepage })
}

fn load_one(input: Option<&str>, read: &ReadArgs, opts: &Options, policy: &Policy) -> Outcome {
    match input::load(input, &read.apply, opts) {
        Ok(loaded) => Outcome::Audited(Box::new(audit(loaded, policy))),
        Err(e) => Outcome::Failed {
            path: input.unwrap_or("-").to_owned(),
            kind: "reg",
            error: e.to_string(),
        },
    }
}

/// Loads one input for `diff` and `fix`, where an unreadable input ends the run.
fn load_single(input: &str, read: &ReadArgs, policy: &Policy) -> Result<tlsreg::Audit, String> {
    let opts = options(read)?;
    let loaded = input::load(Some(input), &read.apply, &opts).map_err(|e| e.to_string())?;
    Ok(audit(loaded, policy))
}

fn run_audit(a: AuditArgs) -> Result<i32, String> {
    let policy = Policy::article();
    let opts = options(&a.read)?;
    if a.inputs.is_empty() && a.read.apply.is_empty() {
        return Err("audit needs an INPUT, or --apply FIX.reg to check a fix on its own (see tlsreg audit --help)".into());
    }
    let outcomes: Vec<Outcome> = if a.inputs.is_empty() {
        vec![load_one(None, &a.read, &opts, &policy)]
    } else {
        a.inputs
            .iter()
            .map(|i| load_one(Some(i), &a.read, &opts, &policy))
            .collect()
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let printed = match a.format {
        Format::Text => report::text::print(&mut out, &policy, &outcomes),
        Format::Json => {
            let doc = report::json::document(&outcomes);
            serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(io::Error::other)
                .and_then(|()| writeln!(out))
        }
    };
    printed
        .and_then(|()| out.flush())
        .map_err(|e| format!("standard output: {e}"))?;
    if a.format == Format::Json {
        for o in &outcomes {
            if let Outcome::Failed { error, .. } = o {
                eprintln!("tlsreg: {error}");
            }
        }
    }
    Ok(Summary::of(&outcomes).exit_code())
}

fn run_diff(a: DiffArgs) -> Result<i32, String> {
    let policy = Policy::article();
    let audit = load_single(&a.input, &a.read, &policy)?;
    let text = diff::unified(&audit, &policy, &a.input);
    if text.is_empty() {
        eprintln!(
            "tlsreg: {}: nothing to change, the input already has the required state",
            a.input
        );
        return Ok(0);
    }
    let color = match a.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let mut out = io::stdout().lock();
    for line in text.lines() {
        let paint = match line.as_bytes().first() {
            _ if !color => None,
            Some(b'+') if !line.starts_with("+++") => Some("32"),
            Some(b'-') if !line.starts_with("---") => Some("31"),
            Some(b'@') => Some("36"),
            _ => None,
        };
        match paint {
            Some(c) => writeln!(out, "\x1b[{c}m{line}\x1b[0m"),
            None => writeln!(out, "{line}"),
        }
        .map_err(|e| format!("standard output: {e}"))?;
    }
    Ok(1)
}

fn encoding(e: EncodingArg) -> OutputEncoding {
    match e {
        EncodingArg::Utf16 => OutputEncoding::Utf16Le,
        EncodingArg::Utf8 => OutputEncoding::Utf8,
    }
}

fn run_fix(a: FixArgs) -> Result<i32, String> {
    let policy = Policy::article();
    let audit = load_single(&a.input, &a.read, &policy)?;
    let changes = if a.full {
        fix::full_changes(&policy)
    } else {
        audit.evaluation.changes(a.canonical)
    };
    let Some(export) = fix::render(&policy, &changes) else {
        let hint = if audit.evaluation.checks.iter().any(|c| c.non_canonical) {
            " (some values are non-canonical: --canonical rewrites them)"
        } else {
            ""
        };
        eprintln!(
            "tlsreg: {}: nothing to fix, the input is compliant{hint}; nothing was written",
            a.input
        );
        return Ok(0);
    };
    output::emit(
        &export,
        encoding(a.out.encoding),
        a.out.output.as_deref(),
        a.out.force,
    )?;
    if let Some(p) = &a.out.output {
        eprintln!(
            "tlsreg: wrote {} ({} value(s)); import it with regedit, then restart the server",
            p.display(),
            changes.len()
        );
    }
    Ok(0)
}

fn run_template(a: TemplateArgs) -> Result<i32, String> {
    let policy = Policy::article();
    let export =
        fix::render(&policy, &fix::full_changes(&policy)).ok_or("the policy requires nothing")?;
    output::emit(
        &export,
        encoding(a.out.encoding),
        a.out.output.as_deref(),
        a.out.force,
    )?;
    Ok(0)
}
