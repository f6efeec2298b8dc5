//! Route handlers: each extracts, calls the store or a domain function, and maps errors.

pub mod agents;
pub mod files;
pub mod health;
pub mod historical;
pub mod runs;
pub mod schedules;
pub mod shares;
pub mod suites;
pub mod trajectories;
