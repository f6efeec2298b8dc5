//! Leaderboards: read models over a suite's runs, computed per request from indexed rows and
//! shared by every caller that shows a board (the API today, the UI later).
//!
//! - [`feed`]: the leaderboard-runs feed (`GET /suites/{id}/leaderboard-runs`): each ranking
//!   group's newest completed runs, for clients that build their own boards;
//! - [`ranking`]: its grouping, ranking and slicing, as pure functions;
//! - [`cursor`]: the opaque cursor that continues a truncated feed.

pub mod cursor;
pub mod feed;
pub mod ranking;

pub use feed::{leaderboard_runs, LeaderboardError};
