//! One baseline run on loaded data, as a serializable report (used by
//! `vqlab baseline` and by the calibration).
use serde::Serialize;

use super::{Baseline, KMeansConfig, KMeansSummary};
use crate::data::{DataSource, Dataset};
use crate::error::{invalid, Result};
use crate::numerics::metrics::{evaluate, Metrics};
use crate::numerics::rng::{rng_for, Stream};

/// The configuration a baseline run used, echoed in its JSON.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineConfig {
    /// Codebook size.
    pub k: usize,
    /// Code dimension.
    pub m: usize,
    /// Lloyd iterations.
    pub kmeans_iters: usize,
    /// Seed of data and k-means++ seeding.
    pub seed: u64,
    /// Training rows used.
    pub n_train: usize,
    /// Evaluation rows used.
    pub n_eval: usize,
    /// Ambient dimension of the data.
    pub dim: usize,
    /// Whether the data were centred by the training mean.
    pub centered: bool,
    /// How the data were scaled (metrics are in the data's own units).
    pub scaling: crate::data::Scaling,
    /// What both splits were divided by.
    pub scale: f64,
    /// Where the data came from.
    pub data: DataSource,
}

/// The output of one baseline run.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineReport {
    /// The configuration used.
    pub config: BaselineConfig,
    /// Metrics on the evaluation set.
    pub metrics: Metrics,
    /// Metrics on the training set.
    pub train_metrics: Metrics,
    /// The k-means run behind the codebook.
    pub kmeans: KMeansSummary,
    /// Eigenvalues of the training second-moment matrix, largest first.
    pub eigenvalues: Vec<f64>,
}

/// Fits and evaluates the baseline for one K on already loaded data.
pub fn run_on(
    data: &Dataset,
    m: usize,
    k: usize,
    kmeans_iters: usize,
    seed: u64,
) -> Result<BaselineReport> {
    let dim = data.dim();
    if m == 0 || m > dim {
        return Err(invalid(
            "m",
            m,
            format!("between 1 and the data dimension D = {dim}"),
        ));
    }
    let base = Baseline::fit(
        data.train.view(),
        m,
        KMeansConfig {
            k,
            iters: kmeans_iters,
        },
        &mut rng_for(seed, Stream::Init),
    )?;
    Ok(BaselineReport {
        config: BaselineConfig {
            k,
            m,
            kmeans_iters,
            seed,
            n_train: data.train.nrows(),
            n_eval: data.eval.nrows(),
            dim,
            centered: data.centered,
            scaling: data.scaling,
            scale: data.scale,
            data: data.source.clone(),
        },
        metrics: evaluate(data.eval.view(), base.w.view(), base.codebook.view())
            .in_units(data.scale),
        train_metrics: evaluate(data.train.view(), base.w.view(), base.codebook.view())
            .in_units(data.scale),
        kmeans: base.kmeans,
        eigenvalues: base.eigenvalues,
    })
}
