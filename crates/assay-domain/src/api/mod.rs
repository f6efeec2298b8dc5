//! Request and response bodies of the HTTP API, as the MKA1 Evals contract spells them.

pub mod agents;
pub mod files;
pub mod historical;
pub mod leaderboards;
pub mod list;
pub mod patch;
pub mod runs;
pub mod schedules;
pub mod suites;
pub mod tokens;
pub mod trajectories;

pub use agents::*;
pub use files::*;
pub use historical::*;
pub use leaderboards::*;
pub use list::*;
pub use patch::*;
pub use runs::*;
pub use schedules::*;
pub use suites::*;
pub use tokens::*;
pub use trajectories::*;
