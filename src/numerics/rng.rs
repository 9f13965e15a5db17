//! Seeded, platform-independent randomness.
//!
//! Every random function in vqlab takes an RNG argument; this module only says
//! how a run's single `--seed` becomes independent streams, so that (for
//! example) the data of seed 3 do not depend on which method is trained, and
//! the mini-batch sequence of a seed is the same for every method.
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The RNG used everywhere: ChaCha8, identical output on every platform.
pub type VqRng = ChaCha8Rng;

/// What a random stream is used for. Each purpose gets its own ChaCha stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The generator's planted subspace U.
    Subspace = 1,
    /// Training-set samples.
    TrainData = 2,
    /// Evaluation-set samples.
    EvalData = 3,
    /// Initialisation (k-means++ seeding, random Stiefel W).
    Init = 4,
    /// Mini-batch indices during training.
    Batches = 5,
    /// Shuffling rows of a data file before the train/eval split.
    Split = 6,
    /// Random states drawn by the gradient harness.
    Harness = 7,
    /// Dead-code restarts (which batch row replaces a dead code).
    Restart = 8,
    /// The estimators' random draws (NSVQ's v, Gumbel's G), handed to both
    /// backends.
    Estimator = 9,
    /// The random draws of a gradient-quality measurement (each
    /// estimator's mean update at a point of a run).
    Measure = 10,
    /// The mini-batches of a gradient-quality measurement (not the run's).
    MeasureBatches = 11,
    /// Where the `photos` set's crops are cut.
    Crops = 12,
}

/// An RNG for `seed` and `stream`.
pub fn rng_for(seed: u64, stream: Stream) -> VqRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}
