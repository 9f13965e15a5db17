//! The study layer every long command stands on: the run store, the
//! cost-balanced shards, the statistics (intervals, gains, verdict rules).
pub mod driver;
pub mod rules;
pub mod shard;
pub mod stats;
pub mod store;
