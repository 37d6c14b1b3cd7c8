//! SCHANNEL evaluation: what the required state is, and how a registry view
//! measures up. Knows nothing of where the view came from.

mod evaluate;
pub mod nearmiss;
mod policy;
pub mod translations;

pub use evaluate::{Change, Check, Evaluation, Finding, Status, base_path, evaluate};
pub use nearmiss::{NearMiss, Remedy};
pub use policy::{PROTOCOLS, Policy, Requirement, Rule};
