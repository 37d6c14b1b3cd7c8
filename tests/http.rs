//! Images at URLs, read by HTTP range requests (issue 15), against a server
//! on 127.0.0.1 started by each test (tests/serve): the same verdicts as
//! from the files, a 40 GiB volume audited for a few MiB, the query string
//! (a SAS token, a signature) never shown, and clear errors for what a
//! server can do wrong.

mod common;
mod serve;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

use serve::{Mode, Proxy, Server};

const SECRET: &str = "sv=2024-01-01&sig=S3cr3tS1gnature%3D";

fn images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/images")
}

/// A visible line for a test that cannot run here: the harness captures
/// `eprintln!` of a passing test.
fn skip(line: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {line}");
}

/// Runs tlsreg with no proxy from the environment, unless the test sets one.
fn run<'a>(args: &'a [&'a str]) -> common::Cmd<'a> {
    common::Cmd::new(args)
        .env("HTTPS_PROXY", "")
        .env("HTTP_PROXY", "")
        .env("ALL_PROXY", "")
        .env("https_proxy", "")
        .env("http_proxy", "")
        .env("all_proxy", "")
        .watchdog(300)
}

/// The output of a run, checked to hold no secret.
fn clean(run: &common::Run) -> String {
    let all = format!("{}{}", run.text(), run.stderr);
    assert!(
        !all.contains("S3cr3t") && !all.contains("sig="),
        "the query string was shown: {all}"
    );
    all
}

/// The report of a URL input with the server's address taken out, to
/// compare with the same file's.
fn unnamed(text: &str, server: &Server) -> String {
    text.replace(&server.url("/"), "")
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The image samples, by file name.
fn samples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(images())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            [".raw", ".vhd", ".vhdx", ".vmdk", ".qcow2", ".E01", ".ova"]
                .iter()
                .any(|ext| n.ends_with(ext))
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_image_sample_has_the_same_verdict_over_http() {
    let server = Server::start(Mode::Ranges);
    server.require_query(SECRET);
    let names = samples();
    assert!(names.len() >= 15, "{names:?}");
    for name in &names {
        server.add(&format!("/{name}"), &images().join(name));
        let args = ["audit", "--format", "json", name.as_str()];
        let from_file = run(&args).dir(&images()).run();
        let url = format!("{}?{SECRET}", server.url(&format!("/{name}")));
        let args = ["audit", "--format", "json", url.as_str()];
        let over_http = run(&args).dir(&images()).run();
        clean(&over_http);
        assert_eq!(
            over_http.code, from_file.code,
            "{name}: {}",
            over_http.stderr
        );
        assert_eq!(
            json(&unnamed(&over_http.out(), &server)),
            json(&from_file.out()),
            "{name}"
        );
        assert_eq!(
            unnamed(&over_http.stderr, &server),
            from_file.stderr,
            "{name}"
        );
    }
}

/// Runs a host tool, or says why the test is skipped.
fn tool(program: &str, args: &[&OsStr], package: &str) -> bool {
    match common::host_tool(program, args) {
        Ok(out) if out.status.success() => true,
        Ok(out) => panic!(
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            skip(&format!(
                "{program} (Debian package {package}) cannot be run: {e}"
            ));
            false
        }
    }
}

#[test]
fn a_vmdk_descriptor_finds_its_extents_beside_it_with_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let vmdk = dir.path().join("split disk.vmdk");
    // A copy in the temporary folder: under Wine, host_tool turns only
    // drive paths into the host's, and the manifest's folder is not one.
    let raw = dir.path().join("gpt.raw");
    std::fs::copy(images().join("gpt.raw"), &raw).unwrap();
    let mut args: Vec<&OsStr> = ["convert", "-q", "-f", "raw", "-O", "vmdk", "-o"]
        .iter()
        .map(OsStr::new)
        .collect();
    args.extend([
        OsStr::new("subformat=twoGbMaxExtentFlat"),
        raw.as_os_str(),
        vmdk.as_os_str(),
    ]);
    if !tool("qemu-img", &args, "qemu-utils") {
        return;
    }
    let server = Server::start(Mode::Ranges);
    server.require_query(SECRET);
    let mut files = Vec::new();
    std::fs::remove_file(&raw).unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        server.add(
            &format!("/vms/{}", name.replace(' ', "%20")),
            &dir.path().join(&name),
        );
        files.push(name);
    }
    assert!(files.len() >= 2, "a descriptor and its extents: {files:?}");
    let args = ["audit", "--format", "json", "split disk.vmdk"];
    let from_file = run(&args).dir(dir.path()).run();
    assert_eq!(from_file.code, 0, "{}", from_file.stderr);
    let url = format!("{}?{SECRET}", server.url("/vms/split%20disk.vmdk"));
    let args = ["audit", "--format", "json", url.as_str()];
    let over_http = run(&args).dir(dir.path()).run();
    clean(&over_http);
    assert_eq!(over_http.code, 0, "{}", over_http.stderr);
    let doc = unnamed(&over_http.out(), &server).replace("vms/split%20disk", "split disk");
    assert_eq!(json(&doc), json(&from_file.out()));
    // The extent was asked for with the descriptor's query (else 403).
    let lines = server.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("-f001.vmdk?") || l.contains("-flat.vmdk?")),
        "{lines:#?}"
    );
    // Without its extent: the error says what was looked for, and where.
    let alone = Server::start(Mode::Ranges);
    alone.add(
        "/vms/split%20disk.vmdk",
        &dir.path().join("split disk.vmdk"),
    );
    let error = refused(&alone, "/vms/split%20disk.vmdk", &[]);
    assert!(
        error.contains("not found beside")
            && error.contains(&alone.url("/vms/split%20disk-f001.vmdk")),
        "{error}"
    );
}

