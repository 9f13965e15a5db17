//! `vqlab reproduce`: experiments 1–4 of the report over many seeds, every
//! reported number beside its reproduction, a verdict per claim, plots.
//!
//! Two choices the report leaves open are decided by measurement:
//! initialisation (`pca` / `random`) and the batch size of experiments 2–4
//! (512 / 1024). Experiment 2 is run under all four combinations; the one
//! whose gradient-method cells lie closest to the report (mean |relative
//! difference| of recon_mse and insub_distortion) is used for the tables,
//! and the others are shown beside it. Experiments 1, 3 and 4 are run with
//! both initialisations at the chosen batch size.
pub mod analysis;
pub mod c2;
pub mod plots;
pub mod render;
pub mod runs;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use crate::data::SyntheticSpec;
use crate::error::{invalid, Result};
use crate::infra::io::{create_dir, write_atomic};
use crate::model::MethodKind;
use crate::study::driver::{check_interrupted, label_of, Planned, Progress, Study, Ticker};
use crate::study::stats::Estimate;
use crate::study::store::{execute, ExecuteStats};
use crate::study::Scale;
use crate::train::Init;
use analysis::{cells, claims, metrics_of, Cell, Claim, Results, Source};
use runs::{plan, Experiment, ReproduceScale, UnitResult, Variant};

/// Options of a reproduction.
#[derive(Debug, Clone, Serialize)]
pub struct ReproduceOptions {
    /// Seeds 0 … seeds−1.
    pub seeds: u64,
    /// The reduced schedule (few steps) for smoke tests.
    pub quick: bool,
    /// Only these experiments (empty: all).
    pub only: Vec<Experiment>,
    /// Where results go.
    pub out_dir: PathBuf,
    /// Worker threads (each unit runs single-threaded).
    pub jobs: usize,
    /// Recompute every unit even if stored.
    pub fresh: bool,
    /// Fix the initialisation instead of deciding it.
    pub init: Option<Init>,
    /// Fix the batch size of experiments 2–4 instead of deciding it.
    pub batch: Option<usize>,
    /// The data generator.
    pub data: SyntheticSpec,
    /// Where the data generator came from (for the report).
    pub data_source: String,
    /// The run store (default `<out_dir>/.runs`; `--store`, `$VQLAB_STORE`).
    #[serde(skip)]
    pub store: PathBuf,
}

impl ReproduceOptions {
    /// Checks the options; one error per bad field.
    pub fn validate(&self) -> Result<()> {
        if self.seeds == 0 {
            return Err(invalid("seeds", self.seeds, "at least 1"));
        }
        if self.seeds > 10_000 {
            return Err(invalid("seeds", self.seeds, "at most 10000"));
        }
        if self.jobs == 0 {
            return Err(invalid("jobs", self.jobs, "at least 1"));
        }
        if let Some(b) = self.batch {
            if b == 0 || b > 20_000 {
                return Err(invalid(
                    "batch",
                    b,
                    "between 1 and the 20000 training points",
                ));
            }
        }
        self.data.validate()
    }

    fn runs(&self, exp: Experiment) -> bool {
        self.only.is_empty() || self.only.contains(&exp)
    }
}

/// The decision on the open choices.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The variant used for experiment 2's tables.
    pub exp2: Variant,
    /// The initialisation used for experiments 1, 3, 4.
    pub init: Init,
    /// The batch size of experiments 3 and 4.
    pub batch: usize,
    /// How it was decided.
    pub how: String,
    /// Every experiment-2 variant with its mean |relative difference| from
    /// the report's gradient-method cells.
    pub scores: Vec<(String, f64)>,
}

