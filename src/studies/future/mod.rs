//! `vqlab future`: the report's "Limitations and Future Work" run as studies
//! F1–F6 (real and image data, MLPs, optimizers, scale, other estimators,
//! noise), each with seeds, intervals and a verdict per hypothesis.
//!
//! * [`studies`]: what each study trains on and compares (data, not code);
//! * [`mod@unit`]: the units of work (baselines, one arm with its learning rate
//!   chosen on a validation split, a lockstep parity check), stored in the
//!   run store like `reproduce`'s, shardable, fingerprinted;
//! * [`analysis`]: the tables and the verdict rules;
//! * [`render`]: FUTURE.md, the CSV curves and the SVG plots.
pub mod analysis;
pub mod file;
pub mod render;
pub mod studies;
pub mod unit;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use crate::data::RealSet;
use crate::error::{invalid, Result};
use crate::infra::io::create_dir;
use crate::model::{Estimator, ModelKind};
use crate::study::driver::{check_interrupted, label_of, Planned, Progress, Study, Ticker};
use crate::study::store::{execute, ExecuteStats, StoredUnit, CODE_FINGERPRINT};
use crate::study::Scale;
use analysis::{HypothesisResult, Lookup, ParityLine, StoreLookup, StudyReport};
use studies::{base_rates, Condition, FutureScale, Plan, RealChoices, StudyId};
use unit::{Arm, DataChoice, FutureResult, FutureSpec, Job, Outcome, Sizes};

/// The iteration cap of the converged baseline (it stops earlier once no
/// assignment changes).
pub const CONVERGED_CAP: usize = 1000;

/// The evaluation share of a real data set's rows, and the validation
/// share of the rest.
pub const REAL_SPLIT: (f64, f64) = (0.2, 0.125);

/// What `vqlab future` runs.
#[derive(Debug, Clone, Serialize)]
pub struct FutureOptions {
    /// The studies (all when empty).
    pub studies: Vec<StudyId>,
    /// Seeds 0 … seeds − 1.
    pub seeds: u64,
    /// The smoke version ([`FutureScale::quick`]).
    pub quick: bool,
    /// Where FUTURE.md and the rest go.
    pub out_dir: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Recompute stored units.
    pub fresh: bool,
    /// Where the real data sets are.
    pub data_dir: PathBuf,
    /// The run store.
    #[serde(skip)]
    pub store: PathBuf,
    /// A study read from a file instead of F1–F6 (`vqlab study`).
    #[serde(skip)]
    pub user: Option<std::sync::Arc<file::UserStudy>>,
}

impl FutureOptions {
    /// Checks the options once.
    pub fn validate(&self) -> Result<()> {
        if self.seeds < 2 {
            return Err(invalid(
                "seeds",
                self.seeds,
                "at least 2 (an interval needs two seeds)",
            ));
        }
        if self.jobs == 0 {
            return Err(invalid("jobs", self.jobs, "at least 1"));
        }
        Ok(())
    }

    /// The studies to run, in order.
    pub fn chosen(&self) -> Vec<StudyId> {
        if let Some(user) = &self.user {
            // A study file's own id (a built-in's file keeps its id).
            user.plan
                .conditions
                .iter()
                .map(|c| c.study)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        } else if self.studies.is_empty() {
            StudyId::ALL.to_vec()
        } else {
            self.studies
                .iter()
                .copied()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        }
    }

    /// The sizes.
    pub fn scale(&self) -> FutureScale {
        FutureScale::of(self.quick)
    }

    fn seed_list(&self) -> Vec<u64> {
        (0..self.seeds).collect()
    }
}

/// One real data set as the studies use it (read from `data_dir` to
/// identify its content).
pub fn real_choice(data_dir: &std::path::Path, set: RealSet) -> Result<DataChoice> {
    let matrix = set.load(data_dir)?;
    let held = set.held_out(data_dir)?;
    Ok(DataChoice::real(
        set,
        &matrix,
        held,
        REAL_SPLIT.0,
        REAL_SPLIT.1,
    ))
}

