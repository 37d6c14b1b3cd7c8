//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The result of one run of the `tlsreg` binary.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    /// Standard output as text: UTF-16LE behind a BOM (as export writes
    /// it, like regedit), UTF-8 otherwise, lossily.
    pub fn text(&self) -> String {
        match self.stdout.strip_prefix(&[0xFF, 0xFE]) {
            Some(units) => String::from_utf16_lossy(
                &units
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect::<Vec<_>>(),
            ),
            None => String::from_utf8_lossy(&self.stdout).into_owned(),
        }
    }
}

/// Runs `tlsreg` from the project root, so paths in its output are relative.
pub fn tlsreg(args: &[&str]) -> Run {
    Cmd::new(args).run()
}

pub fn tlsreg_in(dir: &Path, args: &[&str]) -> Run {
    Cmd::new(args).dir(dir).run()
}

/// What an examiner would hash before handing files to a tool: every file
/// an argument names (the input, `--apply`, `--software` and `--policy`
/// files, an `-o` target that already exists is left out: it is written on
/// purpose) and the transaction logs beside each, by SHA-256. Every run of
/// the binary in the tests checks them afterwards, `--force` or not.
pub struct Evidence(Vec<(std::path::PathBuf, [u8; 32])>);

impl Evidence {
    /// Files over this are sparse test giants: their size and the hash of
    /// their first and last MiB stand for them.
    const WHOLE: u64 = 256 << 20;

    pub fn of(dir: &Path, args: &[&str]) -> Evidence {
        let mut files = Vec::new();
        let mut output = false;
        for arg in args {
            if std::mem::take(&mut output) {
                continue;
            }
            if matches!(*arg, "-o" | "--output") {
                output = true;
                continue;
            }
            let path = dir.join(arg);
            if !path.is_file() {
                continue;
            }
            files.push(path.clone());
            if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
                let name = name.to_string_lossy().to_ascii_uppercase();
                for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
                    let other = entry.file_name().to_string_lossy().to_ascii_uppercase();
                    let log = ["LOG", "LOG1", "LOG2"]
                        .iter()
                        .any(|ext| other == format!("{name}.{ext}"));
                    if log && entry.path().is_file() {
                        files.push(entry.path());
                    }
                }
            }
        }
        files.sort();
        files.dedup();
        Evidence(files.into_iter().map(|f| (f.clone(), sha256(&f))).collect())
    }

    pub fn unchanged(&self, args: &[&str]) {
        for (file, before) in &self.0 {
            assert!(
                sha256(file) == *before,
                "tlsreg {args:?} changed {}",
                file.display()
            );
        }
    }
}

fn sha256(path: &Path) -> [u8; 32] {
    use sha2::Digest;
    use std::io::{Read, Seek, SeekFrom};
    let mut hash = sha2::Sha256::new();
    // Hashing must not be what moves an access time (tests check those too).
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOATIME);
    let mut file = options.open(path).unwrap();
    let len = file.metadata().unwrap().len();
    hash.update(len.to_le_bytes());
    let mut buf = vec![0u8; 1 << 20];
    let mut feed = |file: &mut std::fs::File, limit: u64| {
        let mut left = limit;
        while left > 0 {
            let n = file.read(&mut buf[..left.min(1 << 20) as usize]).unwrap();
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            left -= n as u64;
        }
    };
    if len <= Evidence::WHOLE {
        feed(&mut file, len);
    } else {
        feed(&mut file, 1 << 20);
        file.seek(SeekFrom::End(-(1 << 20))).unwrap();
        feed(&mut file, 1 << 20);
    }
    hash.finalize().into()
}

/// Runs the binary without the evidence check (for tests that hand it files
/// they mean to change, or none).
pub fn tlsreg_unchecked(dir: &Path, args: &[&str]) -> Run {
    Cmd::new(args).dir(dir).unchecked().run()
}