/// What a reproduction produced.
#[derive(Debug, Clone, Serialize)]
pub struct ReproduceSummary {
    /// The options.
    pub options: ReproduceOptions,
    /// The decision on the open choices.
    pub decision: Decision,
    /// Every reported number beside ours.
    pub cells: Vec<Cell>,
    /// The claims with verdicts.
    pub claims: Vec<Claim>,
    /// The report's claims that its own tables contradict.
    pub against_itself: Vec<analysis::SelfContradiction>,
    /// Wall time of this invocation, seconds.
    pub wall_seconds: f64,
    /// Compute time of all units (stored ones included), seconds.
    pub compute_seconds: f64,
    /// Units taken from the store.
    pub reused: usize,
    /// Units computed in this invocation.
    pub computed: usize,
    /// Failed (diverged) runs.
    pub failed_runs: Vec<String>,
    /// The C2 study, when run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub c2: Option<c2::C2Study>,
}

/// How well the reference preset fits the baseline cells (its
/// `max_abs_rel_residual`), when the data are the compiled-in preset.
fn reference_residual(options: &ReproduceOptions) -> Option<f64> {
    (options.data == SyntheticSpec::report_default())
        .then(|| {
            serde_json::from_str::<serde_json::Value>(crate::data::REPORT_PRESET).ok()?
                ["max_abs_rel_residual"]
                .as_f64()
        })
        .flatten()
}

fn exp2_score(results: &Results, variant: Variant) -> f64 {
    let report = analysis::report_numbers();
    let units = results.select(Experiment::Exp2, variant, None, None);
    let mut diffs = Vec::new();
    for (key, kind) in [
        ("autograd_ste", MethodKind::AutogradSte),
        ("manual_ste", MethodKind::ManualSte),
        ("rotation", MethodKind::Rotation),
    ] {
        for name in ["recon_mse", "insub_distortion"] {
            let target = report["exp2_convergence"]["results"][key][name]
                .as_f64()
                .expect("report has the cell");
            let vals: Vec<f64> = units
                .iter()
                .filter_map(|u| metrics_of(u, Source::Method(kind)))
                .map(|m| analysis::metric(&m, name))
                .collect();
            if let Some(e) = Estimate::of(&vals) {
                diffs.push(((e.mean - target) / target).abs());
            }
        }
    }
    if diffs.is_empty() {
        f64::INFINITY
    } else {
        diffs.iter().sum::<f64>() / diffs.len() as f64
    }
}

/// The units of a reproduction, in two phases: experiments 1 and 2 first
/// (2 decides the batch size), then experiments 3 and 4 at a batch size.
struct Planner<'a> {
    options: &'a ReproduceOptions,
    scale: ReproduceScale,
    seeds: Vec<u64>,
}

impl<'a> Planner<'a> {
    fn new(options: &'a ReproduceOptions) -> Self {
        let scale = ReproduceScale::of(options.quick);
        Planner {
            options,
            scale,
            seeds: (0..options.seeds).collect(),
        }
    }

    fn inits(&self) -> Vec<Init> {
        match self.options.init {
            Some(i) => vec![i],
            None => vec![Init::Pca, Init::Random],
        }
    }

    /// The batch sizes experiment 2 is run at (the candidates of the
    /// decision, or the one fixed by `--batch`).
    fn batches(&self) -> Vec<usize> {
        match self.options.batch {
            Some(b) => vec![b],
            None => vec![1024, 512],
        }
    }

    fn variants(&self, batches: &[usize]) -> Vec<Variant> {
        self.inits()
            .iter()
            .flat_map(|&init| batches.iter().map(move |&batch| Variant { init, batch }))
            .collect()
    }

    fn of(&self, exp: Experiment, batches: &[usize]) -> Vec<runs::UnitSpec> {
        if !self.options.runs(exp) {
            return Vec::new();
        }
        plan(
            exp,
            &self.variants(batches),
            &self.seeds,
            &self.options.data,
            &self.scale,
        )
    }

    fn phase1(&self) -> Vec<runs::UnitSpec> {
        let mut units = self.of(Experiment::Exp1, &[512]);
        units.extend(self.of(Experiment::Exp2, &self.batches()));
        units
    }

