//! The studies' numbers and verdicts: per condition a table of every arm
//! beside the baselines, the learning-rate grid and its choices; per
//! hypothesis its parts and a verdict. The rules are `reproduce`'s
//! ([`crate::study::stats`]), with the studies' words: a hypothesis is
//! *supported*, *not supported* or *not significant*.
//!
//! * A gain part: the candidate's recon gain over its reference,
//!   100 · (ref − cand) / ref per seed, paired by seed; judged by
//!   [`crate::study::stats::Rule::AtLeast`] with δ = [`DELTA_PERCENT`]: supported when the
//!   interval lies at or above δ, not supported when at or below δ (worse,
//!   or equivalent to no gain), not significant when it straddles δ.
//! * A ranking part: every pair of entities, with its relative difference
//!   100 · (a − b) / b per seed in each of two settings. The pair *swaps*
//!   when the two intervals lie strictly on opposite sides of 0; it *keeps
//!   its order* when a swap larger than δ either way is excluded (not both
//!   "first interval reaches below −δ" and "second reaches above δ", nor the
//!   mirror). The part is supported when some pair swaps, not supported when
//!   every pair keeps its order, not significant otherwise.
//! * Error rates: the intervals of one hypothesis share a family-wise error
//!   rate of 5 % (Bonferroni over its parts; for rankings over every
//!   interval). `all` hypotheses need every part, `any` hypotheses one.
use std::collections::HashMap;

use serde::Serialize;

use super::studies::{
    Combine, Condition, Entity, GainPart, Hypothesis, RankingPart, Reference, StudyId, Test,
    DELTA_PERCENT,
};
use super::unit::{Arm, FutureResult, Outcome};
use crate::numerics::metrics::Metrics;
use crate::study::rules::{combine, judge_gain, judge_ranking, paired_gain, PairResult};
use crate::study::stats::{bonferroni_level, Estimate, Verdict};

/// The studies' word for a verdict.
pub fn label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Reproduced => "supported",
        Verdict::NotReproduced => "not supported",
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
    pub title: &'static str,
    /// The report's words it answers.
    pub question: &'static str,
    /// Its conditions.
    pub conditions: Vec<ConditionReport>,
    /// The lockstep checks of its models and estimators.
    pub parity: Vec<ParityLine>,
}

/// One part's result.
#[derive(Debug, Clone, Serialize)]
pub struct PartResult {
    /// What is compared, in words.
    pub what: String,
    /// The gain's estimate (gain parts).
    pub estimate: Option<Estimate>,
    /// Gain parts: the seeds where the candidate did better than the
    /// reference, and the seeds compared (the per-run count).
    pub better_runs: (usize, usize),
    /// The pairs (ranking parts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<PairResult>,
    /// The part's verdict.
    pub verdict: Verdict,
}

