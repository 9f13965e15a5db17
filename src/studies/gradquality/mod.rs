//! The true gradient of the expected reconstruction error, the quantity an
//! estimator's update stands in for, and every estimator's update against
//! it (docs/TRUE-GRADIENT.md).
//!
//! J(θ) = E‖x − dec(q(enc(x)))‖² with q the nearest code. [`objective`]: J
//! and its directional derivatives on any model by central differences with
//! common random numbers and standard errors, and the tied model's
//! closed-form gradient; [`one_dim`]: the one-dimensional model whose J and
//! ∇J have a closed form; [`truth`]: ∇J on any model, every coordinate,
//! with standard errors; [`measure`]: each estimator's mean update against
//! it (cosine, relative bias, relative variance, descent ratio); [`run`]:
//! the points of one training run, measured. Each formula is checked against
//! the others in the unit tests.
pub mod bins;
pub mod measure;
pub mod objective;
pub mod one_dim;
pub mod truth;

use ndarray::ArrayView2;
use serde::Serialize;

use crate::data::Dataset;
use crate::error::Result;
use crate::model::{Backend, MethodSpec};
use crate::train::{initial_params, train_until, Stops};
pub use measure::{MeasureOptions, PointQuality};

/// A measured run: its points, in order.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct GradQualityReport {
    /// The run: model, sizes, rates, optimizer, seed.
    pub config: crate::train::TrainConfig,
    /// The estimator the run trains with.
    pub run_estimator: crate::model::Estimator,
    /// Rows ∇J and the batches are taken from.
    pub rows: usize,
    /// The code-space step h.
    pub step: f64,
    /// Mini-batches per estimator per point.
    pub batches: usize,
    /// The points.
    pub points: Vec<PointQuality>,
}

/// Trains `options`' run on `data` and measures every estimator at each of
/// its points, on `rows` (for the generator, fresh rows; for a data file,
/// the training rows). `progress` is told each finished part.
pub fn run(
    data: &Dataset,
    rows: ArrayView2<f64>,
    options: &MeasureOptions,
    mut progress: impl FnMut(&str),
) -> Result<GradQualityReport> {
    options.check(rows.nrows())?;
    let config = &options.config;
    let spec = MethodSpec::new(config.model, options.run_estimator, Backend::Manual);
    let mut points = Vec::new();
    for &at in &options.at {
        let params = if at == 0 {
            initial_params(data.train.view(), config)?
        } else {
            let mut method = spec.build(config.weights());
            let stops = Stops {
                stop_after: Some(at),
                ..Stops::default()
            };
            train_until(method.as_mut(), data, config, None, |_| {}, stops)?
                .params
                .expect("a run keeps its parameters")
        };
        points.push(measure::measure_point(
            &params,
            rows,
            at,
            options,
            &mut progress,
        )?);
    }
    Ok(GradQualityReport {
        config: config.config().clone(),
        run_estimator: options.run_estimator,
        rows: rows.nrows(),
        step: options.step,
        batches: options.batches,
        points,
    })
}