/// The findings of the first input in a `--format json` report.
pub fn findings(doc: &serde_json::Value) -> &[serde_json::Value] {
    doc["inputs"][0]["findings"]
        .as_array()
        .expect("a JSON report lists its findings")
}

/// insta, with snapshots in the top-level `snapshots/` folder.
#[macro_export]
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// UTF-16LE bytes with a BOM, as regedit writes them.
pub fn utf16(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// REG_SZ data as a .reg file writes it in hex: `hex(1):` followed by this,
/// the UTF-16LE bytes with the terminating NUL (the way to put a newline in
/// a value).
pub fn hex_sz(text: &str) -> String {
    let bytes: Vec<String> = text
        .encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .map(|b| format!("{b:02x}"))
        .collect();
    bytes.join(",")
}

/// Runs `tlsreg` in `dir` and measures its peak memory (resident set, bytes).
#[cfg(target_os = "linux")]
pub fn tlsreg_measured(dir: &Path, args: &[&str]) -> (Run, u64) {
    Cmd::new(args).dir(dir).measured()
}

/// One run of the binary, for the tests that need more than `tlsreg_in`:
/// `Cmd::new(args).dir(d).stdin(bytes).env(k, v).watchdog(60).run()`.
/// Every run hashes its inputs before and after (`Evidence`) unless told
/// `unchecked`, fails on a panic message, and on a death by signal.
pub struct Cmd<'a> {
    args: &'a [&'a str],
    dir: PathBuf,
    stdin: Option<Vec<u8>>,
    env: Vec<(&'a str, &'a str)>,
    watchdog: Option<Duration>,
    checked: bool,
    allow_panic: bool,
}

impl<'a> Cmd<'a> {
    /// In the project root, so paths in the output are relative.
    pub fn new(args: &'a [&'a str]) -> Self {
        Cmd {
            args,
            dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            stdin: None,
            env: Vec::new(),
            watchdog: None,
            checked: true,
            allow_panic: false,
        }
    }

    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = dir.to_path_buf();
        self
    }

    /// Bytes for its standard input (otherwise it reads end of file).
    pub fn stdin(mut self, bytes: &[u8]) -> Self {
        self.stdin = Some(bytes.to_vec());
        self
    }

    pub fn env(mut self, key: &'a str, value: &'a str) -> Self {
        self.env.push((key, value));
        self
    }

    /// Kills the child after `secs` seconds, failing the test as hung
    /// instead of stalling the suite (no timing is asserted).
    pub fn watchdog(mut self, secs: u64) -> Self {
        self.watchdog = Some(Duration::from_secs(secs));
        self
    }

    /// Without the evidence check (for files the run is meant to change).
    pub fn unchecked(mut self) -> Self {
        self.checked = false;
        self
    }

    /// Without the check for a panic message (a panic made on purpose).
    pub fn allow_panic(mut self) -> Self {
        self.allow_panic = true;
        self
    }

    pub fn run(self) -> Run {
        self.run_with_peak().0
    }

    /// The run and its peak memory (resident set, bytes), from the kernel's
    /// accounting of that one child (wait4), not of all of them, so tests
    /// running side by side do not blur each other's figures.
    #[cfg(target_os = "linux")]
    pub fn measured(self) -> (Run, u64) {
        let (run, peak) = self.run_with_peak();
        (run, peak.expect("wait4 measures on Linux"))
    }

    /// The run and, where it is measured (Linux), its peak memory.
    pub fn run_with_peak(self) -> (Run, Option<u64>) {
        let evidence = self.checked.then(|| Evidence::of(&self.dir, self.args));
        let mut command = Command::new(env!("CARGO_BIN_EXE_tlsreg"));
        command
            .args(self.args)
            .current_dir(&self.dir)
            // `diff --color auto` follows these (anstream): outputs stay plain
            // unless a test sets them.
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE")
            .envs(self.env.iter().copied())
            .stdin(match self.stdin {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut command);
        let feeder = child.stdin.take().zip(self.stdin).map(|(mut pipe, bytes)| {
            std::thread::spawn(move || {
                use std::io::Write;
                // The child may exit without reading it all: not an error.
                let _ = pipe.write_all(&bytes);
            })
        });
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                pipe.read_to_end(&mut bytes).unwrap();
                bytes
            })
        };
        let out = drain(Box::new(child.stdout.take().unwrap()));
        let err = drain(Box::new(child.stderr.take().unwrap()));
        let exit = wait(child, self.watchdog);
        let stdout = out.join().unwrap();
        let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
        if let Some(feeder) = feeder {
            feeder.join().unwrap();
        }
        let args = self.args;
        assert!(
            !exit.hung,
            "tlsreg {args:?} hung and was killed after {:?}: {stderr}",
            self.watchdog.unwrap_or_default()
        );
        let code = exit.code.unwrap_or_else(|why| {
            panic!("tlsreg {args:?} did not exit on its own ({why}): {stderr}")
        });
        assert!(
            self.allow_panic || !stderr.contains("panicked"),
            "tlsreg panicked: {stderr}"
        );
        if let Some(evidence) = evidence {
            evidence.unchanged(args);
        }
        let run = Run {
            code,
            stdout,
            stderr,
        };
        (run, exit.peak)
    }
}