/// The real data sets as the studies use them.
pub fn real_choices(data_dir: &std::path::Path) -> Result<RealChoices> {
    Ok(RealChoices {
        mnist: real_choice(data_dir, RealSet::Mnist)?,
        digits: real_choice(data_dir, RealSet::Digits)?,
        photos: real_choice(data_dir, RealSet::Photos)?,
    })
}

/// Turns a plan into units: the spec of (condition, arm or the baselines,
/// seed), and the parity units of a condition.
pub struct Planner {
    /// The conditions and hypotheses.
    pub plan: Plan,
    scale: FutureScale,
    seeds: Vec<u64>,
    data_dir: PathBuf,
}

impl Planner {
    /// The plan of `options` (reads the real data sets to identify them).
    pub fn new(options: &FutureOptions) -> Result<Self> {
        options.validate()?;
        let scale = options.scale();
        let plan = match &options.user {
            Some(user) => user.plan.clone(),
            None => file::built_in_plan(&options.chosen(), &options.data_dir, options.quick)?,
        };
        Ok(Planner {
            plan,
            scale,
            seeds: options.seed_list(),
            data_dir: options.data_dir.clone(),
        })
    }

    /// The unit of `arm` (or of the baselines, for `None`) in `condition`
    /// at `seed`.
    pub fn spec(&self, condition: &Condition, arm: Option<&Arm>, seed: u64) -> FutureSpec {
        match arm {
            None => FutureSpec::new(
                condition.data.clone(),
                seed,
                // The baselines depend on K and m only.
                Sizes {
                    batch: 0,
                    steps: 0,
                    ..condition.sizes
                },
                Job::Baselines {
                    cap: CONVERGED_CAP,
                    restarts: self.scale.grid.len() + self.scale.grid_extensions,
                },
                self.data_dir.clone(),
            ),
            Some(arm) => {
                let fixed = condition.fixed_rates.iter().find(|(a, _)| a == arm);
                let (base, grid, extend) = match fixed {
                    Some((_, rates)) => (*rates, vec![1.0], 0),
                    None => (
                        base_rates(arm, &condition.data),
                        self.scale.grid.clone(),
                        self.scale.grid_extensions,
                    ),
                };
                FutureSpec::new(
                    condition.data.clone(),
                    seed,
                    condition.sizes,
                    Job::Train {
                        arm: *arm,
                        base,
                        grid,
                        extend,
                        curve_points: self.scale.curve_points,
                    },
                    self.data_dir.clone(),
                )
            }
        }
    }

    /// The parity units of `condition`: one per model, every estimator its
    /// arms use, seed 0.
    pub fn parity_specs(&self, condition: &Condition) -> Vec<FutureSpec> {
        let mut out = Vec::new();
        for kind in ModelKind::ALL {
            let arms: Vec<&Arm> = condition
                .arms
                .iter()
                .filter(|a| a.model.kind == kind)
                .collect();
            let Some(first) = arms.first() else { continue };
            let estimators: Vec<Estimator> = Estimator::ALL
                .into_iter()
                .filter(|e| *e == Estimator::Ste || arms.iter().any(|a| a.estimator == *e))
                .collect();
            let sgd = Arm::new(kind, Estimator::Ste);
            out.push(FutureSpec::new(
                condition.data.clone(),
                0,
                Sizes {
                    steps: self.scale.parity_steps,
                    ..condition.sizes
                },
                Job::Parity {
                    model: first.model,
                    estimators,
                    optimizer: crate::optim::OptimizerKind::Sgd,
                    steps: self.scale.parity_steps,
                    base: base_rates(&sgd, &condition.data),
                },
                self.data_dir.clone(),
            ));
        }
        out
    }

    /// Every unit of the plan, each once (units shared by studies appear
    /// once), in plan order.
    pub fn units(&self) -> Vec<FutureSpec> {
        self.layout().0
    }

