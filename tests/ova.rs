//! OVA: a tar read in place, never extracted; the disks its OVF names are
//! audited exactly as the same disks outside it. Hostile archives (bad
//! checksums, sizes past the end, huge extended headers, a hundred thousand
//! members, odd names, DTDs, compressed disks) are errors naming the file,
//! never a panic, a hang or a large allocation.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{header, ovf_naming, tar};
use tlsreg::image::Disk;
use tlsreg::image::source::{Source, SourceError, disks, open_path};

const GPT_VMDK: &str = "samples/images/gpt-stream.vmdk";

/// Runs a host tool (GNU tar, qemu-img: part of the machine and of CI),
/// failing clearly when it cannot.
fn tool(program: &str, args: &[&OsStr]) -> Vec<u8> {
    let out = common::host_tool(program, args).unwrap_or_else(|e| {
        panic!("{program} could not be run ({e}): it is part of the machine and of CI")
    });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn json(run: &common::Run) -> serde_json::Value {
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stderr))
}

/// An audited input with its name taken out: the name (and the SOFTWARE
/// path built on it) keep only what follows the disk's name, the volume.
fn unnamed(input: &serde_json::Value) -> serde_json::Value {
    let mut input = input.clone();
    for key in ["path", "software_path"] {
        if let Some(s) = input[key].as_str() {
            let volume = s.find(" [").map_or("", |i| &s[i..]);
            input[key] = volume.into();
        }
    }
    input
}

fn audit_json(dir: &Path, path: &str) -> (i32, serde_json::Value) {
    let args = ["audit", "--format", "json", path];
    let run = common::Cmd::new(&args).dir(dir).watchdog(120).run();
    (run.code, json(&run))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn ova_disks_audit_like_the_same_disks_outside() {
    // (OVA, its disks with their verdicts, the exit code).
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], i32);
    let cases: [Case; 2] = [
        (
            "samples/images/gpt.ova",
            &[("gpt-disk1.vmdk", "compliant")],
            0,
        ),
        (
            "tests/ova/two-disks.ova",
            &[
                ("gpt-disk1.vmdk", "compliant"),
                ("mbr-disk2.vmdk", "noncompliant"),
            ],
            1,
        ),
    ];
    for (path, members, want_code) in cases {
        // The disks, extracted by GNU tar, are the reference.
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().to_str().unwrap();
        tool("tar", &[os("-xf"), os(path), os("-C"), os(dir)]);
        let (code, doc) = audit_json(&root(), path);
        assert_eq!(code, want_code, "{path}: {doc:#}");
        let inputs = doc["inputs"].as_array().unwrap();
        assert_eq!(inputs.len(), members.len(), "{path}: one target per disk");
        for (input, (member, verdict)) in inputs.iter().zip(members) {
            let name = common::slashed(input["path"].as_str().unwrap());
            assert!(
                name.starts_with(&format!("{path}!{member} [")),
                "{path}: {name}"
            );
            assert_eq!(input["verdict"], *verdict, "{name}");
            assert_eq!(input["kind"], "image");
            let (_, alone) = audit_json(out.path(), member);
            assert_eq!(alone["inputs"].as_array().unwrap().len(), 1);
            assert_eq!(unnamed(input), unnamed(&alone["inputs"][0]), "{name}");
        }
    }
    // The first target of gpt.ova is GPT partition 3, as for gpt.raw.
    let (_, doc) = audit_json(&root(), "samples/images/gpt.ova");
    assert_eq!(
        common::slashed(doc["inputs"][0]["path"].as_str().unwrap()),
        "samples/images/gpt.ova!gpt-disk1.vmdk [GPT partition 3 (Microsoft basic data)]"
    );
}

fn read_all(disk: &dyn Disk) -> Vec<u8> {
    let mut all = vec![0u8; disk.size() as usize];
    disk.read_exact_at(0, &mut all).unwrap();
    all
}