    fn phase2(&self, batch: usize) -> Vec<runs::UnitSpec> {
        let mut units = self.of(Experiment::Exp3, &[batch]);
        units.extend(self.of(Experiment::Exp4, &[batch]));
        units
    }

    /// The units of the C2 study (init = PCA, batch 1024: the reproduction's
    /// choice, fixed so the study does not wait for the decision).
    fn c2(&self) -> Vec<c2::C2Spec> {
        if !self.options.runs(Experiment::C2) {
            return Vec::new();
        }
        let scale = c2::C2Scale::of(self.options.quick);
        c2::plan(
            &self.options.data,
            &self.seeds,
            &scale,
            Variant {
                init: Init::Pca,
                batch: 1024,
            },
        )
    }

    /// Every unit any outcome of the decision can need: phase 2 at every
    /// candidate batch size. What shards compute, since none of them sees
    /// all of experiment 2.
    fn all(&self) -> Vec<runs::UnitSpec> {
        let mut units = self.phase1();
        for batch in self.batches() {
            units.extend(self.phase2(batch));
        }
        units
    }
}

/// A unit of a reproduction: a run of experiments 1–4 or of the C2 study.
#[derive(Debug, Clone)]
pub enum PlannedUnit {
    /// Experiments 1–4.
    Run(runs::UnitSpec),
    /// The C2 study.
    C2(c2::C2Spec),
}

impl PlannedUnit {
    /// The key in the run store.
    pub fn key(&self) -> String {
        match self {
            PlannedUnit::Run(u) => u.key(),
            PlannedUnit::C2(u) => crate::study::store::StoredUnit::key(u),
        }
    }

    /// Estimated work, millions of multiply-adds.
    pub fn cost(&self) -> f64 {
        match self {
            PlannedUnit::Run(u) => u.estimated_cost(),
            PlannedUnit::C2(u) => u.estimated_cost(),
        }
    }

    /// The whole configuration, as JSON.
    pub fn spec_json(&self) -> serde_json::Value {
        match self {
            PlannedUnit::Run(u) => serde_json::to_value(u),
            PlannedUnit::C2(u) => serde_json::to_value(u),
        }
        .expect("specs serialize")
    }
}

/// Every unit the options can need (experiments 3–4 at every candidate batch
/// size unless `--batch` fixes it, and the C2 study), in plan order: what
/// `--plan` prints and `--shard` splits.
pub fn planned_units(options: &ReproduceOptions) -> Result<Vec<PlannedUnit>> {
    options.validate()?;
    let planner = Planner::new(options);
    let mut units: Vec<PlannedUnit> = planner.all().into_iter().map(PlannedUnit::Run).collect();
    units.extend(planner.c2().into_iter().map(PlannedUnit::C2));
    Ok(units)
}

impl Planned for PlannedUnit {
    fn store_key(&self) -> String {
        PlannedUnit::key(self)
    }
    fn cost(&self) -> f64 {
        PlannedUnit::cost(self)
    }
    fn spec_json(&self) -> serde_json::Value {
        PlannedUnit::spec_json(self)
    }
    fn label(&self) -> String {
        match self {
            PlannedUnit::Run(spec) => unit_label(spec),
            PlannedUnit::C2(spec) => c2_label(spec),
        }
    }
}

impl Study for ReproduceOptions {
    type Unit = PlannedUnit;
    type Summary = ReproduceSummary;
    const NAME: &'static str = "reproduce";

    fn store(&self) -> &Path {
        &self.store
    }

    fn planned_units(&self) -> Result<Vec<PlannedUnit>> {
        planned_units(self)
    }