/// A hypothesis with its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct HypothesisResult {
    /// `H1`, ….
    pub id: &'static str,
    /// Its study.
    pub study: StudyId,
    /// In words.
    pub text: String,
    /// The rule in words.
    pub rule: String,
    /// δ in %.
    pub delta_percent: f64,
    /// all / any.
    pub combine: Combine,
    /// The confidence level of each interval.
    pub level: f64,
    /// The parts.
    pub parts: Vec<PartResult>,
    /// The verdict.
    pub verdict: Verdict,
    /// Its word.
    pub label: &'static str,
    /// Seeds behind it (the smallest count of any part's interval).
    pub seeds: usize,
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
    let (parts, level, rule) = match &hypothesis.test {
        Test::Gains(parts) => {
            let level = bonferroni_level(parts.len());
            let results = parts
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
                    let gains = paired_gain(&cand, &reference);
                    let (estimate, verdict) = judge_gain(&gains, level, DELTA_PERCENT);
                    PartResult {
                        what: format!("{}: {} vs {}", p.condition, p.candidate.label(), ref_name),
                        estimate,
                        better_runs: (gains.iter().filter(|g| **g > 0.0).count(), gains.len()),
                        pairs: Vec::new(),
                        verdict,
                    }
                })
                .collect::<Vec<_>>();
            (
                results,
                level,
                format!(
                    "gain = 100·(ref − cand)/ref paired by seed; supported when its interval ≥ δ = {DELTA_PERCENT} %, not supported when ≤ δ"
                ),
            )
        }
        Test::Rankings(parts) => {
            let intervals: usize = parts
                .iter()
                .map(|p: &RankingPart| {
                    let n = p.first.1.len();
                    n * (n - 1)
                })
                .sum();
            let level = bonferroni_level(intervals);
            let results = parts
                .iter()
                .map(|p| {
                    let (c1, c2) = (find(&p.first.0), find(&p.second.0));
                    let names: Vec<String> = p.first.1.iter().map(entity_name).collect();
                    let first: Vec<_> = p
                        .first
                        .1
                        .iter()
                        .map(|e| entity_values(c1, e, lookup))
                        .collect();
                    let second: Vec<_> = p
                        .second
                        .1
                        .iter()
                        .map(|e| entity_values(c2, e, lookup))
                        .collect();
                    let (pairs, verdict) =
                        judge_ranking(&names, &first, &second, level, DELTA_PERCENT);
                    PartResult {
                        what: format!("{} → {}", p.first_name, p.second_name),
                        estimate: None,
                        better_runs: (0, 0),
                        pairs,
                        verdict,
                    }
                })
                .collect();
            (
                results,
                level,
                format!("a pair swaps when its relative differences in the two settings lie strictly on opposite sides of 0; keeps its order when a swap beyond δ = {DELTA_PERCENT} % is excluded; supported when some pair swaps, not supported when all keep their order"),
            )
        }
    };
    let verdicts: Vec<Verdict> = parts.iter().map(|p| p.verdict).collect();
    let verdict = combine(hypothesis.combine, &verdicts);
    let seeds = parts
        .iter()
        .flat_map(|p| {
            p.estimate
                .iter()
                .map(|e| e.n)
                .chain(
                    p.pairs
                        .iter()
                        .flat_map(|q| q.first.iter().chain(q.second.iter()).map(|e| e.n)),
                )
                .collect::<Vec<_>>()
        })
        .min()
        .unwrap_or(0);
    HypothesisResult {
        id: hypothesis.id,
        study: hypothesis.study,
        text: hypothesis.text.clone(),
        rule,
        delta_percent: DELTA_PERCENT,
        combine: hypothesis.combine,
        level,
        parts,
        verdict,
        label: label(verdict),
        seeds,
    }
}

