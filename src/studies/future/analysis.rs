//! The studies' numbers and verdicts: per condition a table of every arm
//! beside the baselines, the learning-rate grid and its choices; per
//! hypothesis its parts and a verdict. Every hypothesis is a
//! [`crate::study::claim::Claim`], judged by the rules REPORT.md's claims
//! use, with the studies' words: *supported*, *real but below δ*, *not
//! supported*, *not significant*, *mixed*.
//!
//! * A gain part: the candidate's recon gain over its reference,
//!   100 · (ref − cand) / ref per seed, paired by seed; judged by
//!   [`crate::study::stats::Rule::AtLeast`] with the one gain margin
//!   δ = [`GAIN_MARGIN_PERCENT`]: supported when the interval lies at or
//!   above δ, real but below δ when it lies strictly between 0 and δ, not
//!   supported when it lies at or below δ and reaches 0, not significant
//!   when it straddles δ. Parts significantly opposite make a hypothesis
//!   *mixed*; the tied model's parts and the added models' are also judged
//!   apart ([`ModelGroupVerdict`]).
//! * A ranking part: every pair of entities, with its difference a − b per
//!   seed in % of one scale for both settings (b's mean in the first). The
//!   pair *swaps* when one setting's interval lies below −δ and the other's
//!   above δ; it *keeps its order* when a swap larger than δ either way is
//!   excluded. The part is supported when some pair swaps, not supported
//!   when every pair keeps its order, not significant otherwise.
//! * Error rates: the intervals of one hypothesis share a family-wise error
//!   rate of 5 % (Bonferroni over its distinct parts; for rankings over
//!   every interval). `all` hypotheses need every part, `any` hypotheses
//!   one.
use std::collections::HashMap;

use serde::Serialize;

use super::studies::{
    Condition, Entity, GainPart, Hypothesis, RankingPart, Reference, StudyId, Test,
};
use super::unit::{Arm, FutureResult, Outcome};
use crate::numerics::metrics::Metrics;
use crate::study::claim::{verdict_of, Claim, Part, Statement};
use crate::study::rules::{paired_gain, GAIN_MARGIN_PERCENT, GAIN_MARGIN_WHY};
use crate::study::stats::{Estimate, Rule, Verdict};

/// The studies' word for a verdict.
pub fn label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Reproduced => "supported",
        Verdict::BelowMargin => "real but below δ",
        Verdict::NotReproduced => "not supported",
        Verdict::Mixed => "mixed",
        Verdict::NotSignificant => "not significant",
        Verdict::NotRun => "not run",
    }
}

/// Looks up the results of a plan: per (condition, arm) and per condition's
/// baselines, one entry per seed (None: not run, or diverged).
pub trait Lookup {
    /// The arm's final eval metrics per seed.
    fn arm(&self, condition: &Condition, arm: &Arm) -> Vec<Option<Metrics>>;
    /// The arm's training outcomes per seed (grid and curve).
    fn arm_outcomes(
        &self,
        condition: &Condition,
        arm: &Arm,
    ) -> Vec<Option<&super::unit::TrainOutcome>>;
    /// The baselines per seed.
    fn baselines(&self, condition: &Condition) -> Vec<Option<&super::unit::BaselineOutcome>>;
    /// The parity units of a condition.
    fn parity(&self, condition: &Condition) -> Vec<&FutureResult>;
}

/// One row of a condition's table.
#[derive(Debug, Clone, Serialize)]
pub struct MethodRow {
    /// The arm's label, or the baseline's name.
    pub name: String,
    /// Eval recon over seeds.
    pub recon: Option<Estimate>,
    /// Eval recon per seed, in the order of the run's seeds (null: not run
    /// or diverged): every gain in FUTURE.md can be recomputed from these.
    pub recon_per_seed: Vec<Option<f64>>,
    /// Gain over the converged baseline (%).
    pub gain_converged: Option<Estimate>,
    /// Gain over the report's 20-iteration baseline (%).
    pub gain_report: Option<Estimate>,
    /// Mean usage entropy (nats) on the eval rows.
    pub usage_entropy: Option<f64>,
    /// Mean number of dead codes on the eval rows.
    pub dead_codes: Option<f64>,
    /// Seeds with a result.
    pub runs: usize,
    /// Seeds whose every grid run diverged.
    pub diverged: usize,
    /// Mean eval recon along training (step, recon), over seeds.
    pub curve: Vec<(usize, f64)>,
}

