// The whole pipeline on one input: read, resolve, evaluate, report, fix.
use tlsreg::input::{Options, from_bytes};
use tlsreg::regfile::OutputEncoding;
use tlsreg::schannel::Policy;

pub fn audit(bytes: &[u8]) {
    audit_with(bytes, &Options::default());
}

/// As `tlsreg audit` reads a `.reg` file: only the keys the policy needs are
/// kept, so the stream jumps over the rest on raw bytes (another code path).
#[allow(dead_code)]
pub fn audit_as_cli(bytes: &[u8]) {
    let policy = Policy::article();
    let options = Options {
        keep: Some(tlsreg::input::KeepKeys(tlsreg::schannel::relevant(&policy))),
        ..Options::default()
    };
    audit_with(bytes, &options);
}

fn audit_with(bytes: &[u8], options: &Options) {
    let policy = Policy::article();
    if let Ok(loaded) = from_bytes("fuzz", bytes, options) {
        let audit = tlsreg::audit_all_sets(loaded, &policy);
        let _ = audit.findings();
        let _ = tlsreg::diff::unified(&audit, &policy, "fuzz");
        if let Some(fix) = tlsreg::fix::render(&policy, &audit.evaluation.changes(true)) {
            let _ = fix.to_bytes(OutputEncoding::Utf16Le);
        }
        let _ =
            tlsreg::report::json::document(&[tlsreg::report::Outcome::Audited(Box::new(audit))]);
    }
}
