//! Command-line arguments. Every flag is documented where it is defined; this
//! text is `--help`.

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "tlsreg",
    // Not argv[0]: help reads `tlsreg`, not `tlsreg.exe`, on every system.
    bin_name = "tlsreg",
    version,
    about = "Audit Windows SCHANNEL TLS registry settings offline, and write the .reg file that fixes them.",
    long_about = "\
Audit Windows SCHANNEL TLS registry settings offline, and write the .reg file that fixes them.

tlsreg reads exported .reg files, offline SYSTEM hives (with their transaction logs), disk
images (raw, VHD, VHDX, VMDK, qcow2, with the parents of snapshots; EnCase E01 sets; OVA
files; at a path or an https:// URL, read by range requests) and WIMs, without booting or
touching Windows, and on Windows the running machine's registry (--live). It checks that TLS 1.2 is explicitly enabled
for both Client and Server as Microsoft's article on Exchange Online / Office 365 mail flow
requires (DisabledByDefault=0, Enabled=1, REG_DWORD, under
HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2),
and writes the corrective .reg file in regedit's own format.

It reads a .reg file the way regedit applies it: lines regedit would skip are reported with
their line and column, later writes win, and deletions apply.",
    after_help = "\
Examples:
  tlsreg audit server.reg                  report, exit 0 if compliant, 1 if not, 2 on error
  tlsreg audit --format json *.reg         one JSON document for all inputs
  tlsreg diff server.reg                   what must change, as a unified diff
  tlsreg fix server.reg -o fix.reg         write the fix (UTF-16LE, as regedit exports)
  tlsreg audit --apply fix.reg server.reg  check the fix works before deploying it
  tlsreg template > tls12.reg              the article's settings as a .reg file"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Report whether each input has TLS 1.2 set as required.
    ///
    /// Exit status: 0 when every input is compliant, 1 when any is noncompliant,
    /// 2 when any input could not be read (the others are still audited).
    Audit(AuditArgs),
    /// Show what must change, as a unified diff of .reg text from the input's TLS 1.2
    /// keys to the required state.
    ///
    /// Exit status: 0 when nothing must change, 1 when something must, 2 on error.
    Diff(DiffArgs),
    /// Write the corrective .reg file: only the values that must change.
    ///
    /// The file is byte for byte what regedit exports: UTF-16LE with BOM, CRLF,
    /// paths under HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet. When nothing must
    /// change, nothing is written and the exit status is 0.
    Fix(FixArgs),
    /// Print the required state (the article's .reg block, or --policy's) in regedit's format.
    Template(TemplateArgs),
    /// Add up the JSONL reports of several runs (shards of one fleet) into the summary one
    /// run over all their inputs would print.
    ///
    /// A fleet too large for one run is split by whatever schedules the work (xargs -P, a CI
    /// matrix, one Kubernetes Job per share), each shard runs `tlsreg audit --format jsonl`,
    /// and `tlsreg merge` reads their outputs. A shard cut short (no closing counts line),
    /// one whose counts disagree with its lines, an input in two shards, or shards audited
    /// against different policies are errors: a merged report never leaves a machine out.
    ///
    /// Exit status: as for audit (0 all compliant, 1 any noncompliant, 2 any input unread),
    /// and 2 when a shard cannot be used.
    Merge(MergeArgs),
    /// Write a key of any input, with everything below it, as a regedit .reg file: the way
    /// to review a hive from a backup without booting it.
    ///
    /// KEY defaults to the SCHANNEL key. `CurrentControlSet` in KEY stands for the control
    /// set the input's `Select` key names (or --control-set), and the file names that set.
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A .reg file, an offline hive, or a disk image or WIM (its SYSTEM hive; see --install).
    /// A disk image may be an E01 set, an OVA or a URL, as for audit.
    #[arg(value_name = "INPUT")]
    pub input: String,

    /// The key to export, e.g. `HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders`.
    /// Short root names are accepted here.
    #[arg(
        value_name = "KEY",
        default_value = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL"
    )]
    pub key: String,

    #[command(flatten)]
    pub out: OutputArgs,

    #[command(flatten)]
    pub install: InstallArg,

    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Args, Debug)]
