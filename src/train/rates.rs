//! Learning rates: the defaults (the report's for its generator, derived
//! from the spectrum for data files, Adam's own), and the validation-grid
//! search that `train --lr auto` and the studies share.
//!
//! **Why the spectrum.** A gradient step on the encoder moves the codes by
//! about η_W · λ₁ · (their error), λ₁ the largest eigenvalue of the data's
//! second moment XᵀX/N: the step that matters is η_W λ₁. The report's
//! η_W = 0.08 was tuned on its generator, whose λ₁ = s₁² + σ² ≈ 4.80. Unit-
//! variance scaling makes the *mean* eigenvalue 1, not the largest: on
//! natural-image patches the mean-brightness direction carries most of the
//! energy and λ₁ is ten times the generator's, so the report's rate
//! overshoots. The default for a file is therefore η_W = 0.08 · 4.80 / λ₁
//! (rounded to two significant digits), the report's η_W λ₁. The codebook's
//! gradient, α (e − z̄) per assigned share of the batch, does not grow with
//! the data, so η_E keeps the report's 0.2.
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::data::SyntheticSpec;
use crate::error::{Result, VqError};
use crate::optim::OptimizerKind;
use crate::train::{report, TrainResult};

/// The rates of Adam when none are given (η_W, η_E): Adam divides by the
/// gradient's size, so one pair serves every scale.
pub const ADAM_RATES: (f64, f64) = (1e-3, 1e-3);

/// λ₁ of the report's generator, s₁² + σ², the data its rates were made for.
pub fn report_top_eigenvalue() -> f64 {
    let spec = SyntheticSpec::report_default();
    spec.spectrum[0] * spec.spectrum[0] + spec.noise_sigma * spec.noise_sigma
}

/// `v` rounded to two significant digits.
fn two_digits(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// Where a run's learning rates came from (printed in its header and
/// written into its JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum RateOrigin {
    /// Given on the command line.
    Given,
    /// The report's SGD rates (its generator).
    Report,
    /// Adam's defaults, [`ADAM_RATES`].
    Adam,
    /// One rate given, the other from `rest`.
    PartlyGiven {
        /// The rate given (`lr_w` or `lr_e`).
        given: String,
        /// Where the other came from.
        rest: Box<RateOrigin>,
    },
    /// η_W = 0.08 · λ₁(report) / λ₁(data), η_E the report's.
    Spectrum {
        /// λ₁ of the training rows' second moment, after centring and
        /// scaling.
        top_eigenvalue: f64,
    },
    /// The conv model under SGD: η_W of `base` divided by the positions its
    /// first convolution slides over (a shared weight's gradient sums over
    /// them), η_E by the latent vectors per image (the codebook term sums
    /// over them).
    SharedWeights {
        /// (H/2)·(W/2).
        positions: usize,
        /// Latent vectors per image.
        latent: usize,
        /// Where the undivided pair came from.
        base: Box<RateOrigin>,
    },
    /// Chosen on validation rows by [`choose_rates`] around a base pair.
    Validation {
        /// Where the base pair came from.
        base: Box<RateOrigin>,
        /// The validation rows (carved from the training rows).
        val_rows: usize,
        /// Every multiplier tried.
        grid: Vec<GridPoint>,
        /// The index of the chosen one (None: every run diverged).
        chosen: Option<usize>,
    },
}

impl RateOrigin {
    /// In words, for a table header.
    pub fn describe(&self) -> String {
        match self {
            RateOrigin::Given => "given".into(),
            RateOrigin::Report => "the report's".into(),
            RateOrigin::Adam => "Adam's defaults".into(),
            RateOrigin::PartlyGiven { given, rest } => {
                format!("{given} given, the other {}", rest.describe())
            }
            RateOrigin::SharedWeights {
                positions,
                latent,
                base,
            } => format!(
                "η_W / {positions} (the first convolution's positions), η_E / {latent} (latent vectors per image), of {}",
                base.describe()
            ),
            RateOrigin::Spectrum { top_eigenvalue } => format!(
                "from the spectrum: λ₁ = {} (report's generator {:.2})",
                crate::train::significant(*top_eigenvalue),
                report_top_eigenvalue()
            ),
            RateOrigin::Validation {
                base,
                val_rows,
                chosen,
                grid,
            } => match chosen {
                Some(i) => format!(
                    "chosen on {val_rows} validation rows: × {} of the base rates ({})",
                    grid[*i].multiplier,
                    base.describe()
                ),
                None => format!("every rate diverged on {val_rows} validation rows"),
            },
        }
    }
}

