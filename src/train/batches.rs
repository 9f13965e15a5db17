//! Seeded mini-batches: the same rows for every method of a seed.
use ndarray::{Array2, ArrayView2};
use rand::Rng;

use crate::numerics::rng::{rng_for, Stream, VqRng};

/// The mini-batch sequence of a seed: each step, `batch` distinct rows of the
/// training set, drawn from the seed's own stream, so every method sees the
/// same batches for the same seed.
///
/// A partial Fisher–Yates shuffle of a permutation kept between steps: the
/// first `batch` entries after step t's swaps are a uniformly random subset,
/// drawn without allocating.
#[derive(Debug, Clone)]
pub struct BatchSampler {
    rng: VqRng,
    order: Vec<usize>,
    batch: usize,
}

impl BatchSampler {
    /// The sampler of `seed` over `n` rows.
    pub fn new(seed: u64, n: usize, batch: usize) -> Self {
        Self::on_stream(seed, Stream::Batches, n, batch)
    }

    /// The sampler of `seed` over `n` rows drawing from `stream` (a
    /// measurement's batches, apart from the run's).
    pub fn on_stream(seed: u64, stream: Stream, n: usize, batch: usize) -> Self {
        assert!(batch <= n, "a batch of {batch} distinct rows from {n}");
        BatchSampler {
            rng: rng_for(seed, stream),
            order: (0..n).collect(),
            batch,
        }
    }

    /// The row indices of the next batch (valid until the next call).
    pub fn next_indices(&mut self) -> &[usize] {
        let n = self.order.len();
        for i in 0..self.batch {
            let j = self.rng.gen_range(i..n);
            self.order.swap(i, j);
        }
        &self.order[..self.batch]
    }

    /// The next batch, gathered from `train`.
    pub fn next_batch(&mut self, train: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((self.batch, train.ncols()));
        self.next_batch_into(train, &mut out);
        out
    }

    /// The next batch, gathered from `train` into `out` (resized if needed).
    pub fn next_batch_into(&mut self, train: ArrayView2<f64>, out: &mut Array2<f64>) {
        if out.dim() != (self.batch, train.ncols()) {
            *out = Array2::zeros((self.batch, train.ncols()));
        }
        let idx = self.next_indices();
        for (mut row, &i) in out.outer_iter_mut().zip(idx.iter()) {
            row.assign(&train.row(i));
        }
    }
}
