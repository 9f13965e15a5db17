//! The PCA + Lloyd baseline: W = the top-m principal directions of the
//! training data, E = k-means (k-means++ seeding, then Lloyd) on Z = X W.
//! No training steps.
pub mod kmeans;
pub mod pca;
pub mod report;

use ndarray::{Array2, ArrayView2};
use rand::Rng;
use serde::Serialize;

pub use kmeans::{KMeansConfig, KMeansFit, KMeansParams};
pub use pca::Pca;

use crate::error::Result;

/// A fitted baseline model.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Encoder, D × m (the top-m principal directions).
    pub w: Array2<f64>,
    /// Codebook, K × m.
    pub codebook: Array2<f64>,
    /// All eigenvalues of the training second-moment matrix, largest first.
    pub eigenvalues: Vec<f64>,
    /// The k-means run behind the codebook.
    pub kmeans: KMeansSummary,
}

/// What the k-means step did.
#[derive(Debug, Clone, Serialize)]
pub struct KMeansSummary {
    /// Lloyd iterations run.
    pub iterations: usize,
    /// Mean squared distance after seeding and after each iteration.
    pub objective: Vec<f64>,
}

impl Baseline {
    /// Fits PCA with `m` directions on `train` (N × D), then k-means with
    /// `kmeans` on the codes; `rng` drives the k-means++ seeding.
    pub fn fit<R: Rng + ?Sized>(
        train: ArrayView2<f64>,
        m: usize,
        kmeans: KMeansConfig,
        rng: &mut R,
    ) -> Result<Self> {
        let pca = Pca::fit(train, m)?;
        let params = kmeans.check(train.nrows())?;
        let z = train.dot(&pca.components);
        let fit = params.fit(z.view(), rng);
        Ok(Baseline {
            w: pca.components,
            codebook: fit.centres,
            eigenvalues: pca.eigenvalues.to_vec(),
            kmeans: KMeansSummary {
                iterations: fit.iterations,
                objective: fit.objective,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, SyntheticSpec};
    use crate::numerics::linalg::gaussian_matrix;
    use crate::numerics::metrics::evaluate;
    use crate::numerics::rng::{rng_for, Stream};

    #[test]
    fn one_dimensional_gaussian_reaches_the_lloyd_max_optimum() {
        // Lloyd–Max optimal mean squared error for a unit Gaussian.
        let optimum = [(2, 0.3634), (4, 0.1175), (8, 0.03455)];
        let mut rng = rng_for(21, Stream::TrainData);
        let train = gaussian_matrix(200_000, 1, &mut rng);
        let eval = gaussian_matrix(200_000, 1, &mut rng);
        for (k, target) in optimum {
            let base = Baseline::fit(
                train.view(),
                1,
                KMeansConfig { k, iters: 300 },
                &mut rng_for(k as u64, Stream::Init),
            )
            .unwrap();
            let m = evaluate(eval.view(), base.w.view(), base.codebook.view());
            let rel = (m.insub_distortion - target).abs() / target;
            assert!(
                rel < 0.01,
                "K={k}: distortion {} vs Lloyd–Max {target} ({:.2}%)",
                m.insub_distortion,
                rel * 100.0
            );
            assert!(m.residual.unwrap().abs() < 1e-12);
        }
    }

    #[test]
    fn same_seed_gives_identical_baseline_metrics() {
        let spec = SyntheticSpec::report_default();
        let run = |seed| {
            let data = Dataset::synthetic(&spec, 2_000, 500, seed).unwrap();
            let base = Baseline::fit(
                data.train.view(),
                4,
                KMeansConfig { k: 16, iters: 20 },
                &mut rng_for(seed, Stream::Init),
            )
            .unwrap();
            evaluate(data.eval.view(), base.w.view(), base.codebook.view())
        };
        let (a, b, c) = (run(1), run(1), run(2));
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_ne!(a, c);
    }
}