/// A split E01 set at a URL: its later segments are fetched beside the
/// first, with the query, and the disk audits as from the files.
#[test]
fn a_split_e01_set_at_a_url_reads_its_segments_beside_it() {
    let server = Server::start(Mode::Ranges);
    server.require_query(SECRET);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ewf");
    for n in 1..=5 {
        let name = format!("bare-ntfs.E0{n}");
        server.add(&format!("/set/{name}"), &dir.join(&name));
    }
    let url = format!("{}?{SECRET}", server.url("/set/bare-ntfs.E01"));
    let args = ["audit", "--format", "json", url.as_str()];
    let over_http = run(&args).dir(&dir).run();
    clean(&over_http);
    let from_file = run(&["audit", "--format", "json", "bare-ntfs.E01"])
        .dir(&dir)
        .run();
    assert_eq!(over_http.code, 0, "{}", over_http.stderr);
    assert_eq!(
        json(&unnamed(&over_http.out(), &server).replace("set/", "")),
        json(&from_file.out())
    );
    let asked: Vec<String> = server.lines();
    for n in 2..=5 {
        assert!(
            asked
                .iter()
                .any(|l| l.contains(&format!("/set/bare-ntfs.E0{n}?{SECRET}"))),
            "segment {n} fetched with the query: {asked:?}"
        );
    }
}

#[test]
fn urls_and_folders_in_one_fleet() {
    let server = Server::start(Mode::Ranges);
    for name in ["gpt.vhdx", "mbr.raw"] {
        server.add(&format!("/{name}"), &images().join(name));
    }
    let a = format!("{}?{SECRET}", server.url("/gpt.vhdx"));
    let b = server.url("/mbr.raw");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/hives/compliant.hiv"),
        dir.path().join("SYSTEM"),
    )
    .unwrap();
    let args = ["audit", a.as_str(), b.as_str(), "fleet"];
    std::fs::create_dir(dir.path().join("fleet")).unwrap();
    std::fs::rename(dir.path().join("SYSTEM"), dir.path().join("fleet/SYSTEM")).unwrap();
    let out = run(&args).dir(dir.path()).run();
    let text = clean(&out);
    assert_eq!(out.code, 1, "{text}");
    assert!(text.contains(&server.url("/gpt.vhdx")), "{text}");
    assert!(text.contains(&server.url("/mbr.raw")), "{text}");
    assert!(
        text.contains("3 inputs: 2 compliant, 1 noncompliant, 0 could not be read"),
        "{text}"
    );
}