    fn compute(
        &self,
        units: &[PlannedUnit],
        stop: &AtomicBool,
        tick: &(dyn Fn(&PlannedUnit, bool) + Sync),
    ) -> Result<ExecuteStats> {
        let (mut runs_mine, mut c2_mine) = (Vec::new(), Vec::new());
        for unit in units {
            match unit {
                PlannedUnit::Run(u) => runs_mine.push(u.clone()),
                PlannedUnit::C2(u) => c2_mine.push(u.clone()),
            }
        }
        let (_, s1) = execute(
            &runs_mine,
            &self.store,
            self.jobs,
            self.fresh,
            stop,
            |spec, cached| tick(&PlannedUnit::Run(spec.clone()), cached),
        )?;
        let (_, s2) = execute(
            &c2_mine,
            &self.store,
            self.jobs,
            self.fresh,
            stop,
            |spec, cached| tick(&PlannedUnit::C2(spec.clone()), cached),
        )?;
        Ok(ExecuteStats {
            reused: s1.reused + s2.reused,
            computed: s1.computed + s2.computed,
        })
    }

    fn run(&self, stop: &AtomicBool, progress: Progress) -> Result<ReproduceSummary> {
        reproduce(self, stop, progress)
    }
}

fn c2_label(spec: &c2::C2Spec) -> String {
    format!("c2 {} seed {}", spec.data_name, spec.seed)
}

fn unit_label(spec: &runs::UnitSpec) -> String {
    format!(
        "{} {} seed {}",
        spec.experiment.name(),
        spec.variant.label(),
        spec.seed
    )
}

/// Runs the reproduction and writes everything under `options.out_dir`.
/// `progress(done, total, message)` reports units; `stop` ends it early
/// (finished units are kept).
pub fn reproduce(
    options: &ReproduceOptions,
    stop: &AtomicBool,
    progress: Progress,
) -> Result<ReproduceSummary> {
    options.validate()?;
    crate::study::shard::check_store(&options.store)?;
    let started = Instant::now();
    let planner = Planner::new(options);
    let store = options.store.clone();
    create_dir(&options.out_dir)?;
    // Phase 1: experiments 1 and 2 (2 decides the open choices).
    let units = planner.phase1();
    // Experiments 3 and 4 run at the batch size experiment 2 decides; their
    // number of units does not depend on it.
    let phase2 = |batch: usize| planner.phase2(batch);
    let c2_units = planner.c2();
    let ticker = Ticker::new(units.len() + phase2(1024).len() + c2_units.len(), progress);
    let report_progress = |spec: &runs::UnitSpec, cached: bool| {
        ticker.tick(&label_of(&PlannedUnit::Run(spec.clone()), cached))
    };
    let (mut all, stats1) = execute(
        &units,
        &store,
        options.jobs,
        options.fresh,
        stop,
        report_progress,
    )?;

    // Decide.
    let results = Results { units: &all };
    let mut scores: Vec<(Variant, f64)> = results
        .variants(Experiment::Exp2)
        .into_iter()
        .map(|v| (v, exp2_score(&results, v)))
        .collect();
    scores.sort_by(|a, b| a.1.total_cmp(&b.1));
    let fixed = options.init.is_some() && options.batch.is_some();
    let (exp2_variant, how) = match scores.first() {
        Some(&(v, _)) if !fixed => (v, "the experiment-2 variant whose gradient-method cells (recon_mse, insub_distortion of autograd STE, manual STE, rotation) lie closest to the report (smallest mean |relative difference|)".to_string()),
        _ => (
            Variant {
                init: options.init.unwrap_or(Init::Pca),
                batch: options.batch.unwrap_or(1024),
            },
            "fixed on the command line (or experiment 2 not run): --init / --batch, default pca / 1024".to_string(),
        ),
    };
    let decision = Decision {
        exp2: exp2_variant,
        init: exp2_variant.init,
        batch: exp2_variant.batch,
        how,
        scores: scores.iter().map(|(v, s)| (v.label(), *s)).collect(),
    };

    // Phase 2: experiments 3 and 4 at the chosen batch, every init.
    let units2 = phase2(decision.batch);
    let (more, stats2) = execute(
        &units2,
        &store,
        options.jobs,
        options.fresh,
        stop,
        report_progress,
    )?;
    all.extend(more);
    let (c2_results, stats3) = execute(
        &c2_units,
        &store,
        options.jobs,
        options.fresh,
        stop,
        |spec, cached| ticker.tick(&label_of(&PlannedUnit::C2(spec.clone()), cached)),
    )?;
    check_interrupted(
        stop,
        stats1.computed + stats2.computed + stats3.computed,
        &store,
    )?;

    let results = Results { units: &all };
    let (chosen_init, chosen_exp2, chosen_batch) = (decision.init, decision.exp2, decision.batch);
    let chosen = move |exp: Experiment| match exp {
        Experiment::Exp1 => Variant {
            init: chosen_init,
            batch: 512,
        },
        Experiment::Exp2 => chosen_exp2,
        _ => Variant {
            init: chosen_init,
            batch: chosen_batch,
        },
    };
    let cost_note = "Memory (1× vs 2×) is not measured here: see `vqlab bench` (results/BENCH.md). Times come from runs sharing the machine with another worker; the ratio is what is compared.";
    let cells = cells(&results, &chosen);
    let claims = claims(&results, &chosen, cost_note);
    let failed_runs: Vec<String> = all
        .iter()
        .flat_map(|u| {
            u.runs.iter().filter_map(move |r| {
                r.error
                    .as_ref()
                    .map(|e| format!("{} ({}): {e}", u.spec.file_name(), r.method))
            })
        })
        .collect();
    let summary = ReproduceSummary {
        options: options.clone(),
        decision,
        cells,
        claims,
        against_itself: analysis::report_against_itself(),
        wall_seconds: started.elapsed().as_secs_f64(),
        compute_seconds: all.iter().map(|u| u.seconds).sum::<f64>()
            + c2_results.iter().map(|u| u.seconds).sum::<f64>(),
        reused: stats1.reused + stats2.reused + stats3.reused,
        computed: stats1.computed + stats2.computed + stats3.computed,
        failed_runs,
        c2: (!c2_results.is_empty()).then(|| c2::analyse(&c2_results, reference_residual(options))),
    };
    write_outputs(&options.out_dir, &summary, &all, &chosen)?;
    if !c2_results.is_empty() {
        #[derive(Serialize)]
        struct C2File<'a> {
            study: &'a Option<c2::C2Study>,
            units: &'a [c2::C2Result],
        }
        write_json(
            &options.out_dir.join("c2.json"),
            &C2File {
                study: &summary.c2,
                units: &c2_results,
            },
        )?;
    }
    Ok(summary)
}

