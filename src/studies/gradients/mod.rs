//! The gradient-quality study (results/GRADIENTS.md): every model's
//! estimators against the true gradient ∇J at the start, middle and end of
//! a training run, over seeds, with verdicts on hypotheses from the
//! literature under the shared rules.
//!
//! A unit is one model and one seed on the calibrated generator: the run
//! (STE, the report's exp-1 settings) and `vqlab gradquality`'s measures of
//! every estimator at its points ([`crate::studies::gradquality::run`]), on
//! fresh rows. The hypotheses compare estimators at the same points of the
//! same runs, paired by seed ([`analysis`]).
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::{RealSet, SyntheticSpec};
use crate::error::{invalid, Result};
use crate::model::{Estimator, ModelKind, ModelSpec};
use crate::optim::OptimizerKind;
use crate::studies::future::unit::{build_data, DataChoice, DataDir};
use crate::studies::gradquality::measure::{EstimatorQuality, Group, GroupQuality};
use crate::studies::gradquality::{run, GradQualityReport, MeasureOptions};
use crate::study::claim::Claim;
use crate::study::driver::{check_interrupted, label_of, Planned, Progress, Study, Ticker};
use crate::study::store::{execute, spec_digest, ExecuteStats, StoredUnit, CODE_FINGERPRINT};
use crate::study::Scale;
use crate::train::rates::default_rates;
use crate::train::TrainConfig;

pub mod analysis;
pub mod arms;
pub mod plots;
pub mod render;

/// The models the study covers.
pub const MODELS: [ModelKind; 3] = [ModelKind::Tied, ModelKind::Untied, ModelKind::Mlp];

/// The trajectory units of `model` on the data set named `data`, seed by
/// seed.
pub fn runs<'a>(
    results: &'a [GradientsResult],
    data: &str,
    model: ModelKind,
) -> Vec<&'a GradientsResult> {
    let mut runs: Vec<&GradientsResult> = results
        .iter()
        .filter(|r| {
            r.spec.model == model && r.spec.role == Role::Trajectory && r.spec.data_name() == data
        })
        .collect();
    runs.sort_by_key(|r| r.spec.seed);
    runs
}

/// The group a model's encoder update is measured on (the tied W is both
/// encoder and decoder).
pub fn encoder_group(model: ModelKind) -> Group {
    match model {
        ModelKind::Tied => Group::EncoderDecoder,
        _ => Group::Encoder,
    }
}

/// `e`'s measures on `group`.
pub fn on(e: &EstimatorQuality, group: Group) -> &GroupQuality {
    e.groups
        .iter()
        .find(|g| g.group == group)
        .expect("the model's groups")
}

/// The temperatures of G4, highest first (the runs' own τ is 1).
pub const TAUS: [f64; 5] = [2.0, 1.0, 0.5, 0.25, 0.1];

/// The study's sizes at full or quick scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientsScale {
    /// Training rows of each trajectory.
    pub n_train: usize,
    /// Fresh rows ∇J and the measuring batches come from.
    pub n_eval: usize,
    /// Steps of each run (points at 0, half and all of them).
    pub steps: usize,
    /// Mini-batches per estimator per point.
    pub batches: usize,
    /// The same on digits and MNIST (their ∇J, on a few thousand rows, is
    /// far noisier than the batches' mean).
    pub real_batches: usize,
    /// Seeds on digits and MNIST, at most.
    pub real_seeds: u64,
}

impl Scale for GradientsScale {
    /// exp-1: 10,000 training rows, 200 steps; ∇J on 200,000 fresh rows,
    /// 1,000 batches per estimator.
    fn full() -> Self {
        GradientsScale {
            n_train: 10_000,
            n_eval: 200_000,
            steps: 200,
            batches: 1000,
            real_batches: 200,
            real_seeds: 3,
        }
    }

    /// A smoke version for tests: its verdicts are not conclusions.
    fn quick() -> Self {
        GradientsScale {
            n_train: 2_000,
            n_eval: 20_000,
            steps: 20,
            batches: 50,
            real_batches: 20,
            real_seeds: 2,
        }
    }
}