/// The default (η_W, η_E) for `optimizer` on training rows `train`:
/// Adam's own; SGD on a data file (`from_file`) from the spectrum; SGD on
/// the generator the report's.
pub fn default_rates(
    optimizer: OptimizerKind,
    train: ArrayView2<f64>,
    from_file: bool,
) -> Result<((f64, f64), RateOrigin)> {
    Ok(match optimizer {
        OptimizerKind::Adam => (ADAM_RATES, RateOrigin::Adam),
        OptimizerKind::Sgd if !from_file => ((report::LR_W, report::LR_E), RateOrigin::Report),
        OptimizerKind::Sgd => {
            let top = crate::baseline::pca::Pca::fit(train, 1)?.eigenvalues[0];
            (
                spectrum_rates(top),
                RateOrigin::Spectrum {
                    top_eigenvalue: top,
                },
            )
        }
    })
}

/// What the conv model's SGD rates are divided by (`None` for the other
/// models, or a conv model whose image is not set): the positions its first
/// convolution slides over, (H/2)·(W/2), for η_W (a shared weight's gradient
/// sums over them) and its latent vectors per image for η_E (the codebook
/// term sums over them). At the undivided rates its loss diverges.
///
/// ```
/// use vqlab::model::{ModelKind, ModelSpec};
/// use vqlab::train::rates::shared_weight_divisors;
/// let mnist = ModelSpec::conv("1,28,28".parse().unwrap(), 32);
/// assert_eq!(shared_weight_divisors(&mnist), Some((196, 49)));
/// assert_eq!(shared_weight_divisors(&ModelSpec::of(ModelKind::Tied)), None);
/// ```
pub fn shared_weight_divisors(model: &crate::model::ModelSpec) -> Option<(usize, usize)> {
    match (model.kind, model.image) {
        (crate::model::ModelKind::Conv, Some(image)) => Some((
            ((image.height / 2) * (image.width / 2)).max(1),
            model.latent_positions().max(1),
        )),
        _ => None,
    }
}

/// The SGD rates for data whose largest second-moment eigenvalue is
/// `top_eigenvalue`: the report's η_W λ₁, its η_E.
///
/// ```
/// use vqlab::train::rates::{report_top_eigenvalue, spectrum_rates};
/// // The report's generator gets the report's rates back.
/// assert_eq!(spectrum_rates(report_top_eigenvalue()), (0.08, 0.2));
/// // Ten times its λ₁: a tenth of its η_W.
/// assert_eq!(spectrum_rates(10.0 * report_top_eigenvalue()), (0.008, 0.2));
/// ```
pub fn spectrum_rates(top_eigenvalue: f64) -> (f64, f64) {
    let lr_w = if top_eigenvalue > 0.0 && top_eigenvalue.is_finite() {
        two_digits(report::LR_W * report_top_eigenvalue() / top_eigenvalue)
    } else {
        report::LR_W
    };
    (lr_w, report::LR_E)
}

/// The validation-grid search: multipliers of a base pair, tried in order,
/// then extended past the edge that wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateSearch {
    /// The multipliers tried first, increasing.
    pub grid: Vec<f64>,
    /// At most this many more, each one grid ratio beyond the edge of what
    /// was tried while the best validation recon sits on that edge.
    pub extend: usize,
}

impl RateSearch {
    /// The studies' full grid: × 0.25, 1, 4 and up to two extensions.
    pub fn standard() -> Self {
        RateSearch {
            grid: vec![0.25, 1.0, 4.0],
            extend: 2,
        }
    }