pub struct InstallArg {
    /// For a disk image holding several Windows installations, the one to read: N as
    /// `tlsreg audit` lists them (1 for the first); for a WIM, the image index audit shows
    /// as `[image N: ...]`. Not needed when the image holds one; audit with it reports that
    /// one only.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub install: Option<u32>,
}

#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    /// Code page for .reg files without a byte-order mark (REGEDIT4 files are ANSI).
    /// A number such as 1251 or 936, or a name such as windows-1251 or gbk. Without it,
    /// BOM-less files are read as Windows-1252, or as UTF-8 when they are valid UTF-8.
    #[arg(long, value_name = "CP")]
    pub codepage: Option<String>,

    /// Apply this .reg file on top of the input before auditing, as importing it would
    /// (repeatable, in order). With no INPUT, start from a machine with no SCHANNEL keys:
    /// the way to check a fix from a colleague, a forum or a translated article. `-` reads
    /// standard input.
    #[arg(long, value_name = "FIX.reg")]
    pub apply: Vec<String>,

    /// Read ControlSetNNN instead of the set `Select\Current` names (an offline hive has no
    /// CurrentControlSet). `all` audits every control set and reports each; the verdict
    /// still follows the current one. With `all`, diff shows one diff per control set, and
    /// fix writes one file with the fix of each set that needs one, under
    /// HKEY_LOCAL_MACHINE\SYSTEM\ControlSetNNN; export refuses `all` (give a number).
    #[arg(long, value_name = "N|all", value_parser = parse_control_set)]
    pub control_set: Option<ControlSetArg>,

    /// Read a dirty hive as it is, without replaying its transaction logs
    /// (SYSTEM.LOG1, SYSTEM.LOG2 beside it).
    #[arg(long)]
    pub no_logs: bool,

    /// The SOFTWARE hive that goes with a loose SYSTEM hive: it gives the OS version (for
    /// what Windows does when values are absent) and the .NET values some policies check.
    /// Disk images need no such option: their SOFTWARE is read with their SYSTEM.
    #[arg(long, value_name = "FILE")]
    pub software: Option<String>,

    /// Read no SOFTWARE hive, not even one found beside SYSTEM or in an image: the OS
    /// version, and the Windows, Exchange and .NET prerequisites, are then unknown
    /// ("not evaluated").
    #[arg(long, conflicts_with = "software")]
    pub no_software: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlSetArg {
    Number(u32),
    All,
}

fn parse_control_set(s: &str) -> Result<ControlSetArg, String> {
    if s.eq_ignore_ascii_case("all") {
        return Ok(ControlSetArg::All);
    }
    let digits = s.strip_prefix("ControlSet").unwrap_or(s);
    match digits.parse::<u32>() {
        Ok(n) if n > 0 => Ok(ControlSetArg::Number(n)),
        _ => Err(format!(
            "`{s}` is not a control set: give a number such as 1 (ControlSet001) or `all`"
        )),
    }
}