#[test]
fn members_read_as_their_bytes() {
    let path = "tests/ova/two-disks.ova";
    let found = disks(open_path(Path::new(path)).unwrap()).unwrap();
    let names: Vec<String> = found.iter().map(Source::name).collect();
    assert_eq!(
        names,
        [
            format!("{path}!gpt-disk1.vmdk"),
            format!("{path}!mbr-disk2.vmdk")
        ]
    );
    for (disk, member) in found.iter().zip(["gpt-disk1.vmdk", "mbr-disk2.vmdk"]) {
        let want = tool("tar", &[os("-xOf"), os(path), os(member)]);
        assert_eq!(read_all(&*disk.disk), want, "{member}");
    }
    assert_eq!(
        read_all(&*found[0].disk),
        std::fs::read(GPT_VMDK).unwrap(),
        "the committed VMDK, unchanged inside the OVA"
    );
    // What the first header says: an OVA (the OVF first, behind a pax
    // header in two-disks.ova), or no wrapper at all.
    use tlsreg::image::source::{Wrapper, wrapper};
    for (file, want) in [
        ("gpt.ova", Some(Wrapper::Ova)),
        ("../../tests/ova/two-disks.ova", Some(Wrapper::Ova)),
        ("gpt.raw", None),
        ("gpt-stream.vmdk", None),
    ] {
        let bytes = std::fs::read(format!("samples/images/{file}")).unwrap();
        assert_eq!(wrapper(&bytes[..512]), want, "{file}");
    }
    // And through the container: the raw disk the VMDK holds.
    let opened = tlsreg::image::container::open_source(&found[1]).unwrap();
    assert_eq!(
        read_all(&*opened.disk),
        std::fs::read("samples/images/mbr.raw").unwrap()
    );
}

#[test]
fn gnu_long_names_folders_and_vmdk_extents_inside_an_ova() {
    let tmp = tempfile::tempdir().unwrap();
    let vm = tmp.path().join("vm");
    let disks_dir = vm.join("disks");
    std::fs::create_dir_all(&disks_dir).unwrap();
    // A name past the 100 bytes of a ustar name field: GNU tar writes a
    // ././@LongLink record for it.
    let long = format!(
        "{}-disk1.vmdk",
        "a-very-long-virtual-machine-name".repeat(4)
    );
    std::fs::copy(GPT_VMDK, disks_dir.join(&long)).unwrap();
    // A VMDK descriptor whose extent is another member beside it.
    let flat = disks_dir.join("flat.vmdk");
    tool(
        "qemu-img",
        &[
            os("convert"),
            os("-q"),
            os("-f"),
            os("raw"),
            os("-O"),
            os("vmdk"),
            os("-o"),
            os("subformat=monolithicFlat"),
            os("samples/images/gpt.raw"),
            flat.as_os_str(),
        ],
    );
    assert!(disks_dir.join("flat-flat.vmdk").is_file());
    let ovf = ovf_naming(&[&format!("disks/{long}"), r"C:\export\flat.vmdk"]);
    std::fs::write(vm.join("vm.ovf"), ovf).unwrap();
    let members = [
        "vm/vm.ovf".to_owned(),
        format!("vm/disks/{long}"),
        "vm/disks/flat.vmdk".into(),
        "vm/disks/flat-flat.vmdk".into(),
    ];
    let work = tempfile::tempdir().unwrap();
    // GNU tar's own format, members taken from tmp, the OVA put in work.
    let pack = |name: &str, members: &[String]| {
        let ova = work.path().join(name);
        let mut args = vec![
            os("--format=gnu"),
            os("-C"),
            tmp.path().as_os_str(),
            os("-cf"),
            ova.as_os_str(),
        ];
        args.extend(members.iter().map(|m| os(m)));
        tool("tar", &args);
    };
    pack("x.ova", &members);
    let (code, doc) = audit_json(work.path(), "x.ova");
    assert_eq!(code, 0, "{doc:#}");
    let names: Vec<String> = doc["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap().to_owned())
        .collect();
    let volume = " [GPT partition 3 (Microsoft basic data)]";
    assert_eq!(
        names,
        [
            format!("x.ova!vm/disks/{long}{volume}"),
            format!("x.ova!vm/disks/flat.vmdk{volume}")
        ]
    );
    assert!(
        doc["inputs"][1]["read_as"]
            .as_str()
            .unwrap()
            .starts_with("VMDK (descriptor)"),
        "{doc:#}"
    );
    // Without its extent, the descriptor says where it looked: inside.
    pack("no-extent.ova", &members[..3]);
    let (code, doc) = audit_json(work.path(), "no-extent.ova");
    assert_eq!(code, 2, "{doc:#}");
    let error = doc["inputs"][1]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "\"flat-flat.vmdk\" not found beside no-extent.ova!vm/disks/flat.vmdk \
             (looked for no-extent.ova!vm/disks/flat-flat.vmdk)"
        ),
        "{error}"
    );
}

