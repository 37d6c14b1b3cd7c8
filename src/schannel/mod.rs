//! SCHANNEL evaluation: what the required state is, and how a registry view
//! measures up. Knows nothing of where the view came from.

mod evaluate;
mod policy;

pub use evaluate::{Change, Check, Evaluation, Finding, Status, base_path, evaluate};
pub use policy::{PROTOCOLS, Policy, Requirement, Rule};
