//! `tlsreg merge`: the JSONL reports of several runs added up into the
//! summary of one run over all their inputs.
//!
//! Shards come from schedulers tlsreg knows nothing of, so each is checked
//! before anything is printed: it must end with its counts line (a run
//! killed half way has none), its counts must match its lines, no input may
//! be in two shards, and all must be audited against one policy. Only then
//! is the report written: a merged report never leaves a machine out.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use tlsreg::fleet::{Keep, Tally};
use tlsreg::fsio::FileKind;
use tlsreg::input::discover::Skipped;
use tlsreg::report::json::{self as json, Line};
use tlsreg::report::{self, Summary};

use super::args::{Format, MergeArgs};
use super::output;

/// The longest line read from a shard: an input with thousands of findings
/// is a few MiB; anything longer is not a line tlsreg wrote.
const MAX_LINE: usize = 64 << 20;

pub fn run(a: MergeArgs) -> Result<i32, String> {
    let keep = match a.format {
        Format::Text => Keep::TEXT,
        Format::Json => Keep::JSON,
        Format::Jsonl => Keep::COUNTS,
    };
    // The same file twice (by name, or by another name for it) would count
    // its inputs twice.
    let mut files = Vec::new();
    for shard in a.shards.iter().filter(|s| *s != "-") {
        let id = tlsreg::fsio::file_id(Path::new(shard));
        if let Some((first, _)) = files
            .iter()
            .find(|(name, other)| *name == shard || (id.is_some() && *other == id))
        {
            return Err(format!(
                "{shard} is given twice (as {first}): its inputs would be counted twice"
            ));
        }
        files.push((shard, id));
    }
    let mut check = Check::new(keep);
    for shard in &a.shards {
        // Text needs one read; json and jsonl copy every input's line, so
        // they read each shard a second time rather than hold them all.
        let stream_ok = a.format == Format::Text;
        check.shard_names.push(shard.clone());
        read_shard(shard, stream_ok, &mut |n, line, _| {
            check.line(shard, n, line)
        })?;
        check.end(shard)?;
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = match a.format {
        Format::Text => report::text::summary(
            &mut out,
            &check.tally,
            report::text::Options {
                matrix: false,
                skipped: &check.skipped,
                verbose: a.verbose,
                color: false,
                summary: false,
                // A shard's lines tell what each input was, not how it
                // was called: the hint is the plain one.
                applied: &[],
                no_input: false,
                input: None,
            },
        )
        .map_err(output::stdout_failed),
        Format::Json => write_json(&mut out, &a.shards, &check),
        Format::Jsonl => write_jsonl(&mut out, &a.shards, &check),
    };
    written.and_then(|()| out.flush().map_err(output::stdout_failed))?;
    Ok(check.tally.summary().exit_code())
}

/// What the shards said so far, checked line by line.
struct Check {
    tally: Tally,
    skipped: Vec<Skipped>,
    /// Each input's path, hashed (128 bits: no two of a fleet's paths meet
    /// by chance), with where it was first seen.
    seen: HashMap<u128, (usize, usize)>,
    hashers: (RandomState, RandomState),
    /// The shards read so far, for messages.
    shard_names: Vec<String>,
    /// The policy, and where it was first named.
    policy: Option<(String, String)>,
    /// The current run within the current shard.
    run: Run,
    /// Runs the current shard closed (a shard may be runs concatenated).
    runs: usize,
}

/// What a run's lines said so far, to check against its counts line.
#[derive(Default)]
struct Run {
    counted: Summary,
    skipped: usize,
    lines: usize,
}

impl Check {
    fn new(keep: Keep) -> Check {
        Check {
            tally: Tally::new(keep),
            skipped: Vec::new(),
            seen: HashMap::new(),
            hashers: (RandomState::new(), RandomState::new()),
            shard_names: Vec::new(),
            policy: None,
            run: Run::default(),
            runs: 0,
        }
    }

    fn line(&mut self, shard: &str, n: usize, line: Line) -> Result<(), String> {
        let at = |what: String| format!("{shard}:{n}: {what}");
        self.run.lines += 1;
        match line {
            Line::Input(record) => {
                self.unique(&format!("input:{}", record.path), &record.path, n)
                    .map_err(at)?;
                if let Some(p) = &record.policy {
                    match &self.policy {
                        None => self.policy = Some((p.clone(), format!("{shard}:{n}"))),
                        Some((first, where_)) if first != p => {
                            return Err(at(format!(
                                "audited against the policy `{p}`, but {where_} against `{first}`: a summary of both would mix two requirements (run the shards with one --policy)"
                            )));
                        }
                        Some(_) => {}
                    }
                }
                self.run.counted.add(record.verdict);
                self.tally.add(record);
            }
            Line::Skipped(s) => {
                self.unique(&format!("skipped:{}", s.path), &s.path, n)
                    .map_err(at)?;
                self.run.skipped += 1;
                self.skipped.push(s);
            }
            Line::Trailer(said, skipped) => {
                let run = std::mem::take(&mut self.run);
                if said != run.counted || skipped != run.skipped {
                    let c = &run.counted;
                    return Err(at(format!(
                        "the run's counts line says {} inputs ({} compliant, {} noncompliant, {} could not be read) and {skipped} skipped, but its lines hold {} ({}, {}, {}) and {} skipped: lines were lost or added",
                        said.inputs,
                        said.compliant,
                        said.noncompliant,
                        said.error,
                        c.inputs,
                        c.compliant,
                        c.noncompliant,
                        c.error,
                        run.skipped
                    )));
                }
                self.runs += 1;
            }
        }
        Ok(())
    }

    /// The end of a shard: its last run must be closed by its counts line.
    fn end(&mut self, shard: &str) -> Result<(), String> {
        let lines = std::mem::take(&mut self.run).lines;
        match (lines, std::mem::take(&mut self.runs)) {
            (0, 0) => Err(format!(
                "{shard}: empty: not the output of a finished `tlsreg audit --format jsonl` run"
            )),
            (0, _) => Ok(()),
            (n, _) => Err(format!(
                "{shard}: ends after {n} line(s) with no counts line {{\"summary\":...}}: the run that wrote it did not finish (killed, out of disk?), so inputs may be missing; run that shard again"
            )),
        }
    }

    /// An input (or skipped file) in two shards would be counted twice. In
    /// one shard it is as the run saw it: a file given twice, or two names
    /// that print alike, are counted as that run counted them.
    fn unique(&mut self, key: &str, path: &str, line: usize) -> Result<(), String> {
        let (a, b) = &self.hashers;
        let key = (u128::from(a.hash_one(key)) << 64) | u128::from(b.hash_one(key));
        let shard = self.shard_names.len().saturating_sub(1);
        match self.seen.get(&key) {
            None => {
                self.seen.insert(key, (shard, line));
                Ok(())
            }
            Some(&(s, _)) if s == shard => Ok(()),
            Some(&(s, l)) => Err(format!(
                "{} was already read at {}:{l}: a file in two shards would be counted twice (give each input to one shard)",
                tlsreg::report::text::escape(path),
                self.shard_names.get(s).map_or("?", String::as_str)
            )),
        }
    }
}

/// What is done with each line: its number, what it says, its text.
type EachLine<'a> = dyn FnMut(usize, Line, &[u8]) -> Result<(), String> + 'a;

/// Reads a shard's lines, numbered from 1, each parsed; blank lines are
/// passed over. The callback also gets the line's text, to copy it on.
/// A pipe is read only when `stream_ok` (it cannot be read twice).
fn read_shard(shard: &str, stream_ok: bool, each: &mut EachLine<'_>) -> Result<(), String> {
    let reader: Box<dyn Read> = match shard {
        "-" if stream_ok => Box::new(io::stdin()),
        "-" => {
            return Err(
                "standard input can be merged as text only (json and jsonl read each shard twice); give the shards as files".into(),
            );
        }
        _ => {
            let (file, kind) = tlsreg::fsio::open(Path::new(shard))
                .map_err(|e| format!("{shard}: cannot be read: {e}"))?;
            match kind {
                FileKind::Regular => {}
                FileKind::Fifo | FileKind::CharDevice if stream_ok => {}
                FileKind::Fifo | FileKind::CharDevice => {
                    return Err(format!(
                        "{shard}: {} can be merged as text only (json and jsonl read each shard twice); give a file",
                        kind.describe()
                    ));
                }
                k => return Err(format!("{shard}: is {}, not a JSONL file", k.describe())),
            }
            Box::new(file)
        }
    };
    // Windows PowerShell 5.1 saves `tlsreg audit --format jsonl > shard.jsonl`
    // as UTF-16LE with a BOM (and Out-File -Encoding utf8 with a UTF-8 BOM):
    // a BOM is followed, as the .reg reader does; without one, bytes pass as
    // they are (encoding_rs_io decodes and strips the BOM as a stream).
    let reader = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .bom_sniffing(true)
        .build(reader);
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        n += 1;
        buf.clear();
        let read = read_line(&mut reader, &mut buf).map_err(|e| format!("{shard}:{n}: {e}"))?;
        if !read {
            return Ok(());
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
            format!("{shard}:{n}: not a line of `tlsreg audit --format jsonl` ({e})")
        })?;
        let line = json::read_line(&value).map_err(|e| {
            format!("{shard}:{n}: not a line of `tlsreg audit --format jsonl`: {e}")
        })?;
        each(n, line, text)?;
    }
}