#[derive(Serialize)]
struct ExperimentFile<'a> {
    experiment: Experiment,
    chosen_variant: Variant,
    cells: Vec<&'a Cell>,
    units: Vec<&'a UnitResult>,
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("results serialize");
    write_atomic(path, format!("{text}\n").as_bytes())
}

fn write_outputs(
    dir: &Path,
    summary: &ReproduceSummary,
    units: &[UnitResult],
    chosen: &dyn Fn(Experiment) -> Variant,
) -> Result<()> {
    for exp in Experiment::ALL {
        let mine: Vec<&UnitResult> = units.iter().filter(|u| u.spec.experiment == exp).collect();
        if mine.is_empty() {
            continue;
        }
        let file = ExperimentFile {
            experiment: exp,
            chosen_variant: chosen(exp),
            cells: summary
                .cells
                .iter()
                .filter(|c| c.experiment == exp)
                .collect(),
            units: mine,
        };
        write_json(&dir.join(format!("{}.json", exp.name())), &file)?;
    }
    write_json(&dir.join("summary.json"), summary)?;
    write_atomic(
        &dir.join("exp2_curves.csv"),
        render::curves_csv(units).as_bytes(),
    )?;
    let results = Results { units };
    plots::write_all(dir, &results, chosen)?;
    write_atomic(
        &dir.join("REPORT.md"),
        crate::study::stats::no_negative_zero(&render::report_markdown(summary, &results, chosen))
            .as_bytes(),
    )?;
    Ok(())
}