/// A pax extended header's records.
fn pax(records: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        let body = format!(" {k}={v}\n");
        // The length counts its own digits.
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        out.extend(format!("{len}{body}").as_bytes());
    }
    out
}

/// Audits `bytes` written to `dir/name`; the text report, checked for
/// being an error (exit 2) that names the file and says `needles`, within
/// little memory where that is measured.
fn refused(dir: &Path, name: &str, bytes: &[u8], needles: &[&str]) -> String {
    std::fs::write(dir.join(name), bytes).unwrap();
    let args = ["audit", name];
    let (run, peak) = common::Cmd::new(&args)
        .dir(dir)
        .watchdog(120)
        .run_with_peak();
    let out = run.out();
    assert_eq!(run.code, 2, "{name}: {out}");
    let error = out
        .lines()
        .find(|l| l.contains("could not be read:"))
        .unwrap_or_else(|| panic!("{name}: no error line in {out}"));
    assert!(error.contains(name), "{name}: {error}");
    for needle in needles {
        assert!(error.contains(needle), "{name}: {needle:?} not in {error}");
    }
    if let Some(peak) = peak {
        assert!(peak < 100 << 20, "{name}: peak RSS {} MiB", peak >> 20);
    }
    error.to_owned()
}

#[test]
fn hostile_tars_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let vmdk = std::fs::read(GPT_VMDK).unwrap();
    let ovf = ovf_naming(&["disk1.vmdk"]);
    let good = |disk_header: Vec<u8>| {
        let mut t = tar(&[(b"vm.ovf", ovf.as_bytes(), b'0')]);
        t.truncate(t.len() - 1024);
        let data_at = t.len() + 512;
        t.extend(disk_header);
        (t, data_at)
    };

    // A header whose checksum does not add up, named with its offset.
    let (mut t, at) = good(header(b"disk1.vmdk", vmdk.len() as u64, b'0'));
    t[at - 512] = b'D';
    t.extend(&vmdk);
    let e = refused(dir, "checksum.ova", &t, &["checksum"]);
    assert!(e.contains(&format!("at byte {}", at - 512 + 148)), "{e}");
    // Through the library: a Format error with that offset.
    match disks(open_path(&dir.join("checksum.ova")).unwrap()) {
        Err(SourceError::Format { offset, format, .. }) => {
            assert_eq!((offset, format), ((at - 512 + 148) as u64, "tar"));
        }
        other => panic!("{other:?}"),
    }

    // A member larger than what follows it.
    let (mut t, _) = good(header(b"disk1.vmdk", 1 << 40, b'0'));
    t.extend(&vmdk);
    refused(dir, "past-end.ova", &t, &["past the end"]);
    // An OVA cut short in its disk.
    let whole = std::fs::read("samples/images/gpt.ova").unwrap();
    refused(dir, "cut.ova", &whole[..200_000], &["past the end"]);

    // A pax header claiming 8 GiB of records: never allocated.
    let (mut t, _) = good(header(b"PaxHeaders/disk1.vmdk", 1 << 33, b'x'));
    t.extend([0u8; 4096]);
    refused(
        dir,
        "pax-huge.ova",
        &t,
        &["extended header of 8589934592 bytes"],
    );
    // A malformed pax record.
    let (mut t, _) = good(header(b"PaxHeaders/disk1.vmdk", 12, b'x'));
    t.extend(b"99 path=x\n\0\0");
    t.resize(t.len().div_ceil(512) * 512 + 1024, 0);
    refused(dir, "pax-bad.ova", &t, &["pax record"]);

    // A hundred thousand empty members: the index stops at its cap.
    let mut t = tar(&[(b"vm.ovf", ovf.as_bytes(), b'0')]);
    t.truncate(t.len() - 1024);
    let empty = header(b"empty", 0, b'0');
    for _ in 0..100_000 {
        t.extend(&empty);
    }
    t.extend([0u8; 1024]);
    refused(dir, "many.ova", &t, &["more than 10000"]);

    // The OVF names a file the tar does not hold.
    let t = tar(&[
        (b"vm.ovf", ovf_naming(&["gone.vmdk"]).as_bytes(), b'0'),
        (b"disk1.vmdk", &vmdk, b'0'),
    ]);
    refused(dir, "missing.ova", &t, &["\"gone.vmdk\"", "not in the OVA"]);

    // A DTD (a billion laughs): refused by the XML reader, not expanded.
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE Envelope [\n<!ENTITY a \"aaaaaaaaaa\">\n\
        <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n\
        <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n]>\n<Envelope>&d;&d;&d;&d;&d;&d;&d;&d;</Envelope>\n";
    let t = tar(&[
        (b"vm.ovf", laughs.as_bytes(), b'0'),
        (b"disk1.vmdk", &vmdk, b'0'),
    ]);
    refused(dir, "laughs.ova", &t, &["laughs.ova!vm.ovf", "OVF", "XML"]);

    // A gzip-compressed or chunked disk file: a clear refusal naming it.
    let gz = ovf_naming(&["disk1.vmdk.gz"]).replace(
        "ovf:href=\"disk1.vmdk.gz\"",
        "ovf:href=\"disk1.vmdk.gz\" ovf:compression=\"gzip\"",
    );
    let t = tar(&[
        (b"vm.ovf", gz.as_bytes(), b'0'),
        (b"disk1.vmdk.gz", b"\x1f\x8b\x08\0\0\0\0\0", b'0'),
    ]);
    refused(
        dir,
        "gzip.ova",
        &t,
        &["\"disk1.vmdk.gz\"", "gzip", "not supported"],
    );
    let chunked = ovf.replace("ovf:href=", "ovf:chunkSize=\"1048576\" ovf:href=");
    let t = tar(&[
        (b"vm.ovf", chunked.as_bytes(), b'0'),
        (b"disk1.vmdk.000000000", &vmdk, b'0'),
    ]);
    refused(dir, "chunked.ova", &t, &["chunks", "not supported"]);

    // An OVF that names no disk.
    let none =
        "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"><References/></Envelope>";
    let t = tar(&[(b"vm.ovf", none.as_bytes(), b'0')]);
    refused(dir, "empty.ova", &t, &["names no disk"]);

    // A tar with no OVF is not an OVA, nor a .reg file.
    let t = tar(&[
        (b"notes.txt", b"hello\n", b'0'),
        (b"disk1.vmdk", &vmdk, b'0'),
    ]);
    assert_eq!(
        tlsreg::image::source::wrapper(&t[..512]),
        Some(tlsreg::image::source::Wrapper::Tar)
    );
    let e = refused(dir, "plain.tar", &t, &["no .ovf", "not an OVA"]);
    assert!(!e.contains("registry") && !e.contains(".reg file"), "{e}");
}

