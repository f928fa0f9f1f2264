//! `dredge reclaim`: keeps a host's disk under a watermark, for timers and fleets.
//!
//! A run measures the data root's filesystem (`statvfs`); at or above the policy's `high` mark it frees
//! space step by step, in the policy's order of victims, until used space is at or below `low`. Each step
//! is planned by a pure function ([`order`]) over freshly gathered facts and applied by `dredge prune`'s
//! apply ([`crate::prune::apply_plan`]): the same re-checks, journal, lock and quarantine. Last use of
//! images survives restarts in a state file ([`state`]).

pub mod order;
pub mod policy;
pub mod state;
