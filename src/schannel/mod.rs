//! SCHANNEL evaluation: what the required state is, and how a registry view
//! measures up. Knows nothing of where the view came from.

pub mod defaults;
mod evaluate;
pub mod matrix;
pub mod nearmiss;
mod policy;
pub mod prerequisites;
mod relevance;
pub mod translations;

pub use evaluate::{
    Action, Change, Check, Evaluation, Finding, Status, base_path, evaluate, scope_base,
};
pub use matrix::{Matrix, matrix};
pub use nearmiss::{NearMiss, Remedy};
pub use policy::{Condition, PROTOCOLS, Policy, Requirement, Rule, Scope};
pub use relevance::{KeyFilter, relevant};
