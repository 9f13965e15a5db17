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

use crate::data::{Dataset, SyntheticSpec};
use crate::error::{invalid, Result};
use crate::model::{Estimator, ModelKind, ModelSpec};
use crate::studies::gradquality::{run, GradQualityReport, MeasureOptions};
use crate::study::claim::Claim;
use crate::study::driver::{check_interrupted, label_of, Planned, Progress, Study, Ticker};
use crate::study::store::{execute, spec_digest, ExecuteStats, StoredUnit, CODE_FINGERPRINT};
use crate::study::Scale;
use crate::train::TrainConfig;

pub mod analysis;
pub mod render;

/// The models the study covers.
pub const MODELS: [ModelKind; 3] = [ModelKind::Tied, ModelKind::Untied, ModelKind::Mlp];

/// The study's sizes at full or quick scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientsScale {
    /// Training rows of each run.
    pub n_train: usize,
    /// Fresh rows ∇J and the measuring batches come from.
    pub n_eval: usize,
    /// Steps of each run (points at 0, half and all of them).
    pub steps: usize,
    /// Mini-batches per estimator per point.
    pub batches: usize,
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
        }
    }

    /// A smoke version for tests: its verdicts are not conclusions.
    fn quick() -> Self {
        GradientsScale {
            n_train: 2_000,
            n_eval: 20_000,
            steps: 20,
            batches: 50,
        }
    }
}

/// One unit: a model and a seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientsSpec {
    /// The code that computes it.
    pub code: String,
    /// The model.
    pub model: ModelKind,
    /// The seed of the data, the run and the measurement.
    pub seed: u64,
    /// Training rows.
    pub n_train: usize,
    /// Fresh rows.
    pub n_eval: usize,
    /// Steps of the run.
    pub steps: usize,
    /// Mini-batches per estimator per point.
    pub batches: usize,
    /// The code-space step h of ∇J's central differences.
    pub h: f64,
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
    /// Runs the unit.
    fn compute(&self) -> Result<GradientsResult> {
        let started = Instant::now();
        let data = Dataset::synthetic(
            &SyntheticSpec::report_default(),
            self.n_train,
            self.n_eval,
            self.seed,
        )?;
        let model = ModelSpec::of(self.model);
        let config = TrainConfig {
            model,
            steps: self.steps,
            seed: self.seed,
            init: crate::train::Init::default_for(&model),
            ..TrainConfig::report_default()
        }
        .check(data.train.nrows(), data.dim())?;
        let options = MeasureOptions {
            config,
            run_estimator: Estimator::Ste,
            estimators: Estimator::ALL.to_vec(),
            at: vec![0, self.steps / 2, self.steps],
            batches: self.batches,
            step: self.h,
        };
        let report = run(&data, data.eval.view(), &options, |_| {})?;
        Ok(GradientsResult {
            spec: self.clone(),
            report,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

impl StoredUnit for GradientsSpec {
    type Output = GradientsResult;

    fn key(&self) -> String {
        format!(
            "gradients_{}_seed{}_{:016x}",
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
        let per_point = (self.n_eval + self.batches * 512 * Estimator::ALL.len() * 2) as f64;
        let width = match self.model {
            ModelKind::Mlp => 16.0,
            ModelKind::Untied => 2.0,
            ModelKind::Tied => 1.0,
        };
        3.0 * per_point * 64.0 * 4.0 * width / 1e6
    }
    fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("specs serialize")
    }
    fn label(&self) -> String {
        format!("{} seed {}", self.model.name(), self.seed)
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

    /// Every unit, model by model.
    pub fn units(&self) -> Vec<GradientsSpec> {
        let scale = GradientsScale::of(self.quick);
        MODELS
            .iter()
            .flat_map(|&model| {
                (0..self.seeds).map(move |seed| GradientsSpec {
                    code: CODE_FINGERPRINT.to_string(),
                    model,
                    seed,
                    n_train: scale.n_train,
                    n_eval: scale.n_eval,
                    steps: scale.steps,
                    batches: scale.batches,
                    h: 0.01,
                })
            })
            .collect()
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
        Ok(self.units())
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
        let units = self.units();
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
        let claims = analysis::claims(&results);
        Ok(GradientsSummary {
            quick: self.quick,
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