/// What a unit is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// An STE run measured at its start, middle and end (G1–G4).
    Trajectory,
    /// The start of FUTURE.md's runs on the calibrated generator (same
    /// data, sizes and initialisation rule, seed by seed), measured there
    /// only (G5).
    ArmStart,
}

/// One unit: a model and a seed on one data set, in one role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientsSpec {
    /// The code that computes it.
    pub code: String,
    /// What it is for.
    pub role: Role,
    /// The model.
    pub model: ModelKind,
    /// The seed of the data, the run and the measurement.
    pub seed: u64,
    /// The data: the generator (∇J on its fresh evaluation rows) or a real
    /// set (∇J on its training rows), split as `vqlab future` splits it.
    pub data: DataChoice,
    /// Code dimension.
    pub m: usize,
    /// Codes.
    pub k: usize,
    /// Batch size of the run and of the measuring batches.
    pub batch: usize,
    /// Steps of the run.
    pub steps: usize,
    /// The points measured (steps of the run).
    pub at: Vec<usize>,
    /// Mini-batches per estimator per point.
    pub batches: usize,
    /// The code-space step h of ∇J's central differences.
    pub h: f64,
    /// The temperatures Gumbel-Softmax (soft) is also measured at (G4).
    pub taus: Vec<f64>,
    /// Where real data are read (not stored).
    #[serde(skip)]
    pub dir: DataDir,
}