/// Starts the binary. Wine's CreateProcess now and then fails with
/// ERROR_INTERNAL_ERROR (1359) while its server is busy (seen twice in CI runs
/// of the whole suite, in two tests; each passed on every rerun): a few
/// retries, then the failure as it is. Any other error fails at once.
pub fn spawn(command: &mut Command) -> std::process::Child {
    retrying(|| command.spawn()).unwrap_or_else(|e| panic!("run tlsreg: {e}"))
}

/// Runs `start` (a process started, or run to its end) again while Wine
/// fails it with ERROR_INTERNAL_ERROR (1359), a few times with a growing
/// pause; any other outcome is returned as it is. Every process the tests
/// start goes through it: the binary, and the host tools (seen striking
/// `qemu-img` through host_tool in a CI run too).
pub fn retrying<T>(mut start: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    let mut tries = 0;
    loop {
        match start() {
            Err(e) if cfg!(windows) && e.raw_os_error() == Some(1359) && tries < 5 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(300 * tries));
            }
            outcome => return outcome,
        }
    }
}

/// How a child ended: its exit code (or why it has none), whether the
/// watchdog killed it, and its peak memory where the platform tells it.
struct Exit {
    code: Result<i32, String>,
    hung: bool,
    peak: Option<u64>,
}

/// Waits for the child without reaping it (the pid stays ours while the
/// watchdog may still signal it), then reaps it with wait4, which reports
/// that one child's peak memory.
#[cfg(target_os = "linux")]
#[allow(clippy::zombie_processes)] // reaped by wait4, which clippy does not know
fn wait(child: std::process::Child, watchdog: Option<Duration>) -> Exit {
    use std::sync::mpsc;
    let pid = child.id() as libc::pid_t;
    let (exited, exit_seen) = mpsc::channel::<()>();
    let dog = watchdog.map(|limit| {
        std::thread::spawn(move || {
            let hung = exit_seen.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout);
            if hung {
                // SAFETY: our child, not reaped before this thread is joined.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            hung
        })
    });
    // SAFETY: waitid and wait4 on our own child's pid, writing into locals.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    while unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    } != 0
    {
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "waitid: {e}");
    }
    drop(exited);
    let hung = dog.is_some_and(|d| d.join().unwrap());
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let code = if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Err(format!(
            "killed by signal {}, status {status}",
            libc::WTERMSIG(status)
        ))
    };
    Exit {
        code,
        hung,
        peak: Some(usage.ru_maxrss as u64 * 1024),
    }
}