    /// The ratio between neighbouring multipliers (4 when the grid has one).
    pub fn ratio(&self) -> f64 {
        match self.grid.as_slice() {
            [a, b, ..] if *a > 0.0 && b > a => b / a,
            _ => 4.0,
        }
    }

    /// The most runs the search may take.
    pub fn max_runs(&self) -> usize {
        self.grid.len() + self.extend
    }
}

/// One learning-rate multiplier of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridPoint {
    /// The multiplier.
    pub multiplier: f64,
    /// η_W used.
    pub lr_w: f64,
    /// η_E used.
    pub lr_e: f64,
    /// Recon on the validation rows (None: the run diverged).
    pub val_recon: Option<f64>,
}

/// What a search found.
pub struct RateChoice {
    /// Every multiplier tried, by increasing multiplier.
    pub points: Vec<GridPoint>,
    /// The index of the chosen one (None: every run diverged).
    pub chosen: Option<usize>,
    /// The chosen run.
    pub best: Option<TrainResult>,
}

/// The multiplier to try next, or None: one `ratio` below the smallest
/// tried when the best validation recon is there (or when every run
/// diverged), one `ratio` above the largest when it is there.
pub fn edge_extension(points: &[GridPoint], ratio: f64) -> Option<f64> {
    let lowest = points
        .iter()
        .map(|p| p.multiplier)
        .fold(f64::INFINITY, f64::min);
    let highest = points
        .iter()
        .map(|p| p.multiplier)
        .fold(f64::NEG_INFINITY, f64::max);
    let best = points
        .iter()
        .filter_map(|p| p.val_recon.map(|v| (v, p.multiplier)))
        .reduce(|a, b| if b.0 < a.0 { b } else { a });
    match best {
        None if !points.is_empty() => Some(lowest / ratio),
        Some((_, m)) if m == lowest => Some(lowest / ratio),
        Some((_, m)) if m == highest => Some(highest * ratio),
        _ => None,
    }
}