/// A computed unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GradientsResult {
    /// What was computed.
    pub spec: GradientsSpec,
    /// The measures at every point.
    pub report: GradQualityReport,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl GradientsSpec {
    /// The data set's name: generator, digits or mnist.
    pub fn data_name(&self) -> &'static str {
        data_name(&self.data)
    }

    /// Runs the unit.
    fn compute(&self) -> Result<GradientsResult> {
        let started = Instant::now();
        let data = build_data(&self.data, self.seed, &self.dir.0)?.data;
        let model = ModelSpec::of(self.model);
        let real = matches!(self.data, DataChoice::Real { .. });
        let ((lr_w, lr_e), _) = default_rates(OptimizerKind::Sgd, data.train.view(), real)?;
        let config = TrainConfig {
            model,
            steps: self.steps,
            seed: self.seed,
            m: self.m,
            k: self.k,
            batch: self.batch,
            lr_w,
            lr_e,
            init: crate::train::Init::default_for(&model),
            ..TrainConfig::report_default()
        }
        .check(data.train.nrows(), data.dim())?;
        let options = MeasureOptions {
            config,
            run_estimator: Estimator::Ste,
            estimators: Estimator::ALL.to_vec(),
            at: self.at.clone(),
            batches: self.batches,
            step: self.h,
            taus: self.taus.clone(),
        };
        // The generator's fresh rows; a real set's training rows.
        let rows = if real {
            data.train.view()
        } else {
            data.eval.view()
        };
        let report = run(&data, rows, &options, |_| {})?;
        Ok(GradientsResult {
            spec: self.clone(),
            report,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// `data`'s name: generator, digits or mnist.
pub fn data_name(data: &DataChoice) -> &'static str {
    match data {
        DataChoice::Real { set, .. } => set.name(),
        _ => "generator",
    }
}

/// The data sets of the trajectories, in order.
pub const DATA: [&str; 3] = ["generator", "digits", "mnist"];

impl StoredUnit for GradientsSpec {
    type Output = GradientsResult;

    fn key(&self) -> String {
        format!(
            "gradients_{}_{}_{}_seed{}_{:016x}",
            self.role.name(),
            self.data_name(),
            self.model.name(),
            self.seed,
            spec_digest(self)
        )
    }

    fn spec_of(output: &GradientsResult) -> &Self {
        &output.spec
    }

    fn run(&self) -> Result<GradientsResult> {
        self.compute()
    }
}

impl Planned for GradientsSpec {
    fn store_key(&self) -> String {
        StoredUnit::key(self)
    }
    fn cost(&self) -> f64 {
        // ∇J and the batches dominate: rows × D × m per point and estimator.
        let measured = Estimator::ALL.len() + self.taus.len();
        let (rows, dim) = match &self.data {
            DataChoice::Synthetic { n_eval, .. } => (*n_eval, 64),
            DataChoice::Real { rows, .. } => (*rows, 784),
            DataChoice::File { rows, .. } => (*rows, 64),
        };
        let per_point = (rows * self.k / 16 + self.batches * self.batch * measured * 2) as f64;
        let width = match self.model {
            ModelKind::Mlp | ModelKind::Conv => 16.0,
            ModelKind::Untied => 2.0,
            ModelKind::Tied => 1.0,
        };
        self.at.len() as f64 * per_point * dim as f64 * self.m as f64 * width / 1e6
    }
    fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("specs serialize")
    }
    fn label(&self) -> String {
        format!(
            "{} {} seed {}",
            self.role.name(),
            self.model.name(),
            self.seed
        )
    }
}

/// How the study runs.
#[derive(Debug, Clone)]
pub struct GradientsOptions {
    /// The smoke version.
    pub quick: bool,
    /// Seeds 0 … seeds − 1 (at least 2).
    pub seeds: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Recompute stored units.
    pub fresh: bool,
    /// The run store.
    pub store: PathBuf,
    /// FUTURE.md's numbers (`future.json`), for G5.
    pub future: PathBuf,
    /// Where digits and MNIST are read.
    pub data_dir: PathBuf,
}

impl GradientsOptions {
    /// Checks the options; one error per bad field.
    pub fn validate(&self) -> Result<()> {
        if self.seeds < 2 {
            return Err(invalid("seeds", self.seeds, "at least 2 (an interval)"));
        }
        if self.jobs == 0 {
            return Err(invalid("jobs", self.jobs, "at least 1"));
        }
        Ok(())
    }

    /// Every unit: the trajectories (the generator, then digits and MNIST
    /// read from `data_dir`) model by model, then the arm starts.
    pub fn units(&self) -> Result<Vec<GradientsSpec>> {
        let scale = GradientsScale::of(self.quick);
        // Digits and MNIST only (the photos are not needed here).
        let real_set = |set| crate::studies::future::real_choice(&self.data_dir, set);
        let (digits, mnist) = (
            real_set(crate::data::RealSet::Digits)?,
            real_set(crate::data::RealSet::Mnist)?,
        );
        let full = !self.quick;
        let generator = |n_fit: usize, n_val: usize| DataChoice::Synthetic {
            spec: SyntheticSpec::report_default(),
            n_fit,
            n_val,
            n_eval: scale.n_eval,
        };
        let unit = |role: Role, data: DataChoice, model: ModelKind, seed: u64| {
            let trajectory = role == Role::Trajectory;
            // (m, K, batch, steps, batches): the generator's trajectories
            // at exp-1; the real sets and the arm starts at FUTURE.md's
            // sizes (F1; F3/F5/F6's generator conditions).
            let (m, k, batch, steps, batches) = match (&data, role) {
                (DataChoice::Real { set, .. }, _) => {
                    let (m, k) = match set {
                        RealSet::Digits => (8, if full { 32 } else { 16 }),
                        // The study plans mnist and digits only.
                        RealSet::Mnist | RealSet::Photos => (16, if full { 64 } else { 16 }),
                    };
                    let batch = if full { 256 } else { 64 };
                    (m, k, batch, if full { 500 } else { 60 }, scale.real_batches)
                }
                (_, Role::Trajectory) => (4, 16, 512, scale.steps, scale.batches),
                (_, Role::ArmStart) => {
                    let (k, batch, steps) = if full { (32, 1024, 500) } else { (16, 256, 60) };
                    (4, k, batch, steps, scale.batches)
                }
            };
            let generator_trajectory = trajectory && matches!(data, DataChoice::Synthetic { .. });
            GradientsSpec {
                code: CODE_FINGERPRINT.to_string(),
                role,
                model,
                seed,
                data,
                m,
                k,
                batch,
                steps,
                at: if trajectory {
                    vec![0, steps / 2, steps]
                } else {
                    vec![0]
                },
                batches,
                h: 0.01,
                taus: if generator_trajectory {
                    TAUS.to_vec()
                } else {
                    Vec::new()
                },
                dir: DataDir(self.data_dir.clone()),
            }
        };
        let real_seeds = self.seeds.min(scale.real_seeds);
        let mut units = Vec::new();
        for model in MODELS {
            for seed in 0..self.seeds {
                units.push(unit(
                    Role::Trajectory,
                    generator(scale.n_train, 0),
                    model,
                    seed,
                ));
            }
        }
        for data in [&digits, &mnist] {
            for model in MODELS {
                for seed in 0..real_seeds {
                    units.push(unit(Role::Trajectory, data.clone(), model, seed));
                }
            }
        }
        // FUTURE.md's generator conditions: [fit, validation, eval] rows
        // [8000, 2000, 2000] (quick [1600, 400, 400]).
        let (fit, val) = if full { (8_000, 2_000) } else { (1_600, 400) };
        for model in MODELS {
            for seed in 0..self.seeds {
                units.push(unit(Role::ArmStart, generator(fit, val), model, seed));
            }
        }
        Ok(units)
    }
}

impl Role {
    /// Its name in labels and keys.
    pub fn name(self) -> &'static str {
        match self {
            Role::Trajectory => "trajectory",
            Role::ArmStart => "arm-start",
        }
    }
}