    /// The units of the plan (each once, in plan order) and where every
    /// slot of the plan finds its unit: one planning pass gives both, so
    /// the analysis reads the plan's own answer.
    pub fn layout(&self) -> (Vec<FutureSpec>, PlanIndex) {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut index = PlanIndex::default();
        for c in &self.plan.conditions {
            let condition = (c.study, c.name.clone());
            let parity = self.parity_specs(c);
            index
                .parity
                .insert(condition.clone(), parity.iter().map(|s| s.key()).collect());
            let mut specs = parity;
            for &seed in &self.seeds {
                let baselines = self.spec(c, None, seed);
                index
                    .slots
                    .insert((condition.clone(), None, seed), baselines.key());
                specs.push(baselines);
                for (i, arm) in c.arms.iter().enumerate() {
                    let spec = self.spec(c, Some(arm), seed);
                    index
                        .slots
                        .insert((condition.clone(), Some(i), seed), spec.key());
                    specs.push(spec);
                }
            }
            for s in specs {
                if seen.insert(s.key()) {
                    out.push(s);
                }
            }
        }
        (out, index)
    }
}

/// A condition of the plan: its study and name.
type ConditionId = (StudyId, String);

/// Where each slot of the plan finds its unit (by store key): the baselines
/// (arm `None`) and every arm (by its position in the condition) per seed,
/// and the parity units of each condition.
#[derive(Debug, Clone, Default)]
pub struct PlanIndex {
    slots: HashMap<(ConditionId, Option<usize>, u64), String>,
    parity: HashMap<ConditionId, Vec<String>>,
}

impl PlanIndex {
    /// The key of `arm`'s unit (or the baselines', for `None`) in
    /// `condition` at `seed`.
    pub fn key(&self, condition: &Condition, arm: Option<&Arm>, seed: u64) -> Option<&str> {
        let position = match arm {
            Some(arm) => Some(condition.arms.iter().position(|a| a == arm)?),
            None => None,
        };
        self.slots
            .get(&((condition.study, condition.name.clone()), position, seed))
            .map(String::as_str)
    }

    /// The keys of `condition`'s parity units.
    pub fn parity_keys(&self, condition: &Condition) -> &[String] {
        self.parity
            .get(&(condition.study, condition.name.clone()))
            .map_or(&[], Vec::as_slice)
    }
}

/// What `vqlab future` found: every study's tables and every hypothesis's
/// verdict (written as future.json).
#[derive(Debug, Clone, Serialize)]
pub struct FutureSummary {
    /// The code fingerprint.
    pub code: &'static str,
    /// The options.
    pub options: FutureOptions,
    /// The sizes.
    pub scale: FutureScale,
    /// The seeds, in the order of every per-seed list (`recon_per_seed`,
    /// a part's `values`).
    pub seeds: Vec<u64>,
    /// The real data sets used (name, rows, dimension, split).
    pub data: Vec<DataChoice>,
    /// One per study.
    pub studies: Vec<StudyReport>,
    /// One per hypothesis.
    pub hypotheses: Vec<HypothesisResult>,
    /// Units in the plan.
    pub units: usize,
    /// Units computed by this run.
    pub computed: usize,
    /// Units taken from the store.
    pub reused: usize,
    /// Wall time of this run, seconds.
    pub wall_seconds: f64,
    /// Sum of the units' own compute times (as stored), seconds.
    pub unit_seconds: f64,
}