/// Trains at every rate of `search` around `base` (`run_at` trains one run
/// at the rates it is given, on the rows trained on) and keeps the run with
/// the lowest recon on the validation rows `val` (in the data's units,
/// `val_scale`; the earliest tried on ties). A run that diverges counts as
/// no result. Nothing but `val` is read to choose: the evaluation rows are
/// not an argument.
pub fn choose_rates(
    base: (f64, f64),
    search: &RateSearch,
    val: ArrayView2<f64>,
    val_scale: f64,
    mut run_at: impl FnMut((f64, f64)) -> Result<TrainResult>,
) -> Result<RateChoice> {
    let mut points: Vec<GridPoint> = Vec::new();
    let mut best: Option<(f64, TrainResult)> = None;
    let ratio = search.ratio();
    // Tried in the grid's order (popped from the back).
    let mut queue: Vec<f64> = search.grid.iter().rev().copied().collect();
    let mut extensions = 0;
    while let Some(multiplier) = queue.pop().or_else(|| {
        (extensions < search.extend)
            .then(|| edge_extension(&points, ratio))
            .flatten()
            .inspect(|_| extensions += 1)
    }) {
        let (lr_w, lr_e) = (base.0 * multiplier, base.1 * multiplier);
        let val_recon = match run_at((lr_w, lr_e)) {
            // A run stopped at divergence (`Stops::keep_diverged`) is no result.
            Ok(result) if result.diverged.is_some() => None,
            Ok(result) => {
                let params = result
                    .params
                    .as_ref()
                    .expect("train returns its parameters");
                let recon = params.evaluate(val).in_units(val_scale).recon_mse;
                if recon.is_finite() && best.as_ref().is_none_or(|(b, _)| recon < *b) {
                    best = Some((recon, result));
                }
                recon.is_finite().then_some(recon)
            }
            Err(VqError::Diverged { .. }) => None,
            Err(e) => return Err(e),
        };
        points.push(GridPoint {
            multiplier,
            lr_w,
            lr_e,
            val_recon,
        });
    }
    points.sort_by(|a, b| a.multiplier.total_cmp(&b.multiplier));
    let chosen = best.as_ref().map(|(recon, _)| {
        points
            .iter()
            .position(|p| p.val_recon == Some(*recon))
            .expect("the best is a grid point")
    });
    Ok(RateChoice {
        points,
        chosen,
        best: best.map(|(_, r)| r),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_never_reads_the_evaluation_rows() {
        use crate::data::Dataset;
        use crate::model::{Backend, Estimator, MethodSpec, ModelKind, ModelSpec};
        use crate::train::{initial_params, train, TrainConfig};
        let spec = SyntheticSpec::report_default();
        let full = Dataset::synthetic(&spec, 700, 200, 5).unwrap();
        let val = full.train.slice(ndarray::s![600.., ..]).to_owned();
        let mut data = full.clone();
        data.train = full.train.slice(ndarray::s![..600, ..]).to_owned();
        // The same rows to train on and validate with; other evaluation rows.
        let mut other = data.clone();
        other.eval = Dataset::synthetic(&spec, 10, 200, 6).unwrap().eval;
        let config = TrainConfig {
            steps: 30,
            batch: 64,
            k: 8,
            log_every: 10,
            ..TrainConfig::report_default()
        };
        let method = MethodSpec::new(
            ModelSpec::of(ModelKind::Tied),
            Estimator::Ste,
            Backend::Manual,
        );
        let search = RateSearch::standard();
        let choose = |d: &Dataset| {
            let start = initial_params(d.train.view(), &config).unwrap();
            choose_rates((0.08, 0.2), &search, val.view(), d.scale, |(w, e)| {
                let c = TrainConfig {
                    lr_w: w,
                    lr_e: e,
                    ..config.clone()
                }
                .check(600, 64)?;
                train(
                    method.build(c.weights()).as_mut(),
                    d,
                    &c,
                    Some(start.clone()),
                    |_| {},
                )
            })
            .unwrap()
        };
        let (a, b) = (choose(&data), choose(&other));
        assert_eq!(a.points, b.points);
        assert_eq!(a.chosen, b.chosen);
        assert!(a.chosen.is_some());
        // The control: the evaluation rows did differ, and the runs saw them.
        let (ra, rb) = (a.best.unwrap(), b.best.unwrap());
        assert_ne!(ra.final_metrics.recon_mse, rb.final_metrics.recon_mse);
        assert_eq!(ra.params.unwrap().weights, rb.params.unwrap().weights);
    }

    #[test]
    fn two_digits_rounds_to_two_significant_digits() {
        assert_eq!(two_digits(0.0074_63), 0.0075);
        assert_eq!(two_digits(0.08), 0.08);
        assert_eq!(two_digits(123.4), 120.0);
        assert_eq!(two_digits(0.0), 0.0);
    }

    #[test]
    fn the_grid_extends_past_the_edge_that_wins() {
        let point = |multiplier: f64, val_recon: Option<f64>| GridPoint {
            multiplier,
            lr_w: multiplier,
            lr_e: multiplier,
            val_recon,
        };
        let inside = [
            point(0.25, Some(3.0)),
            point(1.0, Some(2.0)),
            point(4.0, Some(3.0)),
        ];
        assert_eq!(edge_extension(&inside, 4.0), None);
        let low = [
            point(0.25, Some(1.0)),
            point(1.0, Some(2.0)),
            point(4.0, Some(3.0)),
        ];
        assert_eq!(edge_extension(&low, 4.0), Some(0.0625));
        let high = [
            point(0.25, Some(3.0)),
            point(1.0, Some(2.0)),
            point(4.0, Some(1.0)),
        ];
        assert_eq!(edge_extension(&high, 4.0), Some(16.0));
        // A diverged largest rate is not a winner: the best is inside.
        let diverged = [
            point(0.25, Some(3.0)),
            point(1.0, Some(2.0)),
            point(4.0, None),
        ];
        assert_eq!(edge_extension(&diverged, 4.0), None);
        // Everything diverged: go lower.
        let all = [point(1.0, None), point(4.0, None)];
        assert_eq!(edge_extension(&all, 4.0), Some(0.25));
        assert_eq!(edge_extension(&[], 4.0), None);
    }
}
