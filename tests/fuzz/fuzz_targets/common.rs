// The whole pipeline on one input: read, resolve, evaluate, report, fix.
use tlsreg::input::{Options, from_bytes};
use tlsreg::regfile::OutputEncoding;
use tlsreg::schannel::Policy;

pub fn audit(bytes: &[u8]) {
    let policy = Policy::article();
    if let Ok(loaded) = from_bytes("fuzz", bytes, &Options::default()) {
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