#[derive(Args, Debug)]
pub struct PolicyArg {
    /// The required state: a built-in policy (article, exchange, tls12-only, stig-iis10,
    /// cis-iis10) or a .reg file of your own, in which every value is required and every
    /// `"name"=-` and `[-key]` must be absent. `tlsreg template --policy NAME` prints a built-in
    /// one to start from.
    #[arg(long, value_name = "NAME|FILE.reg", default_value = "article")]
    pub policy: String,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// The inputs to audit: exported .reg files, offline SYSTEM hives (recognised by their
    /// `regf` signature, whatever their name; SYSTEM.LOG1/.LOG2 beside them are replayed),
    /// disk images (raw, VHD, VHDX, VMDK, qcow2: every Windows installation on them is
    /// audited, read-only, without mounting; a snapshot or differencing disk reads through
    /// its parents, found beside it), EnCase E01 sets (give the .E01; .E02... are found
    /// beside it), OVA files (each disk the OVF names), WIM and ESD files (every image in
    /// them), or folders, searched recursively for every file that is one of these (by
    /// content, not name; the rest is skipped quietly, see -v). A disk image may be an
    /// https:// or http:// URL (an Azure SAS, an S3 presigned URL): read by range requests,
    /// never downloaded, named without its query string.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Audit the registry of the machine tlsreg runs on (HKEY_LOCAL_MACHINE, read through the
    /// Windows API) instead of a file: the same report an export of it would give, named
    /// \\COMPUTER\HKLM; --apply applies on top of it as on a file. Windows only; elsewhere,
    /// audit an exported .reg file, a hive or a disk image.
    #[arg(long, conflicts_with_all = ["inputs", "software", "no_software", "no_logs", "control_set", "install"])]
    pub live: bool,

    /// Output format: `text` for people; `json` for one document {"inputs":[...],
    /// "summary":{...}}; `jsonl` for one JSON object per line: each file skipped, then each
    /// input in order as it is audited, then a line {"summary":{...}} with the counts (for
    /// pipelines over large fleets, and the shards `tlsreg merge` adds up); `junit` for JUnit
    /// XML, so CI that builds golden images shows the audit as test results (Azure Pipelines
    /// PublishTestResults, GitLab junit reports, Jenkins junit): a <testsuite> per input, a
    /// <testcase> per check named like `TLS 1.2\Client\Enabled` (classname: the input),
    /// <failure> for a failing check, <error> for an input or value that cannot be read,
    /// <skipped/> for a check the input cannot answer. Skipped files are left out. Each suite
    /// has its counts; <testsuites> has none, so the report streams.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,

    /// Print only what a fleet needs at a glance: one line per input that is not compliant
    /// (its verdict, its name and why: the failing checks, or the error), then the counts
    /// and one line per configuration; compliant inputs get no line, and no input gets its
    /// block of checks and findings (nor --matrix). Lines are cut to 120 characters (`…`).
    /// For the text report only: with --format json, jsonl or junit it is an error.
    #[arg(long)]
    pub summary: bool,

    /// Colour the verdicts (COMPLIANT green, NONCOMPLIANT red, ERROR and SKIPPED yellow):
    /// `auto` colours them on a terminal that shows colour, unless NO_COLOR is set,
    /// CLICOLOR=0 or TERM=dumb; CLICOLOR_FORCE colours them anywhere. Machine formats (json,
    /// jsonl, junit) are never coloured.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// In the report, also list each file in the folders that is not a registry file
    /// (notes, pictures), with why. Registry files read another way (transaction logs,
    /// hives other than SYSTEM), FIFOs and devices are always listed; the JSON report
    /// lists every file under "skipped". On standard error, what each URL input cost
    /// (requests, bytes fetched).
    #[arg(short, long)]
    pub verbose: bool,

    /// Also show every protocol SCHANNEL knows (PCT 1.0 to TLS 1.3 and DTLS) on each side:
    /// the values found, what they add up to, and the OS default where they are absent
    /// (known when the input holds the SOFTWARE hive). Always in the JSON report.
    #[arg(long)]
    pub matrix: bool,

    #[command(flatten)]
    pub install: InstallArg,

    #[command(flatten)]
    pub policy: PolicyArg,

    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The JSONL files written by `tlsreg audit --format jsonl`, one per shard, in the order
    /// their inputs are to be listed. Several runs concatenated in one file are read too.
    #[arg(value_name = "SHARD.jsonl", required = true)]
    pub shards: Vec<String>,