/// The study's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct GradientsSummary {
    /// Smoke version or full.
    pub quick: bool,
    /// Every unit's result, model by model, seed by seed.
    pub results: Vec<GradientsResult>,
    /// The hypotheses, judged.
    pub claims: Vec<Claim>,
    /// FUTURE.md's arms beside their starts' measures (G5; empty without
    /// future.json).
    pub arms: Vec<analysis::ArmRow>,
    /// Where FUTURE.md's numbers were read ("none" when absent).
    pub future: String,
    /// Units in all, computed now, reused.
    pub units: usize,
    /// Computed now.
    pub computed: usize,
    /// Reused from the store.
    pub reused: usize,
    /// Wall time, seconds.
    pub wall_seconds: f64,
    /// The units' own times, summed (what one thread would take).
    pub unit_seconds: f64,
}

impl Study for GradientsOptions {
    type Unit = GradientsSpec;
    type Summary = GradientsSummary;
    const NAME: &'static str = "gradients";

    fn store(&self) -> &std::path::Path {
        &self.store
    }

    fn planned_units(&self) -> Result<Vec<GradientsSpec>> {
        self.units()
    }

    fn compute(
        &self,
        units: &[GradientsSpec],
        stop: &AtomicBool,
        tick: &(dyn Fn(&GradientsSpec, bool) + Sync),
    ) -> Result<ExecuteStats> {
        let (_, stats) = execute(units, &self.store, self.jobs, self.fresh, stop, tick)?;
        Ok(stats)
    }

    fn run(&self, stop: &AtomicBool, progress: Progress) -> Result<GradientsSummary> {
        let started = Instant::now();
        crate::study::shard::check_store(&self.store)?;
        let units = self.units()?;
        let ticker = Ticker::new(units.len(), progress);
        let (results, stats) = execute(
            &units,
            &self.store,
            self.jobs,
            self.fresh,
            stop,
            |spec: &GradientsSpec, cached| ticker.tick(&label_of(spec, cached)),
        )?;
        check_interrupted(stop, stats.computed, &self.store)?;
        let arm_k = units
            .iter()
            .find(|u| u.role == Role::ArmStart)
            .map_or(0, |u| u.k);
        let gains = arms::ArmGains::read(&self.future, arm_k)?;
        let claims = analysis::claims(&results, gains.as_ref(), &self.future.display().to_string());
        let arms = gains
            .as_ref()
            .map(|g| analysis::arm_rows(&results, g))
            .unwrap_or_default();
        Ok(GradientsSummary {
            quick: self.quick,
            arms,
            future: gains.map_or_else(|| "none".to_string(), |g| g.source),
            unit_seconds: results.iter().map(|r| r.seconds).sum(),
            results,
            claims,
            units: units.len(),
            computed: stats.computed,
            reused: stats.reused,
            wall_seconds: started.elapsed().as_secs_f64(),
        })
    }
}
