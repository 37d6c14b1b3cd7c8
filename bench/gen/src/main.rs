//! bench-gen: writes the inputs of tlsreg's benchmark (see bench/README.md)
//! with tlsreg's own writers, deterministically (a fixed seed).
//!
//! ```text
//! bench-gen hive  OUT  [--keys N] [--min-mib M] [--dirty 1]
//!                                                  a real-size SYSTEM hive; --dirty 1:
//!                                                  the same hive caught mid-write, with
//!                                                  OUT.LOG1 and OUT.LOG2 beside it
//! bench-gen tiny  OUT                              a minimal SYSTEM hive (8 KiB)
//! bench-gen fleet HIVE DIR [--count N]            DIR/srvNNNN/SYSTEM, hard links to HIVE
//! bench-gen flat  HIVE DIRTY DIR [--count N] [--dirty-every K]
//!                                                  DIR/SYSTEM-hostNNNN with .LOG1 and
//!                                                  .LOG2: hard links to HIVE (every K-th
//!                                                  host: to DIRTY) and DIRTY's logs
//! bench-gen reg   OUT  [--mib M]                  a regedit-layout UTF-16LE export
//! ```
//!
//! Every file is written under a temporary name (a folder under a temporary
//! folder name) and renamed when complete, so an interrupted run never
//! leaves an input that looks finished.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tlsreg::hive::{BuildOptions, build};
use tlsreg::regfile::Export;
use tlsreg::registry::value::{REG_BINARY, REG_EXPAND_SZ, REG_MULTI_SZ, REG_QWORD, utf16_bytes};
use tlsreg::registry::{Key, Value};