/// The error a URL input gives, from the JSON report (the first input's
/// verdict is ERROR and the run exits 2, as for a missing file).
fn refused(server: &Server, path: &str, env: &[(&str, &str)]) -> String {
    let url = format!("{}?{SECRET}", server.url(path));
    let args = ["audit", "--format", "json", url.as_str()];
    let mut cmd = run(&args);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.run();
    clean(&out);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let doc = json(&out.out());
    let input = &doc["inputs"][0];
    assert_eq!(input["verdict"], "error", "{doc}");
    assert_eq!(input["path"], server.url(path));
    let error = input["error"].as_str().unwrap().to_owned();
    assert!(error.contains(&server.url(path)), "{error}");
    assert!(out.stderr.contains(&error), "{}", out.stderr);
    error
}

#[test]
fn a_server_without_ranges_is_refused_without_downloading() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.raw");
    // 4 GiB of nothing, sparse: a download would show in the byte count.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let server = Server::start(Mode::NoRanges);
    server.add("/big.raw", &big);
    let error = refused(&server, "/big.raw", &[]);
    assert!(error.contains("does not serve byte ranges"), "{error}");
    assert!(server.bytes() < 64 << 20, "{} bytes sent", server.bytes());
}

#[test]
fn forbidden_and_missing_blobs_are_clear_errors() {
    let server = Server::start(Mode::Ranges);
    server.require_query("sig=other");
    server.add("/gpt.raw", &images().join("gpt.raw"));
    let error = refused(&server, "/gpt.raw", &[]);
    assert!(error.contains("access denied (HTTP 403"), "{error}");
    let server = Server::start(Mode::Ranges);
    let error = refused(&server, "/nothing.vhdx", &[]);
    assert!(error.contains("not found (HTTP 404"), "{error}");
    let server = Server::start(Mode::Status(500));
    let error = refused(&server, "/gpt.raw", &[]);
    assert!(error.contains("HTTP 500"), "{error}");
}

#[test]
fn a_wim_at_a_url_is_refused_clearly() {
    let server = Server::start(Mode::Ranges);
    server.add("/install.wim", &images().join("wim/tiny-none.wim"));
    let error = refused(&server, "/install.wim", &[]);
    assert!(error.contains("a WIM is read from a file only"), "{error}");
}

#[test]
fn a_stalled_server_times_out() {
    let server = Server::start(Mode::Stall);
    let error = refused(&server, "/gpt.raw", &[("TLSREG_HTTP_TIMEOUT", "1")]);
    assert!(error.contains("no answer in time"), "{error}");
}

#[test]
fn https_to_a_plain_server_is_a_tls_error() {
    let port = serve::plain_once();
    let url = format!("https://127.0.0.1:{port}/gpt.raw?{SECRET}");
    let args = ["audit", url.as_str()];
    let out = run(&args).env("TLSREG_HTTP_TIMEOUT", "10").run();
    let text = clean(&out);
    assert_eq!(out.code, 2, "{text}");
    assert!(
        text.contains(&format!("https://127.0.0.1:{port}/gpt.raw: TLS failed")),
        "{text}"
    );
}