/// A [`Lookup`] over stored results, keyed by unit key.
pub struct StoreLookup<'a> {
    /// Results by key.
    pub by_key: HashMap<String, &'a FutureResult>,
    /// The spec of (condition, arm or baselines, seed) → key.
    pub keys: &'a dyn Fn(&Condition, Option<&Arm>, u64) -> String,
    /// The parity keys of a condition.
    pub parity_keys: &'a dyn Fn(&Condition) -> Vec<String>,
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
                self.by_key
                    .get(&(self.keys)(condition, Some(arm), seed))
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
                self.by_key
                    .get(&(self.keys)(condition, None, seed))
                    .and_then(|r| match &r.outcome {
                        Outcome::Baselines(b) => Some(b),
                        _ => None,
                    })
            })
            .collect()
    }

    fn parity(&self, condition: &Condition) -> Vec<&FutureResult> {
        (self.parity_keys)(condition)
            .iter()
            .filter_map(|k| self.by_key.get(k).copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::rules::{pair_order, PairOrder};

    fn est(values: &[f64]) -> Estimate {
        Estimate::of(values).unwrap()
    }

    #[test]
    fn gains_are_judged_against_delta() {
        // A clear 2 % gain, a clear 0 (equivalent to none), a straddle, a loss.
        let clear: Vec<f64> = (0..8).map(|i| 2.0 + 0.01 * i as f64).collect();
        assert_eq!(
            judge_gain(&clear, 0.95, DELTA_PERCENT).1,
            Verdict::Reproduced
        );
        let none: Vec<f64> = (0..8).map(|i| 0.01 * (i as f64 - 3.5)).collect();
        assert_eq!(
            judge_gain(&none, 0.95, DELTA_PERCENT).1,
            Verdict::NotReproduced
        );
        let straddle = [0.0, 1.0, 0.2, 0.9, 0.5];
        assert_eq!(
            judge_gain(&straddle, 0.95, DELTA_PERCENT).1,
            Verdict::NotSignificant
        );
        let loss: Vec<f64> = (0..5).map(|i| -3.0 - 0.1 * i as f64).collect();
        assert_eq!(
            judge_gain(&loss, 0.95, DELTA_PERCENT).1,
            Verdict::NotReproduced
        );
        // One seed is not a verdict.
        assert_eq!(judge_gain(&[5.0], 0.95, DELTA_PERCENT).1, Verdict::NotRun);
        // Paired gains: the reference 10, the candidate 9.8 → 2 %.
        let g = paired_gain(
            &[Some(9.8), None, Some(9.8)],
            &[Some(10.0), Some(10.0), Some(10.0)],
        );
        assert_eq!(g.len(), 2);
        assert!((g[0] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn the_swap_rule_on_known_intervals() {
        let below = est(&[-3.0, -3.1, -2.9, -3.05]);
        let above = est(&[3.0, 3.1, 2.9, 3.05]);
        let near_zero = est(&[0.01, -0.02, 0.0, 0.015]);
        let wide = est(&[-5.0, 5.0, -4.0, 4.0]);
        assert_eq!(pair_order(&below, &above, DELTA_PERCENT), PairOrder::Swaps);
        assert_eq!(pair_order(&above, &below, DELTA_PERCENT), PairOrder::Swaps);
        assert_eq!(pair_order(&below, &below, DELTA_PERCENT), PairOrder::Keeps);
        assert_eq!(
            pair_order(&near_zero, &near_zero, DELTA_PERCENT),
            PairOrder::Keeps
        );
        // Ordered in one setting, tied in the other: no swap beyond δ.
        assert_eq!(
            pair_order(&below, &near_zero, DELTA_PERCENT),
            PairOrder::Keeps
        );
        // Too wide to tell.
        assert_eq!(
            pair_order(&below, &wide, DELTA_PERCENT),
            PairOrder::Undetermined
        );
    }

    #[test]
    fn rankings_from_per_seed_values() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let seeds = |v: f64| -> Vec<Option<f64>> {
            (0..6).map(|i| Some(v * (1.0 + 0.001 * i as f64))).collect()
        };
        let first = vec![seeds(1.0), seeds(2.0), seeds(3.0)];
        // Same order: not supported.
        let (_, v) = judge_ranking(&names, &first, &first, 0.99, DELTA_PERCENT);
        assert_eq!(v, Verdict::NotReproduced);
        // a and c swap: supported.
        let second = vec![seeds(3.5), seeds(2.0), seeds(3.0)];
        let (pairs, v) = judge_ranking(&names, &first, &second, 0.99, DELTA_PERCENT);
        assert_eq!(v, Verdict::Reproduced);
        assert_eq!(
            pairs.iter().filter(|p| p.order == PairOrder::Swaps).count(),
            2
        );
        // A missing entity: not run.
        let missing = vec![seeds(1.0), vec![None; 6], seeds(3.0)];
        assert_eq!(
            judge_ranking(&names, &first, &missing, 0.99, DELTA_PERCENT).1,
            Verdict::NotRun
        );
    }

    #[test]
    fn any_and_all_combine_as_documented() {
        use Verdict::*;
        assert_eq!(
            combine(Combine::Any, &[NotReproduced, Reproduced]),
            Reproduced
        );
        assert_eq!(
            combine(Combine::Any, &[NotReproduced, NotReproduced]),
            NotReproduced
        );
        assert_eq!(
            combine(Combine::Any, &[NotReproduced, NotSignificant]),
            NotSignificant
        );
        assert_eq!(
            combine(Combine::All, &[NotReproduced, Reproduced]),
            NotReproduced
        );
        assert_eq!(combine(Combine::All, &[Reproduced, Reproduced]), Reproduced);
        assert_eq!(combine(Combine::Any, &[]), NotRun);
    }
}