/// One arm's learning-rate grid.
#[derive(Debug, Clone, Serialize)]
pub struct GridRow {
    /// The arm.
    pub arm: String,
    /// η_W, η_E before the multiplier.
    pub base: (f64, f64),
    /// The multipliers.
    pub multipliers: Vec<f64>,
    /// Mean validation recon per multiplier (over the seeds where it ran).
    pub val_mean: Vec<Option<f64>>,
    /// Seeds that chose each multiplier.
    pub chosen: Vec<usize>,
    /// Seeds that tried each multiplier (the grid grows past a winning
    /// edge).
    pub tried: Vec<usize>,
    /// Seeds where each multiplier diverged.
    pub diverged: Vec<usize>,
}

/// A condition's tables.
#[derive(Debug, Clone, Serialize)]
pub struct ConditionReport {
    /// The name.
    pub name: String,
    /// The data set's name.
    pub data: String,
    /// D.
    pub dim: usize,
    /// Rows trained on.
    pub n_fit: usize,
    /// K, m, batch, steps.
    pub sizes: super::unit::Sizes,
    /// Plot position (K or noise share).
    pub x: Option<f64>,
    /// Lloyd iterations of the converged baseline.
    pub converged_iterations: Option<Estimate>,
    /// The baselines, then every arm.
    pub rows: Vec<MethodRow>,
    /// The grids.
    pub grids: Vec<GridRow>,
    /// On image data, the first seed's pictures (not in the JSON).
    #[serde(skip)]
    pub pictures: Option<Pictures>,
}

/// What a condition on image data makes of its first evaluation rows, on
/// the first seed: the originals, then the converged baseline's and each
/// arm's reconstructions (a strip each, in the data's units).
#[derive(Debug, Clone)]
pub struct Pictures {
    /// The rows' image shape.
    pub shape: crate::data::ImageShape,
    /// (what made it, its images), the originals first.
    pub strips: Vec<(String, Vec<Vec<f64>>)>,
}

/// One lockstep line.
#[derive(Debug, Clone, Serialize)]
pub struct ParityLine {
    /// The condition.
    pub condition: String,
    /// `model/estimator`.
    pub method: String,
    /// Largest relative gradient error, autograd vs manual.
    pub max_rel_err_grad: f64,
    /// Largest absolute loss error.
    pub max_abs_err_loss: f64,
    /// Lockstep steps.
    pub steps: usize,
}

/// One study's tables.
#[derive(Debug, Clone, Serialize)]
pub struct StudyReport {
    /// Which.
    pub study: StudyId,
    /// Its title.
    pub title: String,
    /// The words it answers.
    pub question: String,
    /// Its conditions.
    pub conditions: Vec<ConditionReport>,
    /// The lockstep checks of its models and estimators.
    pub parity: Vec<ParityLine>,
}

/// A hypothesis with its verdict: the study it belongs to and the claim,
/// judged by the rules every study shares ([`crate::study::claim`]).
#[derive(Debug, Clone, Serialize)]
pub struct HypothesisResult {
    /// Its study.
    pub study: StudyId,
    /// The verdict over the report's own (tied) model's parts and over the
    /// parts of the models vqlab added, judged apart (gain hypotheses).
    pub by_model: Vec<ModelGroupVerdict>,
    /// The hypothesis, its parts and its verdict.
    #[serde(flatten)]
    pub claim: Claim,
}

/// The verdict of a hypothesis's parts on one group of models.
#[derive(Debug, Clone, Serialize)]
pub struct ModelGroupVerdict {
    /// `tied (the report's model)` or `untied, mlp (added)`.
    pub models: String,
    /// Its parts (indices into the hypothesis's parts).
    pub parts: Vec<usize>,
    /// Their verdict, combined as the hypothesis's.
    pub verdict: Verdict,
    /// Its word.
    pub label: &'static str,
}

fn recon(values: &[Option<Metrics>]) -> Vec<Option<f64>> {
    values.iter().map(|m| m.map(|m| m.recon_mse)).collect()
}

fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let v: Vec<f64> = values.into_iter().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn estimate(values: &[Option<f64>]) -> Option<Estimate> {
    let v: Vec<f64> = values.iter().flatten().copied().collect();
    (v.len() >= 2).then(|| Estimate::of(&v).expect("finite"))
}

