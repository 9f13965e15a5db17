//! The report's settings, written once: [`TrainConfig::report_default`],
//! the command-line defaults of `train`/`gradcheck`, the reproduction's units
//! and the studies' arms all derive from these.
//!
//! [`TrainConfig::report_default`]: super::TrainConfig::report_default

/// Codebook size K of experiment 1.
pub const K: usize = 16;
/// Code dimension m.
pub const M: usize = 4;
/// Training steps of experiment 1.
pub const STEPS: usize = 200;
/// Mini-batch size of experiment 1.
pub const BATCH: usize = 512;
/// η_W, the rate of the network parameters.
pub const LR_W: f64 = 0.08;
/// η_E, the rate of the codebook.
pub const LR_E: f64 = 0.2;
/// α, the weight of the codebook term.
pub const ALPHA: f64 = 1.0;
/// β, the weight of the commitment term.
pub const BETA: f64 = 0.25;
/// Lloyd iterations of the initial codebook (and of the baseline).
pub const KMEANS_ITERS: usize = 20;
/// Evaluation interval of `train`, steps.
pub const LOG_EVERY: usize = 25;