#[test]
fn the_proxy_from_the_environment_is_used() {
    let server = Server::start(Mode::Ranges);
    server.add("/gpt.qcow2", &images().join("gpt.qcow2"));
    let proxy = Proxy::start();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let url = format!("{}?{SECRET}", server.url("/gpt.qcow2"));
    let args = ["audit", url.as_str()];
    let out = run(&args)
        .env("HTTPS_PROXY", &proxy_url)
        .env("HTTP_PROXY", &proxy_url)
        .env("NO_PROXY", "")
        .env("no_proxy", "")
        .run();
    let text = clean(&out);
    assert_eq!(out.code, 0, "{text}");
    let lines = proxy.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("CONNECT 127.0.0.1:{} ", server.port))),
        "{lines:?}"
    );
    assert!(server.requests() > 0);
    // NO_PROXY: straight to the server, past a proxy that is not there.
    drop(proxy);
    let gone = format!("http://127.0.0.1:{}", serve::plain_once());
    let out = run(&args)
        .env("HTTPS_PROXY", &gone)
        .env("HTTP_PROXY", &gone)
        .env("NO_PROXY", "localhost,127.0.0.1")
        .run();
    let text = clean(&out);
    assert_eq!(out.code, 0, "{text}");
}

#[test]
fn redirects_are_followed_and_their_queries_not_shown() {
    let server = Server::start(Mode::Ranges);
    server.add("/region/gpt.vhd", &images().join("gpt.vhd"));
    let location = format!(
        "{}?X-Amz-Signature=S3cr3tToo",
        server.url("/region/gpt.vhd")
    );
    server.redirect("/gpt.vhd", &location);
    let url = format!("{}?{SECRET}", server.url("/gpt.vhd"));
    let args = ["audit", "-v", url.as_str()];
    let out = run(&args).run();
    let text = clean(&out);
    assert_eq!(out.code, 0, "{text}");
    assert!(
        text.contains(&format!("COMPLIANT     {}", server.url("/gpt.vhd"))),
        "{text}"
    );
    // A redirect to nowhere: the error names neither query.
    server.redirect(
        "/gone.vhd",
        &format!("{}?sig=S3cr3tGone", server.url("/nothing")),
    );
    let error = refused(&server, "/gone.vhd", &[]);
    assert!(error.contains("not found (HTTP 404"), "{error}");
}

#[test]
fn a_dropped_connection_is_tried_once_more() {
    let server = Server::start(Mode::DropFirst);
    server.add("/gpt.qcow2", &images().join("gpt.qcow2"));
    let url = server.url("/gpt.qcow2");
    let out = run(&["audit", "-v", url.as_str()]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (requests, _) = fetched(&out.stderr, &url);
    assert_eq!(requests, server.requests(), "{}", out.stderr);
}

/// A 40 GiB NTFS volume (sparse: a few MiB on disk) holding a Windows tree
/// with a compliant SYSTEM, made as samples/images/make.sh makes its
/// volumes: mkntfs, then the tree captured to a WIM and applied onto it.
fn forty_gib_volume(dir: &Path) -> Option<PathBuf> {
    let vol = dir.join("volume.raw");
    std::fs::File::create(&vol)
        .unwrap()
        .set_len(40 << 30)
        .unwrap();
    let args = ["-F", "-Q", "-q", "-s", "512", "-L", "Windows"];
    let mut args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    args.push(vol.as_os_str());
    if !tool("mkntfs", &args, "ntfs-3g") {
        return None;
    }
    let tree = dir.join("tree");
    let config = tree.join("Windows/System32/config");
    std::fs::create_dir_all(&config).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("samples/hives/compliant.hiv"),
        config.join("SYSTEM"),
    )
    .unwrap();
    std::fs::copy(
        root.join("samples/images/payload/SOFTWARE.hiv"),
        config.join("SOFTWARE"),
    )
    .unwrap();
    std::fs::write(config.join("SYSTEM.LOG1"), b"").unwrap();
    std::fs::write(config.join("SYSTEM.LOG2"), b"").unwrap();
    let wim = dir.join("tree.wim");
    let capture: [&OsStr; 5] = [
        "capture".as_ref(),
        tree.as_os_str(),
        wim.as_os_str(),
        "tree".as_ref(),
        "--compress=none".as_ref(),
    ];
    let apply: [&OsStr; 4] = [
        "apply".as_ref(),
        wim.as_os_str(),
        "1".as_ref(),
        vol.as_os_str(),
    ];
    if !tool("wimlib-imagex", &capture, "wimtools") || !tool("wimlib-imagex", &apply, "wimtools") {
        return None;
    }
    Some(vol)
}