/// Runs the studies (reusing stored units) and analyses them; writes
/// nothing but the store (see [`render::write_all`]).
pub fn future(
    options: &FutureOptions,
    stop: &AtomicBool,
    progress: Progress,
) -> Result<FutureSummary> {
    let started = Instant::now();
    crate::study::shard::check_store(&options.store)?;
    let planner = Planner::new(options)?;
    let (units, index) = planner.layout();
    let total = units.len();
    let ticker = Ticker::new(total, progress);
    let (results, stats) = execute(
        &units,
        &options.store,
        options.jobs,
        options.fresh,
        stop,
        |spec: &FutureSpec, cached| ticker.tick(&label_of(spec, cached)),
    )?;
    check_interrupted(stop, stats.computed, &options.store)?;
    let mut summary = analyse(options, &planner, &index, &results);
    summary.units = total;
    summary.computed = stats.computed;
    summary.reused = stats.reused;
    summary.wall_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The tables and verdicts of `results` under `planner`'s plan, whose
/// slots `index` maps to units.
pub fn analyse(
    options: &FutureOptions,
    planner: &Planner,
    index: &PlanIndex,
    results: &[FutureResult],
) -> FutureSummary {
    let lookup = StoreLookup {
        by_key: results.iter().map(|r| (r.spec.key(), r)).collect(),
        index,
        seeds: options.seed_list(),
    };
    let plan = &planner.plan;
    let studies = options
        .chosen()
        .into_iter()
        .map(|study| {
            let conditions: Vec<&Condition> = plan
                .conditions
                .iter()
                .filter(|c| c.study == study)
                .collect();
            let mut parity = Vec::new();
            for c in &conditions {
                for r in lookup.parity(c) {
                    if let (Outcome::Parity { rows }, Job::Parity { model, steps, .. }) =
                        (&r.outcome, &r.spec.job)
                    {
                        for row in rows {
                            parity.push(ParityLine {
                                condition: c.name.clone(),
                                method: format!("{}/{}", model.kind.name(), row.estimator.name()),
                                max_rel_err_grad: row.max_rel_err_grad,
                                max_abs_err_loss: row.max_abs_err_loss,
                                steps: *steps,
                            });
                        }
                    }
                }
            }
            let (title, question) = match &options.user {
                Some(user) => (user.title.clone(), user.question.clone()),
                None => (study.title().to_string(), study.question().to_string()),
            };
            StudyReport {
                study,
                title,
                question,
                conditions: conditions
                    .iter()
                    .map(|c| analysis::condition_report(c, &lookup))
                    .collect(),
                parity,
            }
        })
        .collect();
    let hypotheses = plan
        .hypotheses
        .iter()
        .map(|h| analysis::judge(h, &plan.conditions, &lookup))
        .collect();
    let mut data: Vec<DataChoice> = Vec::new();
    for c in &plan.conditions {
        if !matches!(c.data, DataChoice::Synthetic { .. }) && !data.contains(&c.data) {
            data.push(c.data.clone());
        }
    }
    FutureSummary {
        code: CODE_FINGERPRINT,
        options: options.clone(),
        scale: planner.scale.clone(),
        seeds: options.seed_list(),
        data,
        studies,
        hypotheses,
        units: 0,
        computed: 0,
        reused: 0,
        wall_seconds: 0.0,
        unit_seconds: results.iter().map(|r| r.seconds).sum(),
    }
}

impl Planned for FutureSpec {
    fn store_key(&self) -> String {
        StoredUnit::key(self)
    }
    fn cost(&self) -> f64 {
        self.estimated_cost()
    }
    fn spec_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("specs serialize")
    }
    fn label(&self) -> String {
        FutureSpec::label(self)
    }
}

impl Study for FutureOptions {
    type Unit = FutureSpec;
    type Summary = FutureSummary;
    const NAME: &'static str = "future";

    fn store(&self) -> &std::path::Path {
        &self.store
    }

    fn planned_units(&self) -> Result<Vec<FutureSpec>> {
        Ok(Planner::new(self)?.units())
    }

    fn compute(
        &self,
        units: &[FutureSpec],
        stop: &AtomicBool,
        tick: &(dyn Fn(&FutureSpec, bool) + Sync),
    ) -> Result<ExecuteStats> {
        let (_, stats) = execute(units, &self.store, self.jobs, self.fresh, stop, tick)?;
        Ok(stats)
    }

    fn run(&self, stop: &AtomicBool, progress: Progress) -> Result<FutureSummary> {
        future(self, stop, progress)
    }
}

/// Writes FUTURE.md, future.json, future_curves.csv and the plots.
pub fn write_outputs(summary: &FutureSummary, results_dir: &std::path::Path) -> Result<()> {
    create_dir(results_dir)?;
    render::write_all(summary, results_dir)
}