/// Reads one line (with its `\n`) into `buf`; false at the end. A line
/// longer than [`MAX_LINE`] is an error, found without holding more of it.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(!buf.is_empty());
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take > MAX_LINE {
            return Err(io::Error::other(format!(
                "a line over {} MiB: not a line tlsreg writes",
                MAX_LINE >> 20
            )));
        }
        buf.extend_from_slice(&chunk[..take]);
        reader.consume(take);
        if done {
            return Ok(true);
        }
    }
}

fn write_json(out: &mut dyn Write, shards: &[String], check: &Check) -> Result<(), String> {
    let stdout = output::stdout_failed;
    let mut doc = json::DocumentWriter::start(out).map_err(stdout)?;
    let mut inputs = 0;
    for shard in shards {
        read_shard(shard, false, &mut |n, line, raw| {
            if let Line::Input(_) = line {
                inputs += 1;
                let value: serde_json::Value = serde_json::from_slice(raw)
                    .map_err(|e| format!("{shard}:{n}: changed while merged ({e})"))?;
                doc.input(out, &value).map_err(stdout)?;
            }
            Ok(())
        })?;
    }
    changed_while_read(inputs, check)?;
    let skipped: Vec<_> = check.skipped.iter().map(json::skipped).collect();
    let summary = json::summary(&check.tally, skipped.len());
    doc.finish(out, &skipped, &summary).map_err(stdout)
}

fn write_jsonl(out: &mut dyn Write, shards: &[String], check: &Check) -> Result<(), String> {
    let stdout = output::stdout_failed;
    let mut inputs = 0;
    for shard in shards {
        read_shard(shard, false, &mut |_, line, raw| {
            match line {
                Line::Trailer(..) => return Ok(()),
                Line::Input(_) => inputs += 1,
                Line::Skipped(_) => {}
            }
            out.write_all(raw)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(stdout)
        })?;
    }
    changed_while_read(inputs, check)?;
    writeln!(out, "{}", json::trailer(&check.tally, check.skipped.len())).map_err(stdout)
}

/// The second read of the shards must find what the first counted.
fn changed_while_read(inputs: usize, check: &Check) -> Result<(), String> {
    match inputs == check.tally.summary().inputs {
        true => Ok(()),
        false => Err(format!(
            "the shards changed while they were merged ({} inputs, then {inputs}): the output above is incomplete; merge again",
            check.tally.summary().inputs
        )),
    }
}