#[cfg(not(target_os = "linux"))]
fn wait(mut child: std::process::Child, watchdog: Option<Duration>) -> Exit {
    let deadline = watchdog.map(|limit| std::time::Instant::now() + limit);
    let mut hung = false;
    let status = loop {
        let Some(deadline) = deadline else {
            break child.wait().unwrap();
        };
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            hung = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Exit {
        code: status.code().ok_or_else(|| format!("status {status}")),
        hung,
        peak: None,
    }
}

/// The most memory any single input may cost, whatever its bytes (README).
pub const MEMORY_BOUND: u64 = 256 << 20;

/// Test data from outside the repository (`../shared/testdata/...`, present
/// on the project's machines and CI, absent from a plain clone): its path,
/// or `None` after one visible line saying the test is skipped. With
/// `TLSREG_REQUIRE_SHARED` set (as `.ci/run` sets it) a missing folder fails
/// the test instead, so CI never passes by skipping.
pub fn shared_testdata(test: &str, rel: &str) -> Option<std::path::PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata")
        .join(rel);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("TLSREG_REQUIRE_SHARED").is_none(),
        "{test}: {} not found, and TLSREG_REQUIRE_SHARED is set",
        path.display()
    );
    // Straight to the stream: the test harness captures eprintln! of a
    // passing test, and a skip must be seen.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {test}: ../shared/testdata/{rel} not found"
    );
    None
}

/// Runs a tool of the machine the tests run on (`qemu-img`, `wimlib-imagex`)
/// to make a fixture, and returns its output. Paths in `args` are given as
/// this process sees them.
///
/// Under Wine, the Windows test process cannot wait for a Unix program (Wine
/// starts it but hands back no process), so the tool is started through
/// `start /unix` inside a shell that writes its output and status to files,
/// which are awaited here; Windows paths are turned into Unix ones with
/// `winepath`. On Windows itself the tool must be installed as an `.exe`.
pub fn host_tool(
    program: &str,
    args: &[&std::ffi::OsStr],
) -> std::io::Result<std::process::Output> {
    #[cfg(windows)]
    if retrying(|| Command::new(program).arg("--version").output()).is_err() && under_wine() {
        return wine_host_tool(program, args);
    }
    retrying(|| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
    })
}

/// Runs a host tool (`qemu-img`, `qemu-io`) that makes a fixture; a tool
/// that cannot be run or fails ends the test, saying so.
pub fn run_tool(program: &str, args: &[&str]) {
    let os: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let out = host_tool(program, &os).unwrap_or_else(|e| {
        panic!(
            "{program} could not be run ({e}): it is part of the machine and of CI (Debian package qemu-utils)"
        )
    });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether this Windows process runs under Wine (only Wine has `winepath`).
#[cfg(windows)]
pub fn under_wine() -> bool {
    static WINE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WINE.get_or_init(|| {
        retrying(|| Command::new("winepath").args(["-u", "C:\\"]).output())
            .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"/"))
    })
}