#[test]
fn odd_member_names_are_shown_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let vmdk = std::fs::read(GPT_VMDK).unwrap();
    // The OVF is second, after a pax header that gives the disk's name
    // with a newline in it.
    let ovf = ovf_naming(&["a&#10;b.vmdk"]);
    let records = pax(&[("path", "a\nb.vmdk"), ("mtime", "0.5")]);
    let t = tar(&[
        (b"readme.txt", b"first, not the OVF\n", b'0'),
        (b"vm.ovf", ovf.as_bytes(), b'0'),
        (b"PaxHeaders/a", &records, b'x'),
        (b"a-b.vmdk", &vmdk, b'0'),
    ]);
    std::fs::write(tmp.path().join("odd.ova"), t).unwrap();
    let (code, doc) = audit_json(tmp.path(), "odd.ova");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(
        doc["inputs"][0]["path"],
        "odd.ova!a\\nb.vmdk [GPT partition 3 (Microsoft basic data)]"
    );
    let run = common::Cmd::new(&["audit", "odd.ova"])
        .dir(tmp.path())
        .run();
    assert!(
        !run.out().lines().any(|l| l.starts_with("b.vmdk")),
        "{}",
        run.out()
    );
}

#[test]
fn folders_hold_ovas() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy("samples/images/gpt.ova", tmp.path().join("gpt.ova")).unwrap();
    let (code, doc) = audit_json(tmp.path(), ".");
    assert_eq!(code, 0, "{doc:#}");
    let path = common::slashed(doc["inputs"][0]["path"].as_str().unwrap());
    assert!(
        path.ends_with("gpt.ova!gpt-disk1.vmdk [GPT partition 3 (Microsoft basic data)]"),
        "{path}"
    );
    // A tar that is no OVA is listed as passed over, with why: not an
    // ERROR in every report of a share that keeps archives beside images.
    let plain = tar(&[(b"notes.txt", b"not a disk", b'0')]);
    std::fs::write(tmp.path().join("logs.tar"), plain).unwrap();
    let (code, doc) = audit_json(tmp.path(), ".");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["inputs"].as_array().unwrap().len(), 1, "{doc:#}");
    let skipped = doc["skipped"].to_string();
    assert!(
        skipped.contains("logs.tar") && skipped.contains("not an OVA"),
        "{skipped}"
    );
    // Named as an INPUT, it is read and said not to be one.
    let run = common::Cmd::new(&["audit", "logs.tar"])
        .dir(tmp.path())
        .run();
    assert_eq!(run.code, 2);
    assert!(run.out().contains("no .ovf descriptor"), "{}", run.out());
}