/// The metric row of per-seed results.
fn row(
    name: String,
    metrics: &[Option<Metrics>],
    converged: &[Option<f64>],
    report: &[Option<f64>],
    k: usize,
) -> MethodRow {
    let r = recon(metrics);
    let present: Vec<&Metrics> = metrics.iter().flatten().collect();
    MethodRow {
        name,
        recon: estimate(&r),
        recon_per_seed: r.clone(),
        gain_converged: estimate(
            &paired_gain(&r, converged)
                .into_iter()
                .map(Some)
                .collect::<Vec<_>>(),
        ),
        gain_report: estimate(
            &paired_gain(&r, report)
                .into_iter()
                .map(Some)
                .collect::<Vec<_>>(),
        ),
        usage_entropy: mean(present.iter().map(|m| m.usage_entropy)),
        dead_codes: mean(present.iter().map(|m| m.dead_code_fraction * k as f64)),
        runs: present.len(),
        diverged: 0,
        curve: Vec::new(),
    }
}

/// The tables of one condition.
pub fn condition_report(condition: &Condition, lookup: &dyn Lookup) -> ConditionReport {
    let base = lookup.baselines(condition);
    let k = condition.sizes.k;
    let report_m: Vec<Option<Metrics>> = base.iter().map(|b| b.map(|b| b.report)).collect();
    let converged_m: Vec<Option<Metrics>> = base.iter().map(|b| b.map(|b| b.converged)).collect();
    let (rep, conv) = (recon(&report_m), recon(&converged_m));
    let mut rows = vec![
        row(
            "PCA + Lloyd, 20 iterations (report)".into(),
            &report_m,
            &conv,
            &rep,
            k,
        ),
        row(
            "PCA + Lloyd, converged".into(),
            &converged_m,
            &conv,
            &rep,
            k,
        ),
    ];
    let mut grids = Vec::new();
    for arm in &condition.arms {
        let outcomes = lookup.arm_outcomes(condition, arm);
        let metrics: Vec<Option<Metrics>> =
            outcomes.iter().map(|o| o.and_then(|o| o.eval)).collect();
        let mut r = row(arm.label(), &metrics, &conv, &rep, k);
        r.diverged = outcomes
            .iter()
            .filter(|o| o.is_some_and(|o| o.chosen.is_none()))
            .count();
        // The mean curve over the seeds that ran (same steps for all).
        let curves: Vec<&Vec<(usize, f64)>> = outcomes
            .iter()
            .flatten()
            .map(|o| &o.curve)
            .filter(|c| !c.is_empty())
            .collect();
        if let Some(first) = curves.first() {
            r.curve = (0..first.len())
                .filter_map(|i| {
                    let step = first[i].0;
                    mean(
                        curves
                            .iter()
                            .filter_map(|c| c.get(i).filter(|p| p.0 == step).map(|p| p.1)),
                    )
                    .map(|y| (step, y))
                })
                .collect();
        }
        rows.push(r);
        let ran: Vec<_> = outcomes.iter().flatten().collect();
        if let Some(first) = ran.first() {
            // Seeds may have extended the grid differently: every multiplier
            // any seed tried, in order.
            let mut multipliers: Vec<f64> = ran
                .iter()
                .flat_map(|o| o.grid.iter().map(|p| p.multiplier))
                .collect();
            multipliers.sort_by(f64::total_cmp);
            multipliers.dedup();
            let at = |o: &super::unit::TrainOutcome, m: f64| {
                o.grid.iter().find(|p| p.multiplier == m).cloned()
            };
            let p0 = &first.grid[0];
            grids.push(GridRow {
                arm: arm.label(),
                base: (p0.lr_w / p0.multiplier, p0.lr_e / p0.multiplier),
                val_mean: multipliers
                    .iter()
                    .map(|&m| {
                        mean(
                            ran.iter()
                                .filter_map(|o| at(o, m).and_then(|p| p.val_recon)),
                        )
                    })
                    .collect(),
                chosen: multipliers
                    .iter()
                    .map(|&m| {
                        ran.iter()
                            .filter(|o| o.chosen.is_some_and(|c| o.grid[c].multiplier == m))
                            .count()
                    })
                    .collect(),
                tried: multipliers
                    .iter()
                    .map(|&m| ran.iter().filter(|o| at(o, m).is_some()).count())
                    .collect(),
                diverged: multipliers
                    .iter()
                    .map(|&m| {
                        ran.iter()
                            .filter(|o| at(o, m).is_some_and(|p| p.val_recon.is_none()))
                            .count()
                    })
                    .collect(),
                multipliers,
            });
        }
    }
    let iterations: Vec<Option<f64>> = base
        .iter()
        .map(|b| b.map(|b| b.converged_iterations as f64))
        .collect();
    let pictures = match (condition.data.image(), base.first().copied().flatten()) {
        (Some(shape), Some(first)) if !first.originals.is_empty() => {
            let mut strips = vec![
                ("originals".to_string(), first.originals.clone()),
                (
                    "PCA + Lloyd (converged)".to_string(),
                    first.pictures.clone(),
                ),
            ];
            for arm in &condition.arms {
                if let Some(Some(o)) = lookup.arm_outcomes(condition, arm).first() {
                    if !o.pictures.is_empty() {
                        strips.push((arm.label(), o.pictures.clone()));
                    }
                }
            }
            Some(Pictures { shape, strips })
        }
        _ => None,
    };
    ConditionReport {
        name: condition.name.clone(),
        data: condition.data.name(),
        dim: condition.data.dim(),
        n_fit: condition.data.n_fit(),
        sizes: condition.sizes,
        x: condition.x,
        converged_iterations: estimate(&iterations),
        rows,
        grids,
        pictures,
    }
}