    /// Output format: `text`, the end of an audit's report (each input's verdict, the
    /// files skipped, the counts and the configurations); `json`, the whole document of
    /// `tlsreg audit --format json` with every input's object; `jsonl`, the shards' lines
    /// in order and one counts line, a shard itself (merges can be merged).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// In the text report, also list each skipped file that is not a registry file.
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The .reg file, offline hive, disk image or WIM to compare with the required state. A
    /// disk image may be an E01 set, an OVA or a URL, as for audit.
    #[arg(value_name = "INPUT", required_unless_present = "live")]
    pub input: Option<String>,

    /// Compare the registry of the machine tlsreg runs on (HKEY_LOCAL_MACHINE, read through
    /// the Windows API) instead of a file. Windows only; elsewhere, give an exported .reg
    /// file, a hive or a disk image.
    #[arg(long, conflicts_with_all = ["input", "software", "no_software", "no_logs", "control_set", "install"])]
    pub live: bool,

    /// Colour the diff: `auto` colours it on a terminal that shows colour,
    /// unless NO_COLOR is set or CLICOLOR=0; CLICOLOR_FORCE colours it anywhere.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    #[command(flatten)]
    pub install: InstallArg,

    #[command(flatten)]
    pub policy: PolicyArg,

    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Write to FILE instead of standard output (`-` is standard output). The file appears
    /// whole or not at all; an existing file is kept unless --force is given. FILE is never
    /// a file the command reads (the input, its logs, --software, --apply, --policy), even
    /// with --force.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Overwrite FILE if it exists.
    #[arg(long, requires = "output")]
    pub force: bool,

    /// Text encoding: `utf16` (UTF-16LE with BOM, what regedit writes and every regedit
    /// reads) or `utf8` (UTF-8 without BOM, for review and version control).
    #[arg(long, value_enum, default_value_t = EncodingArg::Utf16)]
    pub encoding: EncodingArg,
}

#[derive(Args, Debug)]
pub struct FixArgs {
    /// The .reg file, offline hive, disk image or WIM to fix (a disk image may be an E01 set,
    /// an OVA or a URL, as for audit). The fix targets
    /// HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet, for regedit on the live machine
    /// (ControlSetNNN with --control-set all).
    #[arg(value_name = "INPUT", required_unless_present = "live")]
    pub input: Option<String>,

    /// Fix the registry of the machine tlsreg runs on (HKEY_LOCAL_MACHINE, read through the
    /// Windows API) instead of a file: the .reg file is written, never imported. Windows
    /// only; elsewhere, give an exported .reg file, a hive or a disk image.
    #[arg(long, conflicts_with_all = ["input", "software", "no_software", "no_logs", "control_set", "install"])]
    pub live: bool,

    /// Write the whole article block (every required value), not only what differs.
    #[arg(long)]
    pub full: bool,

    /// Also rewrite values that are compliant but non-canonical (Enabled=0xffffffff
    /// becomes 1), for STIG and CIS checks that compare with 1.
    #[arg(long)]
    pub canonical: bool,

    /// Also delete the near misses the audit found (keys such as `TLS 1,2` or
    /// `TLS 1.2 \ Client`, values such as `Disablebydefault` or a translated `Enabled`), with
    /// `[-key]` and `"name"=-` lines. Never done by default: review them first.
    #[arg(long)]
    pub remove_near_misses: bool,

    #[command(flatten)]
    pub out: OutputArgs,

    #[command(flatten)]
    pub install: InstallArg,

    #[command(flatten)]
    pub policy: PolicyArg,

    #[command(flatten)]
    pub read: ReadArgs,
}

#[derive(Args, Debug)]
pub struct TemplateArgs {
    #[command(flatten)]
    pub out: OutputArgs,

    #[command(flatten)]
    pub policy: PolicyArg,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Jsonl,
}

/// What `audit` can write: the formats, and JUnit XML.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditFormat {
    Text,
    Json,
    Jsonl,
    Junit,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodingArg {
    Utf16,
    Utf8,
}
