//! Leaderboards: read models over a suite's runs, computed per request from indexed rows and
//! shared by every caller that shows a board (the API today, the UI later).
//!
//! - [`feed`]: the leaderboard-runs feed (`GET /suites/{id}/leaderboard-runs`): each ranking
//!   group's newest completed runs, for clients that build their own boards;
//! - [`ranking`]: its grouping, ranking and slicing, as pure functions;
//! - [`cursor`]: the opaque cursor that continues a truncated feed;
//! - [`agents`]: the coding-agent board (`GET /suites/{id}/leaderboard`): one row per (agent,
//!   model, effort) over the suite's completed agent runs;
//! - [`standings`]: its rows — grouping, sums, ordering — as pure functions;
//! - [`wald`]: the 95% Wald interval around a row's accuracy.

pub mod agents;
pub mod cursor;
pub mod feed;
pub mod ranking;
pub mod standings;
pub mod wald;

pub use agents::agent_leaderboard;
pub use feed::leaderboard_runs;

use assay_store::StoreError;

/// Why a board or feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LeaderboardError {
    /// The suite is unknown, deleted, or neither the caller's nor shared with its org.
    #[error("no suite with id {0}")]
    NoSuite(String),
    /// The `cursor` parameter is refused; the message says why.
    #[error("{0}")]
    InvalidCursor(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
