//! The study layer every long command stands on: the run store, the
//! cost-balanced shards, the statistics (intervals, gains, verdict rules).
pub mod claim;
pub mod driver;
pub mod rules;
pub mod shard;
pub mod stats;
pub mod store;

/// The sizes of a study: the full schedule and a quick one (seconds, for
/// tests and CI). Each study has its own sizes; choosing between the two is
/// written once.
pub trait Scale: Sized {
    /// The full study.
    fn full() -> Self;

    /// The smoke version.
    fn quick() -> Self;

    /// [`Scale::quick`] when `quick`, else [`Scale::full`].
    fn of(quick: bool) -> Self {
        if quick {
            Self::quick()
        } else {
            Self::full()
        }
    }
}