#[test]
fn members_are_windows_onto_the_archive() {
    // Reading a member reads the archive at the member's place, nothing
    // more: a disk that counts the bytes read.
    struct Counting(Vec<u8>, std::sync::atomic::AtomicU64);
    impl Disk for Counting {
        fn size(&self) -> u64 {
            self.0.size()
        }
        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            self.1
                .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
            self.0.read_exact_at(offset, buf)
        }
    }
    let big = vec![7u8; 4 << 20];
    let ovf = ovf_naming(&["big.raw"]);
    let t = tar(&[(b"vm.ovf", ovf.as_bytes(), b'0'), (b"big.raw", &big, b'0')]);
    let counting = Arc::new(Counting(t, 0.into()));
    let source = Source::detached("t.ova", counting.clone());
    let found = disks(source).unwrap();
    let before = counting.1.load(std::sync::atomic::Ordering::Relaxed);
    // The OVF and a few headers, not the 4 MiB member.
    assert!(before < 64 << 10, "{before} bytes read to index");
    let mut buf = [0u8; 16];
    found[0].disk.read_exact_at(1 << 20, &mut buf).unwrap();
    assert_eq!(buf, [7u8; 16]);
    let after = counting.1.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(after - before, 16);
    assert_eq!(found[0].name(), "t.ova!big.raw");
}

#[test]
fn damaged_ovas_are_errors_not_panics() {
    // The headers, the pax records and the OVF of each sample, with a few
    // bytes changed at random (xorshift, fixed seed): whatever comes out is
    // a value, and a disk that opens reads or fails cleanly.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for sample in ["samples/images/gpt.ova", "tests/ova/two-disks.ova"] {
        let original = std::fs::read(sample).unwrap();
        for _ in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() % 6144) as usize;
                bytes[at] = next() as u8;
            }
            let source = Source::detached(sample, Arc::new(bytes));
            let Ok(found) = disks(source) else {
                continue;
            };
            for disk in found {
                if let Ok(opened) = tlsreg::image::container::open_source(&disk) {
                    let mut buf = vec![0u8; 65536.min(opened.disk.size() as usize)];
                    let _ = opened.disk.read_exact_at(0, &mut buf);
                }
            }
        }
    }
}
