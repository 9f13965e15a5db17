//! The units of work of `vqlab future`: one data set, one seed, and one job —
//! the PCA + Lloyd baselines, one training arm with its learning rate chosen
//! on the validation split, or a lockstep parity check of the backends. A
//! unit's spec determines its result completely; it is stored in the run
//! store by [`StoredUnit`], so studies resume after an interruption and
//! share units (F1's MNIST runs at K = 64 are F4's too).
use std::path::PathBuf;

use ndarray::{s, Array2, Axis};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::baseline::kmeans::{restarts, Seeding};
use crate::baseline::{Baseline, KMeansConfig};
use crate::data::real::content_digest;
use crate::data::{DataSource, Dataset, RealSet, Scaling, SyntheticSpec};
use crate::error::{Result, VqError};
use crate::model::codebook::{CodebookSpec, CodebookUpdate};
use crate::model::estimator::GumbelSpec;
use crate::model::{Backend, Estimator, MethodSpec, ModelKind, ModelSpec};
use crate::numerics::metrics::{evaluate, Metrics};
use crate::numerics::rng::{rng_for, Stream};
use crate::optim::{OptimizerKind, OptimizerSpec, ScheduleKind, ScheduleSpec};
use crate::study::store::{spec_digest, StoredUnit, CODE_FINGERPRINT};
use crate::train::rates::{choose_rates, RateChoice, RateSearch};
pub use crate::train::rates::{edge_extension, GridPoint};
use crate::train::{initial_params, train, Init, SvdChoice, TrainConfig};

mod data;
pub use data::*;
mod run;

/// The learning-rate schedule of an arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// The same rates throughout.
    Constant,
    /// Cosine decay from the chosen rates to 0.
    Cosine,
}

/// One trained configuration: model × estimator × optimizer × schedule ×
/// codebook update (the backend of the studies is always the hand-derived
/// one; parity units check it against autograd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Arm {
    /// The model.
    pub model: ModelSpec,
    /// The estimator.
    pub estimator: Estimator,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// The schedule.
    pub schedule: Schedule,
    /// The codebook update.
    pub codebook: CodebookUpdate,
}

impl Arm {
    /// `model` with `estimator`, SGD, constant rates, gradient codebook.
    pub fn new(model: ModelKind, estimator: Estimator) -> Self {
        Arm {
            model: ModelSpec::of(model),
            estimator,
            optimizer: OptimizerKind::Sgd,
            schedule: Schedule::Constant,
            codebook: CodebookUpdate::Grad,
        }
    }

    /// With another optimizer.
    pub fn with_optimizer(self, optimizer: OptimizerKind) -> Self {
        Arm { optimizer, ..self }
    }

    /// With another schedule.
    pub fn with_schedule(self, schedule: Schedule) -> Self {
        Arm { schedule, ..self }
    }

    /// With another codebook update.
    pub fn with_codebook(self, codebook: CodebookUpdate) -> Self {
        Arm { codebook, ..self }
    }

    /// `model/estimator`, then every choice that is not the report's
    /// (`adam`, `cosine`, `ema`).
    pub fn label(&self) -> String {
        let mut label = format!("{}/{}", self.model.kind.name(), self.estimator.name());
        if self.optimizer == OptimizerKind::Adam {
            label.push_str(" adam");
        }
        if self.schedule == Schedule::Cosine {
            label.push_str(" cosine");
        }
        if self.codebook == CodebookUpdate::Ema {
            label.push_str(" ema");
        }
        label
    }

    /// The method (manual backend).
    pub fn method(&self) -> MethodSpec {
        MethodSpec::new(self.model, self.estimator, Backend::Manual)
    }
}

/// The sizes shared by every job on one data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sizes {
    /// Codebook size K.
    pub k: usize,
    /// Code dimension m.
    pub m: usize,
    /// Mini-batch size B.
    pub batch: usize,
    /// Training steps.
    pub steps: usize,
}