fn entity_values(condition: &Condition, entity: &Entity, lookup: &dyn Lookup) -> Vec<Option<f64>> {
    match entity {
        Entity::Converged => lookup
            .baselines(condition)
            .iter()
            .map(|b| b.map(|b| b.converged.recon_mse))
            .collect(),
        Entity::Arm(arm) => recon(&lookup.arm(condition, arm)),
    }
}

fn entity_name(entity: &Entity) -> String {
    match entity {
        Entity::Converged => "PCA + Lloyd (converged)".into(),
        Entity::Arm(arm) => arm.label(),
    }
}

/// The verdict of a hypothesis on the results.
pub fn judge(
    hypothesis: &Hypothesis,
    conditions: &[Condition],
    lookup: &dyn Lookup,
) -> HypothesisResult {
    let find = |name: &str| {
        conditions
            .iter()
            .find(|c| c.study == hypothesis.study && c.name == name)
            .expect("a hypothesis names conditions of its own study")
    };
    let (parts, rule) = match &hypothesis.test {
        Test::Gains(parts) => {
            let parts = parts
                .iter()
                .map(|p: &GainPart| {
                    let c = find(&p.condition);
                    let cand = recon(&lookup.arm(c, &p.candidate));
                    let (reference, ref_name) = match &p.reference {
                        Reference::Converged => (
                            entity_values(c, &Entity::Converged, lookup),
                            "PCA + Lloyd (converged)".to_string(),
                        ),
                        Reference::Arm(a) => (recon(&lookup.arm(c, a)), a.label()),
                    };
                    let mut edges = edge_note(&lookup.arm_outcomes(c, &p.candidate), &p.candidate);
                    if let Reference::Arm(a) = &p.reference {
                        edges.extend(edge_note(&lookup.arm_outcomes(c, a), a));
                    }
                    Part::Interval {
                        what: format!("{}: {} vs {}", p.condition, p.candidate.label(), ref_name),
                        rule: Rule::AtLeast {
                            delta: GAIN_MARGIN_PERCENT,
                        },
                        values: paired_gain(&cand, &reference),
                        flags: edges,
                    }
                })
                .collect::<Vec<_>>();
            (
                parts,
                format!(
                    "gain = 100·(ref − cand)/ref paired by seed; supported when its interval ≥ δ = {GAIN_MARGIN_PERCENT} % ({GAIN_MARGIN_WHY}); real but below δ when it lies strictly between 0 and δ; not supported when it lies ≤ δ and reaches 0; mixed when parts are significantly opposite"
                ),
            )
        }
        Test::Rankings(parts) => {
            let parts = parts
                .iter()
                .map(|p: &RankingPart| {
                    let (c1, c2) = (find(&p.first.0), find(&p.second.0));
                    let values = |c: &Condition, entities: &[Entity]| -> Vec<Vec<Option<f64>>> {
                        entities
                            .iter()
                            .map(|e| entity_values(c, e, lookup))
                            .collect()
                    };
                    Part::Ranking {
                        what: format!("{} → {}", p.first_name, p.second_name),
                        names: p.first.1.iter().map(entity_name).collect(),
                        first: values(c1, &p.first.1),
                        second: values(c2, &p.second.1),
                        delta: GAIN_MARGIN_PERCENT,
                    }
                })
                .collect();
            (
                parts,
                format!("each pair's difference a − b per seed, in % of b's mean in the first setting (one scale for both settings); the pair swaps when one setting's interval lies below −δ and the other's above δ (δ = {GAIN_MARGIN_PERCENT} %); keeps its order when a swap beyond δ is excluded; supported when some pair swaps, not supported when all keep their order"),
            )
        }
    };
    let statement = Statement {
        id: hypothesis.id.to_string(),
        text: hypothesis.text.clone(),
        rule,
        combine: hypothesis.combine,
        same_effect: true,
        note: String::new(),
    };
    let claim = statement.judge(parts, label);
    let by_model = match &hypothesis.test {
        Test::Gains(gains) => {
            let groups = [
                ("tied (the report's model)", true),
                ("untied, mlp (added by vqlab)", false),
            ];
            groups
                .into_iter()
                .filter_map(|(models, tied)| {
                    let indices: Vec<usize> = gains
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| g.candidate.model.is_tied() == tied)
                        .map(|(i, _)| i)
                        .collect();
                    if indices.is_empty() {
                        return None;
                    }
                    let parts: Vec<_> = indices.iter().map(|&i| &claim.parts[i]).collect();
                    let (verdict, _) = verdict_of(hypothesis.combine, true, &parts);
                    Some(ModelGroupVerdict {
                        models: models.to_string(),
                        parts: indices,
                        verdict,
                        label: label(verdict),
                    })
                })
                .collect()
        }
        Test::Rankings(_) => Vec::new(),
    };
    HypothesisResult {
        study: hypothesis.study,
        by_model,
        claim,
    }
}