#[cfg(windows)]
fn wine_host_tool(
    program: &str,
    args: &[&std::ffi::OsStr],
) -> std::io::Result<std::process::Output> {
    use std::io::{Error, ErrorKind};
    let work = tempfile::tempdir()?;
    let cwd = std::env::current_dir()?;
    // Every absolute Windows path (`C:\...`, `Z:\...`) is converted, with
    // the working folder and the folder for the results, in one call.
    let is_path = |a: &str| a.as_bytes().get(1..3) == Some(b":\\");
    let mut to_convert: Vec<String> = vec![
        cwd.to_string_lossy().into_owned(),
        work.path().to_string_lossy().into_owned(),
    ];
    let texts: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    to_convert.extend(texts.iter().filter(|a| is_path(a)).cloned());
    let converted = retrying(|| {
        Command::new("winepath")
            .arg("-u")
            .args(&to_convert)
            .output()
    })?;
    let unix: Vec<String> = String::from_utf8_lossy(&converted.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    if unix.len() != to_convert.len() {
        return Err(Error::other(format!(
            "winepath -u {to_convert:?} gave {unix:?}"
        )));
    }
    let mut unix_paths = unix[2..].iter();
    let unix_args = texts.iter().map(|a| match is_path(a) {
        true => unix_paths.next().cloned().unwrap_or_default(),
        false => a.clone(),
    });
    let script = r#"cd "$1" || exit 1; out=$2; shift 2
"$@" >"$out/stdout" 2>"$out/stderr" </dev/null; echo $? >"$out/status.tmp"; mv "$out/status.tmp" "$out/status""#;
    let unix_args: Vec<String> = unix_args.collect();
    retrying(|| {
        Command::new("cmd")
            .args(["/c", "start", "/unix", "/bin/sh", "-c", script, "sh"])
            .arg(&unix[0])
            .arg(&unix[1])
            .arg(program)
            .args(&unix_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
    })?;
    let status_file = work.path().join("status");
    let started = std::time::Instant::now();
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            break s;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(Error::new(
                ErrorKind::TimedOut,
                format!("{program} did not finish"),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let code: i32 = status
        .trim()
        .parse()
        .map_err(|_| Error::other(format!("{program}: status {status:?}")))?;
    // 127: the shell found no such program, as `Command` would say.
    if code == 127 {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("{program} is not installed on the host"),
        ));
    }
    use std::os::windows::process::ExitStatusExt;
    Ok(std::process::Output {
        status: std::process::ExitStatus::from_raw(code as u32),
        stdout: std::fs::read(work.path().join("stdout"))?,
        stderr: std::fs::read(work.path().join("stderr"))?,
    })
}

/// A relative path written with `/` in this system's form (`fleet\web01`
/// on Windows), for arguments whose echo in a report is compared.
pub fn native(path: &str) -> String {
    path.replace('/', std::path::MAIN_SEPARATOR_STR)
}

/// Text whose every `\` is a path separator (a verdict line, a JSON path)
/// with `/` instead, so one expectation holds on every system. Never for
/// text with registry paths, whose `\` belong to key names.
pub fn slashed(text: &str) -> String {
    if cfg!(windows) {
        text.replace('\\', "/")
    } else {
        text.to_owned()
    }
}

/// CRC-32C (Castagnoli), as VHDX headers, region tables and log entries
/// carry it: for tests that write or edit VHDX files.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

// Tar and OVF writers, for OVAs made by the tests (tests/ova.rs,
// tests/chains.rs).

/// A ustar header for `name` with `size` bytes of data, of type `kind`.
pub fn header(name: &[u8], size: u64, kind: u8) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    match size < 1 << 33 {
        true => h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes()),
        // GNU base-256.
        false => {
            h[128..136].copy_from_slice(&size.to_be_bytes());
            h[124] = 0x80;
        }
    }
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = kind;
    h[257..265].copy_from_slice(b"ustar\x0000");
    seal(&mut h);
    h
}

pub fn seal(h: &mut [u8]) {
    h[148..156].fill(b' ');
    let sum: u32 = h[..512].iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A tar of `(name, data, type)` members and its two end blocks.
pub fn tar(members: &[(&[u8], &[u8], u8)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data, kind) in members {
        out.extend(header(name, data.len() as u64, *kind));
        out.extend(*data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend([0u8; 1024]);
    out
}

/// An OVF naming `hrefs`, each a streamOptimized disk of 12 MiB.
pub fn ovf_naming(hrefs: &[&str]) -> String {
    let mut files = String::new();
    let mut disks = String::new();
    for (i, href) in hrefs.iter().enumerate() {
        files += &format!("    <File ovf:id=\"file{i}\" ovf:href=\"{href}\"/>\n");
        disks += &format!(
            "    <Disk ovf:capacity=\"12582912\" ovf:diskId=\"vmdisk{i}\" ovf:fileRef=\"file{i}\" \
             ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\"/>\n"
        );
    }
    format!(
        "<?xml version=\"1.0\"?>\n<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" \
         xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\">\n  <References>\n{files}  </References>\n  \
         <DiskSection>\n    <Info>disks</Info>\n{disks}  </DiskSection>\n</Envelope>\n"
    )
}