/// What a unit computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// PCA + Lloyd: the report's version (k-means++, 20 iterations: the
    /// linear models' starting point) and Lloyd run to convergence (the same
    /// seeding; stops when no assignment changes, at most `cap` iterations).
    Baselines {
        /// The iteration cap of the converged baseline.
        cap: usize,
        /// k-means++ restarts of the converged baseline, the one with the
        /// lowest validation recon kept: as many as an arm may try
        /// learning rates, so the baseline is tuned as the arms are.
        restarts: usize,
    },
    /// One arm, trained once per learning-rate multiplier on the training
    /// rows; the multiplier with the lowest validation recon is chosen and
    /// only its run is evaluated on the evaluation rows.
    Train {
        /// The arm.
        arm: Arm,
        /// η_W and η_E before the multiplier.
        base: (f64, f64),
        /// The multipliers tried first.
        grid: Vec<f64>,
        /// At most this many more multipliers, each one grid ratio beyond
        /// the edge of what was tried while the best validation recon sits
        /// on that edge ([`edge_extension`]).
        extend: usize,
        /// Curve points per run (evaluation rows, reporting only).
        curve_points: usize,
    },
    /// Autograd against manual in lockstep for each estimator of a model.
    Parity {
        /// The model.
        model: ModelSpec,
        /// The estimators (STE always included).
        estimators: Vec<Estimator>,
        /// The optimizer driving the shared trajectory.
        optimizer: OptimizerKind,
        /// Lockstep steps.
        steps: usize,
        /// η_W and η_E of the trajectory.
        base: (f64, f64),
    },
}

/// Where the real data sets are read from (not part of a unit's identity:
/// two folders with the same content are the same data).
#[derive(Debug, Clone, Default)]
pub struct DataDir(pub PathBuf);

impl PartialEq for DataDir {
    fn eq(&self, _: &DataDir) -> bool {
        true
    }
}

/// A unit: data, seed, sizes and job (and the code fingerprint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FutureSpec {
    /// The code fingerprint ([`CODE_FINGERPRINT`]).
    pub code: String,
    /// The data.
    pub data: DataChoice,
    /// The seed (initialisation, batches, draws; synthetic data too).
    pub seed: u64,
    /// K, m, batch, steps.
    pub sizes: Sizes,
    /// The job.
    pub job: Job,
    /// Where real data are read (not stored).
    #[serde(skip)]
    pub dir: DataDir,
}

impl FutureSpec {
    /// A unit of the current code.
    pub fn new(data: DataChoice, seed: u64, sizes: Sizes, job: Job, dir: PathBuf) -> Self {
        FutureSpec {
            code: CODE_FINGERPRINT.to_string(),
            data,
            seed,
            sizes,
            job,
            dir: DataDir(dir),
        }
    }

    /// A short label for progress lines.
    pub fn label(&self) -> String {
        let what = match &self.job {
            Job::Baselines { .. } => "baselines".to_string(),
            Job::Train { arm, .. } => arm.label(),
            Job::Parity { model, .. } => format!("parity {}", model.kind.name()),
        };
        format!(
            "{} K={} {what} seed {}",
            self.data.name(),
            self.sizes.k,
            self.seed
        )
    }

    /// `model` as it runs on this unit's data: the conv model takes its
    /// image shape from the data (an arm names the model, not the shape,
    /// so `conv/ste` is one arm on MNIST and on the photos).
    pub fn model_on_data(&self, mut model: ModelSpec) -> ModelSpec {
        if model.kind == ModelKind::Conv && model.image.is_none() {
            model.image = self.data.image();
        }
        model
    }

    /// Estimated work in millions of multiply-adds (for sharding).
    pub fn estimated_cost(&self) -> f64 {
        let d = self.data.dim() as f64;
        let Sizes { k, m, batch, steps } = self.sizes;
        let (k, m, b, steps) = (k as f64, m as f64, batch as f64, steps as f64);
        let n = self.data.n_fit() as f64;
        let cost = match &self.job {
            Job::Baselines { cap, restarts } => {
                n * d * d + n * k * m * (*cap as f64).min(100.0) * (*restarts).max(1) as f64
            }
            Job::Train {
                arm, grid, extend, ..
            } => {
                let model = self.model_on_data(arm.model);
                let width = if model.kind == ModelKind::Conv && model.image.is_none() {
                    m // refused when it runs: conv needs image data
                } else {
                    model.model().row_cost(&model, m as usize)
                };
                // Extensions happen about half the time.
                (grid.len() as f64 + 0.5 * *extend as f64)
                    * steps
                    * b
                    * (4.0 * d * width + 3.0 * k * m)
            }
            Job::Parity {
                steps, estimators, ..
            } => 8.0 * (*steps as f64) * estimators.len() as f64 * b * d * m * 4.0,
        };
        cost / 1e6
    }
}