/// A flag for a gain part when `arm` chose the edge of the multipliers it
/// tried on some seed (the best rate may lie beyond the grid).
fn edge_note(outcomes: &[Option<&super::unit::TrainOutcome>], arm: &Arm) -> Vec<String> {
    let ran: Vec<_> = outcomes.iter().flatten().collect();
    let at_edge = ran
        .iter()
        .filter(|o| {
            let Some(c) = o.chosen else { return false };
            let chosen = o.grid[c].multiplier;
            let lowest = o
                .grid
                .iter()
                .map(|p| p.multiplier)
                .fold(f64::INFINITY, f64::min);
            let highest = o
                .grid
                .iter()
                .map(|p| p.multiplier)
                .fold(f64::NEG_INFINITY, f64::max);
            chosen == lowest || chosen == highest
        })
        .count();
    if at_edge == 0 {
        Vec::new()
    } else {
        vec![format!(
            "{}: grid edge chosen on {at_edge} of {} seeds",
            arm.label(),
            ran.len()
        )]
    }
}

/// A [`Lookup`] over stored results, keyed by unit key.
pub struct StoreLookup<'a> {
    /// Results by key.
    pub by_key: HashMap<String, &'a FutureResult>,
    /// Where each slot of the plan finds its unit.
    pub index: &'a super::PlanIndex,
    /// The seeds.
    pub seeds: Vec<u64>,
}

impl Lookup for StoreLookup<'_> {
    fn arm(&self, condition: &Condition, arm: &Arm) -> Vec<Option<Metrics>> {
        self.arm_outcomes(condition, arm)
            .into_iter()
            .map(|o| o.and_then(|o| o.eval))
            .collect()
    }

    fn arm_outcomes(
        &self,
        condition: &Condition,
        arm: &Arm,
    ) -> Vec<Option<&super::unit::TrainOutcome>> {
        self.seeds
            .iter()
            .map(|&seed| {
                self.index
                    .key(condition, Some(arm), seed)
                    .and_then(|key| self.by_key.get(key))
                    .and_then(|r| match &r.outcome {
                        Outcome::Train(t) => Some(t),
                        _ => None,
                    })
            })
            .collect()
    }

    fn baselines(&self, condition: &Condition) -> Vec<Option<&super::unit::BaselineOutcome>> {
        self.seeds
            .iter()
            .map(|&seed| {
                self.index
                    .key(condition, None, seed)
                    .and_then(|key| self.by_key.get(key))
                    .and_then(|r| match &r.outcome {
                        Outcome::Baselines(b) => Some(b),
                        _ => None,
                    })
            })
            .collect()
    }

    fn parity(&self, condition: &Condition) -> Vec<&FutureResult> {
        self.index
            .parity_keys(condition)
            .iter()
            .filter_map(|k| self.by_key.get(k).copied())
            .collect()
    }
}