/// The root key name Windows setup gives SYSTEM hives.
const ROOT: &str = "CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}";
const SEED: u64 = 0x7153_2e32_6265_6e63;
const MIB: u64 = 1024 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("hive") => cmd_hive(&args[1..]),
        Some("tiny") => cmd_tiny(&args[1..]),
        Some("fleet") => cmd_fleet(&args[1..]),
        Some("flat") => cmd_flat(&args[1..]),
        Some("reg") => cmd_reg(&args[1..]),
        _ => Err("usage: bench-gen hive OUT [--keys N] [--min-mib M] [--dirty 1] | tiny OUT | \
                  fleet HIVE DIR [--count N] | flat HIVE DIRTY DIR [--count N] [--dirty-every K] | \
                  reg OUT [--mib M]"
            .to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-gen: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--name value` options, in the order given.
type Opts = Vec<(String, u64)>;

/// Positional arguments and `--name value` options.
fn parse(args: &[String], positional: usize) -> Result<(Vec<String>, Opts), String> {
    let mut pos = Vec::new();
    let mut opts = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            let v = it
                .next()
                .ok_or_else(|| format!("--{name} needs a value"))?
                .parse::<u64>()
                .map_err(|e| format!("--{name}: {e}"))?;
            opts.push((name.to_owned(), v));
        } else {
            pos.push(a.clone());
        }
    }
    if pos.len() != positional {
        return Err(format!("expected {positional} paths, got {}", pos.len()));
    }
    Ok((pos, opts))
}

fn opts_only<'a>(opts: &'a [(String, u64)], known: &[&str]) -> Result<&'a [(String, u64)], String> {
    match opts.iter().find(|(n, _)| !known.contains(&n.as_str())) {
        Some((n, _)) => Err(format!("unknown option --{n}")),
        None => Ok(opts),
    }
}

/// The last value given for `--name`, or `default`.
fn get(opts: &[(String, u64)], name: &str, default: u64) -> u64 {
    opts.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map_or(default, |(_, v)| *v)
}

fn tmp_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    out.with_file_name(name)
}

fn io_err(what: &Path) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("{}: {e}", what.display())
}

// ---------------------------------------------------------------- hive

fn cmd_hive(args: &[String]) -> Result<(), String> {
    let (pos, opts) = parse(args, 1)?;
    let opts = opts_only(&opts, &["keys", "min-mib", "dirty"])?;
    let keys = get(opts, "keys", 44_000) as usize;
    let min_size = (get(opts, "min-mib", 10) * MIB) as usize;
    let dirty = get(opts, "dirty", 0) != 0;
    let out = PathBuf::from(&pos[0]);

    let mut rng = Rng(SEED);
    let tree = system_hive(keys, &mut rng);
    let total_keys = tree.walk().len();
    let total_values: usize = tree.walk().iter().map(|(_, k)| k.values().len()).sum();
    let options = BuildOptions {
        min_size,
        root_name: Some(ROOT.to_owned()),
        ..BuildOptions::default()
    };
    let bytes = build(&tree, &options);
    if dirty {
        return write_dirty(&out, &tree, &options, &bytes);
    }
    write_file(&out, &bytes)?;
    eprintln!(
        "bench-gen: {}: {} bytes ({:.1} MiB), {total_keys} keys, {total_values} values",
        out.display(),
        bytes.len(),
        bytes.len() as f64 / MIB as f64
    );
    Ok(())
}

/// `bytes` at `out`, under a temporary name until complete.
fn write_file(out: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = tmp_path(out);
    fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    fs::rename(&tmp, out).map_err(io_err(out))
}

/// The hive `new` (built from `tree`) as a live machine's disk holds it when
/// copied in the middle of a write: the primary still has the version before
/// the write (TLS 1.2 `Server\Enabled` = 0, so read without its logs the
/// machine looks noncompliant) with its sequence numbers apart, and the
/// write sits in `OUT.LOG1` (`OUT.LOG2` is empty, as Windows leaves an unused
/// log). Replaying the logs gives back `new` byte for byte.
fn write_dirty(out: &Path, tree: &Key, options: &BuildOptions, new: &[u8]) -> Result<(), String> {
    use tlsreg::hive::log::write::{WriteOptions, write_logs};
    let mut before = tree.clone();
    before
        .create(&["ControlSet001", "Control", "SecurityProviders", "SCHANNEL", "Protocols", "TLS 1.2", "Server"], None)
        .set_value("Enabled", Value::dword(0), None);
    // One write before `new`: its sequence numbers are one less.
    let old = build(
        &before,
        &BuildOptions {
            sequence: options.sequence - 1,
            ..options.clone()
        },
    );
    let dirty = write_logs(&old, new, WriteOptions::default()).map_err(|e| format!("{}: {e}", out.display()))?;
    let name = out.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let log = |suffix: &str| out.with_file_name(format!("{name}{suffix}"));
    // The logs first: a primary that looks finished has its logs.
    write_file(&log(".LOG1"), &dirty.log1)?;
    write_file(&log(".LOG2"), &dirty.log2)?;
    write_file(out, &dirty.primary)?;
    eprintln!(
        "bench-gen: {}: a dirty hive of {} bytes, {}.LOG1 of {} bytes, {}.LOG2 of {} bytes",
        out.display(),
        dirty.primary.len(),
        name,
        dirty.log1.len(),
        name,
        dirty.log2.len()
    );
    Ok(())
}

/// A SYSTEM hive with little more than an audit reads: `Select`, and one
/// control set with SCHANNEL (TLS 1.2 set, as in the real-size hive), the
/// computer name and an empty `Services`. For runs over very many inputs,
/// where the memory per input is measured, not the reading of a large hive.
fn cmd_tiny(args: &[String]) -> Result<(), String> {
    let (pos, opts) = parse(args, 1)?;
    opts_only(&opts, &[])?;
    let out = PathBuf::from(&pos[0]);
    let mut root = Key::new(ROOT);
    let select = root.create(&["Select"], None);
    for (name, v) in [("Current", 1), ("Default", 1), ("Failed", 0), ("LastKnownGood", 1)] {
        select.set_value(name, Value::dword(v), None);
    }
    let set = root.create(&["ControlSet001"], None);
    let control = set.create(&["Control"], None);
    control
        .create(&["ComputerName", "ComputerName"], None)
        .set_value("ComputerName", Value::string("SRV-TINY"), None);
    *control.create(&["SecurityProviders", "SCHANNEL"], None) = schannel();
    set.create(&["Services"], None);
    let bytes = build(
        &root,
        &BuildOptions {
            root_name: Some(ROOT.to_owned()),
            ..BuildOptions::default()
        },
    );
    write_file(&out, &bytes)?;
    eprintln!("bench-gen: {}: {} bytes", out.display(), bytes.len());
    Ok(())
}

/// A SYSTEM hive as a Windows Server install has it, in miniature detail but
/// real size: `Select`, one control set with `Control` (SCHANNEL with TLS 1.2
/// set as the article requires, device classes, ...), a few hundred
/// `Services`, and `Enum` device trees with their `Properties` keys (what
/// makes real SYSTEM hives large) until the tree has about `target` keys.
fn system_hive(target: usize, rng: &mut Rng) -> Key {
    let mut root = Key::new(ROOT);
    let select = root.create(&["Select"], None);
    for (name, v) in [
        ("Current", 1),
        ("Default", 1),
        ("Failed", 0),
        ("LastKnownGood", 1),
    ] {
        select.set_value(name, Value::dword(v), None);
    }
    for name in [
        "MountedDevices",
        "Setup",
        "DriverDatabase",
        "HardwareConfig",
        "RNG",
        "WPA",
    ] {
        root.create(&[name], None);
    }
    root.create(&["RNG"], None)
        .set_value("Seed", Value::new(REG_BINARY, rng.bytes(76)), None);

    let set = root.create(&["ControlSet001"], None);
    add_control(set.create(&["Control"], None), rng);
    let services = set.create(&["Services"], None);
    for i in 0..SERVICES {
        let (name, svc) = service(i, rng);
        *services.create(&[name.as_str()], None) = svc;
    }
    let mut count = set.walk().len() + 10;
    let enum_key = set.create(&["Enum"], None);
    let mut i = 0usize;
    while count < target {
        let (bus, dev, instance, keys) = device(i, rng);
        let bus_key = enum_key.create(&[bus], None);
        let dev_key = bus_key.create(&[dev.as_str()], None);
        let name = instance.name().to_owned();
        *dev_key.create(&[name.as_str()], None) = instance;
        count += keys + 1;
        i += 1;
    }
    root
}

const SERVICES: usize = 650;

/// The SCHANNEL key with TLS 1.2 set (compliant), as after the article's fix
/// on a fresh install.
fn schannel() -> Key {
    let mut s = Key::new("SCHANNEL");
    s.set_value("EventLogging", Value::dword(1), None);
    for empty in ["Ciphers", "CipherSuites", "Hashes", "KeyExchangeAlgorithms"] {
        s.create(&[empty], None);
    }
    s.create(&["Protocols", "SSL 2.0", "Client"], None)
        .set_value("DisabledByDefault", Value::dword(1), None);
    for side in ["Client", "Server"] {
        let k = s.create(&["Protocols", "TLS 1.2", side], None);
        k.set_value("DisabledByDefault", Value::dword(0), None);
        k.set_value("Enabled", Value::dword(1), None);
    }
    s
}

fn add_control(control: &mut Key, rng: &mut Rng) {
    control.set_value(
        "SystemStartOptions",
        Value::string(" NOEXECUTE=OPTOUT"),
        None,
    );
    control.set_value(
        "SystemBootDevice",
        Value::string("multi(0)disk(0)rdisk(0)partition(2)"),
        None,
    );
    control.set_value("BootDriverFlags", Value::dword(0x1c), None);
    control
        .create(&["ComputerName", "ComputerName"], None)
        .set_value("ComputerName", Value::string("SRV-EXCH01"), None);
    let sp = control.create(&["SecurityProviders"], None);
    sp.set_value("SecurityProviders", Value::string("credssp.dll"), None);
    *sp.create(&["SCHANNEL"], None) = schannel();
    let env = control.create(&["Session Manager", "Environment"], None);
    env.set_value("ComSpec", expand("%SystemRoot%\\system32\\cmd.exe"), None);
    env.set_value(
        "Path",
        expand("%SystemRoot%\\system32;%SystemRoot%;%SystemRoot%\\System32\\Wbem;%SYSTEMROOT%\\System32\\WindowsPowerShell\\v1.0\\;%SYSTEMROOT%\\System32\\OpenSSH\\;C:\\Program Files\\Microsoft\\Exchange Server\\V15\\bin"),
        None,
    );
    env.set_value("NUMBER_OF_PROCESSORS", Value::string("8"), None);
    env.set_value("PROCESSOR_ARCHITECTURE", Value::string("AMD64"), None);
    // Device classes: {guid}\0000.. with driver values.
    let class = control.create(&["Class"], None);
    for c in 0..70 {
        let guid = rng.guid();
        let k = class.create(&[guid.as_str()], None);
        k.set_value("", Value::string(&format!("Device class {c}")), None);
        k.set_value("Class", Value::string(&format!("Class{c}")), None);
        k.set_value(
            "ClassDesc",
            Value::string(&format!("@oem{c}.inf,%ClassDesc%;Device class {c}")),
            None,
        );
        k.set_value(
            "IconPath",
            multi(&["%SystemRoot%\\System32\\setupapi.dll,-5"]),
            None,
        );
        for n in 0..rng.below(6) {
            let inst = k.create(&[format!("{n:04}").as_str()], None);
            inst.set_value(
                "DriverDesc",
                Value::string(&format!("Generic device {c}.{n}")),
                None,
            );
            inst.set_value("ProviderName", Value::string("Microsoft"), None);
            inst.set_value("DriverDateData", Value::new(REG_BINARY, rng.bytes(8)), None);
            inst.set_value("DriverDate", Value::string("6-21-2006"), None);
            inst.set_value("DriverVersion", Value::string("10.0.20348.1"), None);
            inst.set_value(
                "InfPath",
                Value::string(&format!("oem{}.inf", rng.below(90))),
                None,
            );
            inst.set_value("InfSection", Value::string("Generic_Install"), None);
            inst.set_value(
                "MatchingDeviceId",
                Value::string(&format!("pci\\ven_8086&dev_{:04x}", rng.below(0xffff))),
                None,
            );
        }
    }
    let dc = control.create(&["DeviceClasses"], None);
    for _ in 0..40 {
        let g = rng.guid();
        let k = dc.create(&[g.as_str()], None);
        for n in 0..rng.below(8) {
            let name = format!("##?#ROOT#SYSTEM#{n:04}#{g}");
            k.create(&[name.as_str(), "#"], None).set_value(
                "SymbolicLink",
                Value::string(&name),
                None,
            );
        }
    }
}

fn expand(s: &str) -> Value {
    Value::new(REG_EXPAND_SZ, utf16_bytes(s, true))
}

fn multi(items: &[&str]) -> Value {
    let mut data = Vec::new();
    for s in items {
        data.extend(utf16_bytes(s, true));
    }
    data.extend([0, 0]);
    Value::new(REG_MULTI_SZ, data)
}

const SERVICE_NAMES: [&str; 24] = [
    "Appinfo",
    "BITS",
    "CryptSvc",
    "Dhcp",
    "Dnscache",
    "EventLog",
    "gpsvc",
    "iphlpsvc",
    "LanmanServer",
    "LanmanWorkstation",
    "MSExchangeTransport",
    "MSExchangeIS",
    "Netlogon",
    "NlaSvc",
    "RpcSs",
    "Schedule",
    "SENS",
    "ShellHWDetection",
    "Spooler",
    "TermService",
    "Themes",
    "W32Time",
    "Winmgmt",
    "WinRM",
];

/// Service `i`: the values every service has, plus `Parameters`, `Security`
/// and sometimes `TriggerInfo`.
fn service(i: usize, rng: &mut Rng) -> (String, Key) {
    let base = SERVICE_NAMES[i % SERVICE_NAMES.len()];
    let name = format!("{base}{i:03}");
    let mut k = Key::new(name.clone());
    let driver = rng.below(3) == 0;
    k.set_value("Type", Value::dword(if driver { 1 } else { 0x20 }), None);
    k.set_value("Start", Value::dword(rng.below(5) as u32), None);
    k.set_value("ErrorControl", Value::dword(1), None);
    if driver {
        k.set_value(
            "ImagePath",
            expand(&format!(
                "\\SystemRoot\\System32\\drivers\\{}.sys",
                name.to_lowercase()
            )),
            None,
        );
        k.set_value("Group", Value::string("PNP Filter"), None);
    } else {
        k.set_value(
            "ImagePath",
            expand("%SystemRoot%\\system32\\svchost.exe -k netsvcs -p"),
            None,
        );
        k.set_value("ObjectName", Value::string("LocalSystem"), None);
        k.set_value("ServiceSidType", Value::dword(1), None);
        k.set_value(
            "RequiredPrivileges",
            multi(&[
                "SeAuditPrivilege",
                "SeChangeNotifyPrivilege",
                "SeCreateGlobalPrivilege",
                "SeImpersonatePrivilege",
                "SeTcbPrivilege",
                "SeAssignPrimaryTokenPrivilege",
                "SeIncreaseQuotaPrivilege",
                "SeSecurityPrivilege",
            ]),
            None,
        );
        let actions = 3 + rng.below(3) as usize;
        k.set_value(
            "FailureActions",
            Value::new(REG_BINARY, rng.bytes(20 + 8 * actions)),
            None,
        );
    }
    k.set_value(
        "DisplayName",
        Value::string(&format!("@%SystemRoot%\\system32\\{base}.dll,-{}", 100 + i)),
        None,
    );
    k.set_value(
        "Description",
        Value::string(&format!(
            "@%SystemRoot%\\system32\\{base}.dll,-{}; Provides {base} support for this computer. If this service is stopped, dependent services will fail to start.",
            101 + i
        )),
        None,
    );
    k.set_value("DependOnService", multi(&["RpcSs", "Tcpip", "Afd"]), None);
    let p = k.create(&["Parameters"], None);
    p.set_value(
        "ServiceDll",
        expand(&format!("%SystemRoot%\\system32\\{base}{i}.dll")),
        None,
    );
    p.set_value("ServiceDllUnloadOnStop", Value::dword(1), None);
    p.set_value("ServiceMain", Value::string("ServiceMain"), None);
    let sd_len = 140 + rng.below(60) as usize;
    k.create(&["Security"], None).set_value(
        "Security",
        Value::new(REG_BINARY, rng.bytes(sd_len)),
        None,
    );
    if rng.below(3) == 0 {
        let t = k.create(&["TriggerInfo", "0"], None);
        t.set_value("Type", Value::dword(1), None);
        t.set_value("Action", Value::dword(1), None);
        t.set_value("GUID", Value::new(REG_BINARY, rng.bytes(16)), None);
        t.set_value("Data0", Value::new(REG_BINARY, rng.bytes(40)), None);
        t.set_value("DataType0", Value::dword(2), None);
    }
    if i % 7 == 0 {
        let e = k.create(&["Enum"], None);
        e.set_value(
            "0",
            Value::string(&format!("ROOT\\LEGACY_{}\\0000", name.to_uppercase())),
            None,
        );
        e.set_value("Count", Value::dword(1), None);
        e.set_value("NextInstance", Value::dword(1), None);
    }
    (name, k)
}

const BUSES: [&str; 9] = [
    "ACPI", "DISPLAY", "HID", "PCI", "ROOT", "STORAGE", "SWD", "USB", "USBSTOR",
];

/// Device `i` under `Enum`: (bus, device id, instance key, keys in the
/// instance subtree).
fn device(i: usize, rng: &mut Rng) -> (&'static str, String, Key, usize) {
    let bus = BUSES[i % BUSES.len()];
    let ven = rng.below(0xffff);
    let dev = format!(
        "VEN_{ven:04X}&DEV_{:04X}&SUBSYS_{:08X}&REV_{:02X}&N{i}",
        rng.below(0xffff),
        rng.next() as u32,
        rng.below(256)
    );
    let instance = format!("3&{:x}&0&{:02X}", rng.next() as u32, rng.below(256));
    let mut k = Key::new(instance.clone());
    let mut keys = 1;
    let hwid = format!("{bus}\\VEN_{ven:04X}&DEV_{:04X}", rng.below(0xffff));
    k.set_value(
        "DeviceDesc",
        Value::string(&format!(
            "@oem{}.inf,%dev{i}.devicedesc%;Device {i} on {bus}",
            rng.below(90)
        )),
        None,
    );
    k.set_value(
        "LocationInformation",
        Value::string(&format!(
            "PCI bus {}, device {}, function 0",
            rng.below(8),
            rng.below(32)
        )),
        None,
    );
    k.set_value("Capabilities", Value::dword(0x60), None);
    k.set_value("Address", Value::dword(rng.below(0x100000) as u32), None);
    k.set_value("UINumber", Value::dword(rng.below(64) as u32), None);
    k.set_value(
        "HardwareID",
        multi(&[
            &format!("{hwid}&SUBSYS_00000000&REV_01"),
            &format!("{hwid}&SUBSYS_00000000"),
            &format!("{hwid}&CC_010802"),
            &format!("{hwid}&CC_0108"),
        ]),
        None,
    );
    k.set_value(
        "CompatibleIDs",
        multi(&[
            &format!("{bus}\\VEN_{ven:04X}&CC_010802"),
            &format!("{bus}\\VEN_{ven:04X}&CC_0108"),
            &format!("{bus}\\VEN_{ven:04X}"),
            &format!("{bus}\\CC_010802"),
            &format!("{bus}\\CC_0108"),
        ]),
        None,
    );
    k.set_value("ContainerID", Value::string(&rng.guid()), None);
    k.set_value("ConfigFlags", Value::dword(0), None);
    k.set_value("ClassGUID", Value::string(&rng.guid()), None);
    k.set_value(
        "Driver",
        Value::string(&format!("{}\\{:04}", rng.guid(), rng.below(20))),
        None,
    );
    k.set_value("Mfg", Value::string("@oem12.inf,%ven%;Contoso Ltd."), None);
    k.set_value(
        "Service",
        Value::string(SERVICE_NAMES[i % SERVICE_NAMES.len()]),
        None,
    );
    let dp = k.create(&["Device Parameters"], None);
    keys += 1;
    dp.set_value("EnhancedPowerManagementEnabled", Value::dword(1), None);
    dp.set_value(
        "SelectiveSuspendEnabled",
        Value::new(REG_BINARY, vec![1]),
        None,
    );
    let conf_len = 96 + rng.below(120) as usize;
    k.create(&["LogConf"], None).set_value(
        "BasicConfigVector",
        Value::new(0x0a, rng.bytes(conf_len)),
        None,
    );
    keys += 1;
    let props = k.create(&["Properties"], None);
    keys += 1;
    for _ in 0..4 + rng.below(6) {
        let g = props.create(&[rng.guid().to_lowercase().as_str()], None);
        keys += 1;
        for n in 0..1 + rng.below(4) {
            let p = g.create(&[format!("{:04X}", 2 + n).as_str()], None);
            keys += 1;
            // Device properties: default values typed 0xFFFF0000 | DEVPROP_TYPE.
            let v = match rng.below(4) {
                0 => Value::new(
                    0xFFFF_0012,
                    utf16_bytes(
                        &format!("oem{}.inf:Contoso.NTamd64:Install.{i}", rng.below(90)),
                        true,
                    ),
                ),
                1 => Value::new(0xFFFF_0010, rng.bytes(8)),
                2 => Value::new(0xFFFF_0007, rng.bytes(4)),
                _ => Value::new(0xFFFF_000D, rng.bytes(16)),
            };
            p.set_value("", v, None);
        }
    }
    (bus, dev, k, keys)
}

// ---------------------------------------------------------------- fleet

/// Hard links to one file, so a fleet of thousands of hives costs the disk
/// (and the page cache) one hive. A file system caps the links to one file
/// (ext4: 65,000): past that, or where links cannot be made, the next file
/// is a copy and the following ones link to it.
struct Linker {
    src: PathBuf,
    copies: usize,
}

impl Linker {
    fn new(src: &Path) -> Result<Linker, String> {
        fs::metadata(src).map_err(io_err(src))?;
        Ok(Linker {
            src: src.to_path_buf(),
            copies: 0,
        })
    }

    fn link(&mut self, to: &Path) -> Result<(), String> {
        if fs::hard_link(&self.src, to).is_ok() {
            return Ok(());
        }
        fs::copy(&self.src, to).map_err(io_err(to))?;
        self.src = to.to_path_buf();
        self.copies += 1;
        Ok(())
    }
}

/// A folder `dir` filled by `fill` under a temporary name, then renamed.
fn fill_dir(dir: &Path, fill: impl FnOnce(&Path) -> Result<(), String>) -> Result<(), String> {
    let tmp = tmp_path(dir);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    fill(&tmp)?;
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io_err(dir))?;
    }
    fs::rename(&tmp, dir).map_err(io_err(dir))
}

/// Digits in host numbers: 4 (`0001`), more when `count` needs them.
fn width(count: usize) -> usize {
    count.to_string().len().max(4)
}

fn cmd_fleet(args: &[String]) -> Result<(), String> {
    let (pos, opts) = parse(args, 2)?;
    let opts = opts_only(&opts, &["count"])?;
    let count = get(opts, "count", 1000) as usize;
    let src = PathBuf::from(&pos[0]);
    let dir = PathBuf::from(&pos[1]);
    let mut links = Linker::new(&src)?;
    let w = width(count);
    fill_dir(&dir, |tmp| {
        for i in 1..=count {
            // One folder per machine, each holding its SYSTEM hive, as a
            // backup share of config folders looks.
            let d = tmp.join(format!("srv{i:0w$}"));
            fs::create_dir(&d).map_err(io_err(&d))?;
            links.link(&d.join("SYSTEM"))?;
        }
        Ok(())
    })?;
    eprintln!(
        "bench-gen: {}: {count} hard links to {} ({} copies where the links ran out)",
        dir.display(),
        src.display(),
        links.copies
    );
    Ok(())
}

/// One flat folder, as a collection script that copies each machine's
/// `SYSTEM` with its logs to `SYSTEM-<host>`, `SYSTEM-<host>.LOG1` and
/// `SYSTEM-<host>.LOG2` leaves it. Every host's logs are DIRTY's logs (a
/// write already in HIVE's primary, or, for the dirty hosts, not yet), so
/// every dirty host's audit needs its own two logs found among the
/// folder's 3 x `count` files.
fn cmd_flat(args: &[String]) -> Result<(), String> {
    let (pos, opts) = parse(args, 3)?;
    let opts = opts_only(&opts, &["count", "dirty-every"])?;
    let count = get(opts, "count", 1000) as usize;
    let every = get(opts, "dirty-every", 2) as usize;
    let (clean, dirty, dir) = (PathBuf::from(&pos[0]), PathBuf::from(&pos[1]), PathBuf::from(&pos[2]));
    let name = dirty.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let log_of = |suffix: &str| dirty.with_file_name(format!("{name}{suffix}"));
    let mut hives = Linker::new(&clean)?;
    let mut dirty_hives = Linker::new(&dirty)?;
    let mut log1 = Linker::new(&log_of(".LOG1"))?;
    let mut log2 = Linker::new(&log_of(".LOG2"))?;
    let w = width(count);
    let mut dirty_count = 0;
    fill_dir(&dir, |tmp| {
        for i in 1..=count {
            let host = format!("SYSTEM-host{i:0w$}");
            if every > 0 && i % every == 0 {
                dirty_hives.link(&tmp.join(&host))?;
                dirty_count += 1;
            } else {
                hives.link(&tmp.join(&host))?;
            }
            log1.link(&tmp.join(format!("{host}.LOG1")))?;
            log2.link(&tmp.join(format!("{host}.LOG2")))?;
        }
        Ok(())
    })?;
    let copies = hives.copies + dirty_hives.copies + log1.copies + log2.copies;
    eprintln!(
        "bench-gen: {}: {count} hosts ({dirty_count} dirty), each hive with its .LOG1 and .LOG2: hard links ({copies} copies where the links ran out)",
        dir.display()
    );
    Ok(())
}

// ---------------------------------------------------------------- reg

fn cmd_reg(args: &[String]) -> Result<(), String> {
    let (pos, opts) = parse(args, 1)?;
    let opts = opts_only(&opts, &["mib"])?;
    let target = get(opts, "mib", 1024) * MIB;
    let out = PathBuf::from(&pos[0]);
    let tmp = tmp_path(&out);
    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut w = RegWriter {
        out: BufWriter::with_capacity(4 * MIB as usize, file),
        written: 0,
        buf: Vec::new(),
        keys: 0,
    };
    let stats = write_reg(&mut w, target).map_err(io_err(&tmp))?;
    w.out.flush().map_err(io_err(&tmp))?;
    drop(w.out);
    fs::rename(&tmp, &out).map_err(io_err(&out))?;
    eprintln!(
        "bench-gen: {}: {} bytes ({:.1} MiB), {} keys; the TLS 1.2 keys start at byte {} ({:.2}% into the file)",
        out.display(),
        w.written,
        w.written as f64 / MIB as f64,
        w.keys,
        stats,
        stats as f64 * 100.0 / w.written as f64
    );
    Ok(())
}

/// Streams `.reg` text to disk, one small [`Export`] at a time.
struct RegWriter {
    out: BufWriter<File>,
    written: u64,
    buf: Vec<u8>,
    keys: u64,
}

impl RegWriter {
    /// Writes `export`'s text. Each export after the first starts with the
    /// blank line regedit puts before every key, which the previous export's
    /// closing blank line already wrote: it is dropped, so the file is laid
    /// out exactly as one export of everything.
    fn emit(&mut self, export: &Export, first: bool) -> io::Result<()> {
        let text = export.text("\r\n");
        let text = if first {
            self.buf.clear();
            self.buf.extend([0xFF, 0xFE]);
            text.as_str()
        } else {
            self.buf.clear();
            text.strip_prefix("\r\n").unwrap_or(&text)
        };
        self.keys += text.matches("\r\n[").count() as u64 + u64::from(text.starts_with('['));
        for u in text.encode_utf16() {
            self.buf.extend_from_slice(&u.to_le_bytes());
        }
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        Ok(())
    }

    /// Writes `key` (and everything below it) at `path`.
    fn tree(&mut self, path: &[&str], key: &Key) -> io::Result<()> {
        let mut e = Export::from_text("");
        e.tree(path, key);
        self.emit(&e, false)
    }

    /// Writes the empty keys on the way to a section, as regedit exports
    /// every key.
    fn parents(&mut self, base: &[&str], parts: &[&str]) -> io::Result<()> {
        let mut e = Export::from_text("");
        let mut path: Vec<&str> = base.to_vec();
        for p in parts {
            path.push(p);
            e.key(&path);
        }
        self.emit(&e, false)
    }
}

const HKLM: &str = "HKEY_LOCAL_MACHINE";

/// The export: `SOFTWARE` (COM classes, then installed products: most of
/// the file), then `SYSTEM` with the control set (SCHANNEL with TLS 1.2 set,
/// then a few hundred services) and `Select`. Returns where the TLS 1.2 key
/// starts.
fn write_reg(w: &mut RegWriter, target: u64) -> io::Result<u64> {
    let mut rng = Rng(SEED ^ 0x5eed);
    // The tail is laid out first, so the bulk can stop where the tail fills
    // the file up to `target`.
    let (tail_bytes, tls_offset_in_tail) = system_section(&mut rng)?;

    let mut header = Export::new();
    header.key(&[HKLM, "SOFTWARE"]);
    w.emit(&header, true)?;
    w.parents(&[HKLM, "SOFTWARE"], &["Classes", "CLSID"])?;
    let bulk = target.saturating_sub(tail_bytes.len() as u64);
    let classes_end = bulk * 3 / 10;
    let mut i: u64 = 0;
    while w.written < classes_end {
        let (guid, k) = com_class(i, &mut rng);
        w.tree(&[HKLM, "SOFTWARE", "Classes", "CLSID", guid.as_str()], &k)?;
        i += 1;
    }
    let products = [
        HKLM,
        "SOFTWARE",
        "Microsoft",
        "Windows",
        "CurrentVersion",
        "Installer",
        "UserData",
        "S-1-5-18",
        "Products",
    ];
    w.parents(&[HKLM, "SOFTWARE"], &products[2..])?;
    let mut i: u64 = 0;
    while w.written < bulk {
        let (id, k) = product(i, &mut rng);
        let mut path = products.to_vec();
        path.push(id.as_str());
        w.tree(&path, &k)?;
        i += 1;
    }
    let tls_at = w.written + tls_offset_in_tail;
    w.out.write_all(&tail_bytes)?;
    w.written += tail_bytes.len() as u64;
    w.keys += count_keys_utf16(&tail_bytes);
    Ok(tls_at)
}

fn count_keys_utf16(bytes: &[u8]) -> u64 {
    // "\n[" in UTF-16LE.
    bytes
        .windows(4)
        .filter(|w| *w == [b'\n', 0, b'[', 0])
        .count() as u64
}

/// The end of the export as UTF-16LE text (no BOM): the OS version under
/// `SOFTWARE\Microsoft\Windows NT`, then `HKLM\SYSTEM`; and the byte offset of
/// the TLS 1.2 key's line in it.
fn system_section(rng: &mut Rng) -> io::Result<(Vec<u8>, u64)> {
    let mut text = String::new();
    let mut add = |e: &Export| {
        let t = e.text("\r\n");
        text.push_str(t.strip_prefix("\r\n").unwrap_or(&t));
    };
    let mut e = Export::from_text("");
    let nt = [HKLM, "SOFTWARE", "Microsoft", "Windows NT"];
    e.key(&nt);
    e.key(&[nt.as_slice(), &["CurrentVersion"]].concat());
    for (name, v) in [
        ("CurrentBuild", "17763"),
        ("CurrentBuildNumber", "17763"),
        ("CurrentVersion", "6.3"),
        ("DisplayVersion", "1809"),
        ("EditionID", "ServerStandard"),
        ("InstallationType", "Server"),
        ("ProductName", "Windows Server 2019 Standard"),
        ("ReleaseId", "1809"),
    ] {
        e.value(name, &Value::string(v));
    }
    e.value("CurrentMajorVersionNumber", &Value::dword(10));
    e.value("CurrentMinorVersionNumber", &Value::dword(0));
    e.value("UBR", &Value::dword(6893));
    add(&e);
    let mut e = Export::from_text("");
    e.key(&[HKLM, "SYSTEM"]);
    e.key(&[HKLM, "SYSTEM", "ControlSet001"]);
    add(&e);
    let mut control = Key::new("Control");
    add_control(&mut control, rng);
    let mut e = Export::from_text("");
    e.tree(&[HKLM, "SYSTEM", "ControlSet001", "Control"], &control);
    add(&e);
    let mut services = Key::new("Services");
    for i in 0..300 {
        let (name, svc) = service(i, rng);
        *services.create(&[name.as_str()], None) = svc;
    }
    let mut e = Export::from_text("");
    e.tree(&[HKLM, "SYSTEM", "ControlSet001", "Services"], &services);
    add(&e);
    let mut e = Export::from_text("");
    e.key(&[HKLM, "SYSTEM", "Select"]);
    for (name, v) in [
        ("Current", 1),
        ("Default", 1),
        ("Failed", 0),
        ("LastKnownGood", 1),
    ] {
        e.value(name, &Value::dword(v));
    }
    add(&e);
    let tls = text
        .find("\\Protocols\\TLS 1.2]")
        .and_then(|at| text[..at].rfind('['))
        .unwrap_or(0);
    let offset = text[..tls].encode_utf16().count() as u64 * 2;
    let bytes = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    Ok((bytes, offset))
}

/// A COM class: `{CLSID}` with its name, `InprocServer32`, `ProgID` and
/// sometimes categories and a type library.
fn com_class(i: u64, rng: &mut Rng) -> (String, Key) {
    // Increasing first field: the export is sorted, as regedit's is.
    let guid = format!(
        "{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}",
        (i * 211 + rng.below(200)) as u32,
        rng.below(0x10000),
        rng.below(0x10000),
        rng.below(0x10000),
        rng.next() & 0xFFFF_FFFF_FFFF
    );
    let mut k = Key::new(guid.clone());
    k.set_value(
        "",
        Value::string(&format!("Contoso Component {i} Class")),
        None,
    );
    if rng.below(2) == 0 {
        k.set_value("AppID", Value::string(&rng.guid()), None);
    }
    let s = k.create(&["InprocServer32"], None);
    s.set_value(
        "",
        expand(&format!("%SystemRoot%\\System32\\contoso{}.dll", i % 500)),
        None,
    );
    s.set_value(
        "ThreadingModel",
        Value::string(["Both", "Apartment", "Free"][(i % 3) as usize]),
        None,
    );
    k.create(&["ProgID"], None).set_value(
        "",
        Value::string(&format!("Contoso.Component{i}.1")),
        None,
    );
    if rng.below(3) == 0 {
        let cat = k.create(&["Implemented Categories"], None);
        cat.create(&[rng.guid().as_str()], None);
    }
    if rng.below(4) == 0 {
        k.create(&["TypeLib"], None)
            .set_value("", Value::string(&rng.guid()), None);
    }
    (guid, k)
}

const PUBLISHERS: [&str; 6] = [
    "Microsoft Corporation",
    "Contoso Ltd.",
    "Müller Systemtechnik GmbH",
    "Fabrikam, Inc.",
    "ООО «Ромашка»",
    "Northwind Traders",
];

/// An installed product under `Installer\UserData\S-1-5-18\Products`, with
/// `InstallProperties`, `Features` and `Usage`; a third carry a long binary
/// value (an icon or a signed blob: hex with continuation lines).
fn product(i: u64, rng: &mut Rng) -> (String, Key) {
    let id = format!(
        "{:08X}{:024X}",
        i as u32,
        (rng.next() as u128) << 32 | rng.next() as u128 & 0xFFFF_FFFF
    );
    let mut k = Key::new(id.clone());
    let publisher = PUBLISHERS[(i % PUBLISHERS.len() as u64) as usize];
    let ip = k.create(&["InstallProperties"], None);
    let name = format!("Contoso Line-of-Business Application {i} (x64)");
    ip.set_value(
        "LocalPackage",
        Value::string(&format!(
            "C:\\Windows\\Installer\\{:x}.msi",
            rng.next() as u32
        )),
        None,
    );
    ip.set_value("AuthorizedCDFPrefix", Value::string(""), None);
    ip.set_value(
        "Comments",
        Value::string("Installed by the deployment share"),
        None,
    );
    ip.set_value("DisplayName", Value::string(&name), None);
    ip.set_value(
        "DisplayVersion",
        Value::string(&format!("{}.{}.{}", i % 17, i % 100, rng.below(9999))),
        None,
    );
    ip.set_value(
        "HelpLink",
        Value::string("https://support.contoso.example/help"),
        None,
    );
    ip.set_value("InstallDate", Value::string("20240115"), None);
    ip.set_value(
        "InstallLocation",
        Value::string(&format!("C:\\Program Files\\Contoso\\App{i}\\")),
        None,
    );
    ip.set_value(
        "InstallSource",
        Value::string(&format!("\\\\deploy01\\packages$\\app{i}\\")),
        None,
    );
    ip.set_value(
        "ModifyPath",
        expand(&format!("MsiExec.exe /I{{{}}}", &rng.guid()[1..37])),
        None,
    );
    ip.set_value("Publisher", Value::string(publisher), None);
    ip.set_value(
        "UninstallString",
        expand(&format!("MsiExec.exe /X{}", rng.guid())),
        None,
    );
    ip.set_value(
        "EstimatedSize",
        Value::dword(rng.below(500_000) as u32),
        None,
    );
    ip.set_value("Language", Value::dword(1033), None);
    ip.set_value("Version", Value::dword(rng.next() as u32), None);
    ip.set_value("VersionMajor", Value::dword((i % 17) as u32), None);
    ip.set_value("VersionMinor", Value::dword((i % 100) as u32), None);
    ip.set_value("WindowsInstaller", Value::dword(1), None);
    ip.set_value("InstallTime", Value::new(REG_QWORD, rng.bytes(8)), None);
    if rng.below(3) == 0 {
        // 0.5 to 6 KiB of binary: dozens of continuation lines.
        let n = 512 + rng.below(5632) as usize;
        ip.set_value("ProductIcon", Value::new(REG_BINARY, rng.bytes(n)), None);
    }
    let f = k.create(&["Features"], None);
    for n in 0..3 + rng.below(10) {
        f.set_value(
            &format!("Feature{n}_Component"),
            Value::string(&format!("{}(=ef+Q{n}x@%{n}", &rng.guid()[1..20])),
            None,
        );
    }
    let u = k.create(&["Usage"], None);
    for n in 0..rng.below(5) {
        u.set_value(
            &format!("Feature{n}"),
            Value::dword(rng.next() as u32),
            None,
        );
    }
    if rng.below(8) == 0 {
        k.create(&["Patches"], None).set_value(
            "AllPatches",
            multi(&[&rng.guid()[1..37], &rng.guid()[1..37]]),
            None,
        );
    }
    (id, k)
}

// ---------------------------------------------------------------- rng

/// splitmix64: deterministic, so every run builds the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }

    fn guid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFFF,
            b >> 48,
            b & 0xFFFF_FFFF_FFFF
        )
    }
}