/// The PCA + Lloyd baselines of a unit (evaluation rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineOutcome {
    /// k-means++ and 20 Lloyd iterations (the report's; the linear
    /// models' start).
    pub report: Metrics,
    /// Lloyd to convergence, the restart with the lowest validation recon
    /// (restart 0 has the report baseline's seeding).
    pub converged: Metrics,
    /// Lloyd iterations the chosen restart took.
    pub converged_iterations: usize,
    /// On image data: the first [`PICTURE_ROWS`] evaluation rows, in the
    /// data's units (the originals of the study's pictures).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub originals: Vec<Vec<f64>>,
    /// On image data: the converged baseline's reconstructions of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pictures: Vec<Vec<f64>>,
    /// The chosen restart and the restarts tried.
    pub converged_restart: (usize, usize),
}

/// A training unit's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// Every multiplier tried.
    pub grid: Vec<GridPoint>,
    /// The index of the chosen one (None: every run diverged).
    pub chosen: Option<usize>,
    /// The chosen run on the evaluation rows.
    pub eval: Option<Metrics>,
    /// The chosen run on the rows trained on.
    pub train: Option<Metrics>,
    /// The chosen run's evaluation recon along training (step, recon).
    pub curve: Vec<(usize, f64)>,
    /// Metrics at the start (evaluation rows).
    pub initial: Metrics,
    /// On image data: the chosen run's reconstructions of the first
    /// [`PICTURE_ROWS`] evaluation rows, in the data's units.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pictures: Vec<Vec<f64>>,
}

/// Evaluation rows a unit on image data keeps the reconstructions of (the
/// pictures FUTURE.md shows per arm).
pub const PICTURE_ROWS: usize = 6;

/// One estimator's lockstep result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityRow {
    /// The estimator.
    pub estimator: Estimator,
    /// Largest relative error of any gradient, autograd vs manual.
    pub max_rel_err_grad: f64,
    /// Largest absolute loss error.
    pub max_abs_err_loss: f64,
}

/// What a unit produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Of [`Job::Baselines`].
    Baselines(BaselineOutcome),
    /// Of [`Job::Train`].
    Train(TrainOutcome),
    /// Of [`Job::Parity`].
    Parity {
        /// One row per estimator.
        rows: Vec<ParityRow>,
    },
}