/// `URL: N requests, X fetched` from `-v`: the bytes, parsed back.
fn fetched(stderr: &str, url: &str) -> (u64, f64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("{url}: ")))
        .unwrap_or_else(|| panic!("no -v line for {url}: {stderr}"));
    let rest = &line[url.len() + 2..];
    let (requests, rest) = rest.split_once(" requests, ").unwrap();
    let amount = rest.strip_suffix(" fetched").unwrap();
    let (n, unit) = amount.split_once(' ').unwrap();
    let scale = match unit {
        "bytes" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1048576.0,
        "GiB" => 1073741824.0,
        _ => panic!("{line}"),
    };
    (requests.parse().unwrap(), n.parse::<f64>().unwrap() * scale)
}

#[test]
fn a_40_gib_volume_is_audited_for_a_few_mib() {
    let dir = tempfile::tempdir().unwrap();
    let Some(vol) = forty_gib_volume(dir.path()) else {
        return;
    };
    assert_eq!(std::fs::metadata(&vol).unwrap().len(), 40 << 30);
    let server = Server::start(Mode::Ranges);
    server.add("/volume.raw", &vol);
    let url = format!("{}?{SECRET}", server.url("/volume.raw"));
    let args = ["audit", "-v", "--format", "json", url.as_str()];
    let (out, peak) = run(&args).dir(dir.path()).run_with_peak();
    clean(&out);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = json(&out.out());
    assert_eq!(doc["inputs"][0]["verdict"], "compliant", "{doc}");
    let sent = server.bytes();
    assert!(sent < 64 << 20, "{sent} bytes sent for a 40 GiB volume");
    let (requests, bytes) = fetched(&out.stderr, &server.url("/volume.raw"));
    // Requests share kept connections.
    assert!(
        server.connections() < requests,
        "{requests} requests, {} connections",
        server.connections()
    );
    assert!(bytes < (64 << 20) as f64, "{}", out.stderr);
    assert_eq!(requests, server.requests(), "{}", out.stderr);
    // -v rounds to a tenth of its unit.
    assert!(
        (bytes - sent as f64).abs() <= sent as f64 / 20.0 + 1024.0,
        "{}",
        out.stderr
    );
    // The cache is bounded: memory does not follow the volume's size.
    if let Some(peak) = peak {
        assert!(peak < 100 << 20, "peak memory {peak} bytes");
    }
    let _ = writeln!(
        std::io::stderr(),
        "40 GiB volume over HTTP: {requests} requests, {sent} bytes, peak memory {peak:?}"
    );
}

#[test]
fn diff_fix_and_export_never_show_the_query() {
    let server = Server::start(Mode::Ranges);
    server.require_query(SECRET);
    server.add("/mbr.raw", &images().join("mbr.raw"));
    server.add("/two.raw", &images().join("two-windows.raw"));
    let url = format!("{}?{SECRET}", server.url("/mbr.raw"));
    let two = format!("{}?{SECRET}", server.url("/two.raw"));
    let key = r"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL";
    let runs: [&[&str]; 6] = [
        &["diff", &url],
        &["fix", &url],
        &["export", &url, key],
        &["diff", &two],
        &["audit", "--install", "3", &two],
        &["audit", "-v", "--format", "jsonl", &url, &two],
    ];
    for args in runs {
        let out = run(args).run();
        let text = clean(&out);
        // fix and export write only the .reg file.
        let named = !matches!(args[0], "fix" | "export");
        assert!(
            !named || text.contains(&server.url("/")),
            "{args:?}: {text}"
        );
        assert!(out.code <= 2, "{args:?}: {text}");
    }
}