/// A stored unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FutureResult {
    /// The spec.
    pub spec: FutureSpec,
    /// The outcome.
    pub outcome: Outcome,
    /// Wall time, seconds.
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn slice_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
    }

    #[test]
    fn real_splits_are_disjoint_per_seed_and_scaled_by_the_rows_trained_on() {
        let dir = slice_dir();
        let matrix = RealSet::Digits.load(&dir).unwrap();
        let choice = DataChoice::real(RealSet::Digits, &matrix, None, 0.2, 0.125);
        let a = build_data(&choice, 0, &dir).unwrap();
        let b = build_data(&choice, 7, &dir).unwrap();
        // 300 rows: 60 eval, 30 validation, 210 trained on, split anew per
        // seed (the same split for the same seed).
        assert_eq!(
            (a.data.eval.nrows(), a.val.nrows(), a.data.train.nrows()),
            (60, 30, 210)
        );
        assert_ne!(a.data.eval, b.data.eval);
        let again = build_data(&choice, 0, &dir).unwrap();
        assert_eq!(a.data.train, again.data.train);
        assert_eq!(a.val, again.val);
        // Centred and unit mean square on the rows trained on only.
        let mean = a.data.train.mean_axis(Axis(0)).unwrap();
        assert!(mean.iter().all(|v| v.abs() < 1e-12));
        let ms = a.data.train.iter().map(|v| v * v).sum::<f64>() / a.data.train.len() as f64;
        assert!((ms - 1.0).abs() < 1e-12);
        // Back in pixel units, every row is one of the file's rows, and no
        // row is in two splits (the slice has no duplicate rows).
        let back = |x: &Array2<f64>| -> Vec<Vec<i64>> {
            x.outer_iter()
                .map(|r| {
                    r.iter()
                        .zip(a.data.mean.as_ref().unwrap())
                        .map(|(v, m)| (v * a.data.scale + m).round() as i64)
                        .collect()
                })
                .collect()
        };
        let mut all: Vec<Vec<i64>> = back(&a.data.train);
        all.extend(back(&a.val));
        all.extend(back(&a.data.eval));
        let file: std::collections::HashSet<Vec<i64>> = matrix
            .outer_iter()
            .map(|r| r.iter().map(|v| *v as i64).collect())
            .collect();
        assert!(all.iter().all(|r| file.contains(r)));
        let distinct: std::collections::HashSet<&Vec<i64>> = all.iter().collect();
        assert_eq!(distinct.len(), file.len().min(300));
    }

    #[test]
    fn real_data_must_be_the_planned_data() {
        let dir = slice_dir();
        let matrix = RealSet::Mnist.load(&dir).unwrap();
        let mut choice = DataChoice::real(RealSet::Mnist, &matrix, None, 0.2, 0.125);
        if let DataChoice::Real { content, .. } = &mut choice {
            *content ^= 1;
        }
        let err = build_data(&choice, 0, &dir).err().unwrap().to_string();
        assert!(
            err.contains("not the ones this run was planned with"),
            "{err}"
        );
    }

    #[test]
    fn synthetic_validation_rows_are_the_tail_of_the_training_draw() {
        let spec = SyntheticSpec::report_default();
        let choice = DataChoice::Synthetic {
            spec: spec.clone(),
            n_fit: 300,
            n_val: 100,
            n_eval: 50,
        };
        let unit = build_data(&choice, 3, Path::new(".")).unwrap();
        let full = Dataset::synthetic(&spec, 400, 50, 3).unwrap();
        assert_eq!(unit.data.train, full.train.slice(s![..300, ..]));
        assert_eq!(unit.val, full.train.slice(s![300.., ..]));
        assert_eq!(unit.data.eval, full.eval);
    }

    #[test]
    fn a_training_unit_extends_its_grid_and_chooses_on_validation() {
        let choice = DataChoice::Synthetic {
            spec: SyntheticSpec::report_default(),
            n_fit: 600,
            n_val: 100,
            n_eval: 200,
        };
        let sizes = Sizes {
            k: 8,
            m: 4,
            batch: 128,
            steps: 20,
        };
        // Huge rates: the lowest multiplier wins (or everything diverges),
        // so the grid must grow downwards, once per allowed extension.
        let unit = FutureSpec::new(
            choice,
            1,
            sizes,
            Job::Train {
                arm: Arm::new(ModelKind::Untied, Estimator::Ste),
                base: (400.0, 1000.0),
                grid: vec![1.0, 4.0],
                extend: 2,
                curve_points: 2,
            },
            PathBuf::new(),
        )
        .run()
        .unwrap();
        let Outcome::Train(t) = unit.outcome else {
            panic!("a training outcome")
        };
        let multipliers: Vec<f64> = t.grid.iter().map(|p| p.multiplier).collect();
        assert_eq!(multipliers, vec![0.0625, 0.25, 1.0, 4.0]);
        let best = t
            .grid
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.val_recon.map(|v| (v, i)))
            .reduce(|a, b| if b.0 < a.0 { b } else { a })
            .map(|(_, i)| i);
        assert_eq!(t.chosen, best);
        assert!(t.eval.is_some());
    }

    #[test]
    fn the_baselines_start_where_the_linear_models_start() {
        let choice = DataChoice::Synthetic {
            spec: SyntheticSpec::report_default(),
            n_fit: 600,
            n_val: 100,
            n_eval: 200,
        };
        let sizes = Sizes {
            k: 8,
            m: 4,
            batch: 128,
            steps: 0,
        };
        let base = FutureSpec::new(
            choice.clone(),
            2,
            sizes,
            Job::Baselines {
                cap: 1000,
                restarts: 3,
            },
            PathBuf::new(),
        )
        .run()
        .unwrap();
        let train = FutureSpec::new(
            choice,
            2,
            sizes,
            Job::Train {
                arm: Arm::new(ModelKind::Tied, Estimator::Ste),
                base: (0.08, 0.2),
                grid: vec![1.0],
                extend: 0,
                curve_points: 1,
            },
            PathBuf::new(),
        )
        .run()
        .unwrap();
        let (Outcome::Baselines(b), Outcome::Train(t)) = (base.outcome, train.outcome) else {
            panic!("wrong outcomes")
        };
        // Zero steps: the trained model is its start, the report's baseline.
        assert_eq!(t.initial, b.report);
        assert_eq!(t.eval, Some(b.report));
        assert!((1..=1000).contains(&b.converged_iterations));
    }
}
