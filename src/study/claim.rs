//! The one claim type every study judges: a statement (id, words, rule,
//! how its parts combine) and its parts, each measured data judged by a
//! rule; the verdict, the confidence level and the error rate follow from
//! them the same way in REPORT.md (the report's claims C1–C14) and
//! FUTURE.md (the open questions' hypotheses). Each study supplies only its
//! words and its measurements.
//!
//! ```
//! use vqlab::study::claim::{Part, Statement};
//! use vqlab::study::rules::Combine;
//! use vqlab::study::stats::{Rule, Verdict};
//!
//! let statement = Statement {
//!     id: "G1".into(),
//!     text: "the candidate gains at least 0.5 %".into(),
//!     rule: "at least δ = 0.5 %".into(),
//!     combine: Combine::All,
//!     same_effect: true,
//!     note: String::new(),
//! };
//! let gains = vec![2.1, 1.9, 2.3, 2.0, 2.2];
//! let claim = statement.judge(
//!     vec![Part::interval("gain, %", Rule::AtLeast { delta: 0.5 }, gains)],
//!     Verdict::label,
//! );
//! assert_eq!(claim.verdict, Verdict::Reproduced);
//! assert_eq!(claim.parts[0].better_runs, Some((5, 5)));
//! assert_eq!(claim.seeds, 5);
//! ```
use serde::Serialize;

use super::rules::{combine, judge_ranking, Combine, PairResult};
use super::stats::{bonferroni_level, universal, Estimate, Rule, Verdict, ROUNDING_FLOOR};

/// What a claim says and how it is judged, before any data.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `C1`, `H2a`, ….
    pub id: String,
    /// The claim in words.
    pub text: String,
    /// The rule with its margin δ and why, in words.
    pub rule: String,
    /// How the parts' verdicts combine.
    pub combine: Combine,
    /// Whether the parts measure one effect in different settings (methods,
    /// K, data sets), so that significantly opposite parts make the claim
    /// *mixed*; false when the parts measure different quantities, where a
    /// negative part simply refutes.
    pub same_effect: bool,
    /// Context printed beside the verdict.
    pub note: String,
}

/// A part's data before judging.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Per-seed values judged by a rule on their interval (the level is
    /// Bonferroni-corrected over the claim's intervals; fewer than two
    /// values: not run).
    Interval {
        /// What was measured.
        what: String,
        /// The rule.
        rule: Rule,
        /// One value per seed.
        values: Vec<f64>,
        /// Warnings printed beside the part (e.g. a learning rate chosen at
        /// the edge of its grid).
        flags: Vec<String>,
    },
    /// The same entities in two settings, per seed: does any pair swap
    /// places? Each pair contributes two intervals to the correction.
    Ranking {
        /// The two settings, in words.
        what: String,
        /// The entities.
        names: Vec<String>,
        /// Per entity, per seed, the first setting's values.
        first: Vec<Vec<Option<f64>>>,
        /// The same in the second setting (same entity order).
        second: Vec<Vec<Option<f64>>>,
        /// The margin δ, in % of the pair's common scale (the second
        /// entity's mean in the first setting).
        delta: f64,
    },
    /// A claim about every run: violating runs out of runs, and the seeds
    /// they come from.
    Universal {
        /// What was counted.
        what: String,
        /// Runs that violate the claim.
        violations: usize,
        /// Runs looked at.
        runs: usize,
        /// The seeds behind them.
        seeds: usize,
        /// The threshold, the tolerance and the worst run, in words (the
        /// margin by which the claim holds or fails).
        margin: String,
    },
    /// Measured by another command.
    Elsewhere {
        /// What.
        what: String,
    },
    /// Paired values over entities (not seeds): their Spearman ρ, judged
    /// by a rule on its Fisher-z interval
    /// ([`crate::study::stats::spearman_estimate`]; fewer than five pairs:
    /// not run). Counts as one interval in the correction.
    Correlation {
        /// What was correlated.
        what: String,
        /// The rule on ρ.
        rule: Rule,
        /// One side, per entity.
        first: Vec<f64>,
        /// The other, in the same order.
        second: Vec<f64>,
        /// Warnings printed beside the part.
        flags: Vec<String>,
    },
}

impl Part {
    /// An interval part.
    pub fn interval(what: impl Into<String>, rule: Rule, values: Vec<f64>) -> Part {
        Part::Interval {
            what: what.into(),
            rule,
            values,
            flags: Vec::new(),
        }
    }

    /// How many intervals this part adds to the claim's correction.
    fn intervals(&self) -> usize {
        match self {
            Part::Interval { values, .. } => {
                usize::from(values.iter().filter(|v| v.is_finite()).count() >= 2)
            }
            Part::Ranking { names, .. } => names.len() * names.len().saturating_sub(1),
            Part::Correlation { first, .. } => usize::from(first.len() >= 5),
            Part::Universal { .. } | Part::Elsewhere { .. } => 0,
        }
    }
}

/// One judged part of a claim.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimPart {
    /// What was measured.
    pub what: String,
    /// The rule of an interval part.
    pub rule: Option<Rule>,
    /// Its estimate over seeds (interval parts, at the claim's level).
    pub estimate: Option<Estimate>,
    /// The per-seed values behind the estimate (interval parts), so that a
    /// reader can recompute it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<f64>,
    /// The earlier part (index) whose values are the same as this one's to
    /// rounding ([`SAME_TO_ROUNDING`]): it is shown, but counted once in the
    /// correction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<usize>,
    /// Interval parts with an "at least δ" rule: the seeds whose value is
    /// positive (the candidate did better), and the seeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub better_runs: Option<(usize, usize)>,
    /// A universal part: (violating runs, runs).
    pub violations: Option<(usize, usize)>,
    /// A universal part: the seeds its runs come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_seeds: Option<usize>,
    /// A universal part: its threshold, tolerance and worst run in words.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub margin: String,
    /// Warnings about the part (e.g. a grid edge chosen).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The pairs of a ranking part.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<PairResult>,
    /// The part's verdict.
    pub verdict: Verdict,
}

/// A judged claim.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// `C1`, `H2a`, ….
    pub id: String,
    /// The claim in words.
    pub text: String,
    /// The overall verdict (the parts combined as `combine` says).
    pub verdict: Verdict,
    /// The verdict in the study's words.
    pub label: &'static str,
    /// The measurements behind it.
    pub parts: Vec<ClaimPart>,
    /// A mixed verdict's two sides: the parts significantly in the claimed
    /// direction and those significantly against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sides: Option<Sides>,
    /// Seeds behind it: the smallest count over its intervals (for a claim
    /// of universal parts only, the seeds of their runs).
    pub seeds: usize,
    /// The rule with its margin and why.
    pub rule: String,
    /// How the parts combine.
    pub combine: Combine,
    /// The confidence level of each interval.
    pub level: f64,
    /// The error rate its verdict controls.
    pub error_rate: String,
    /// Context.
    pub note: String,
}

/// The two sides of a mixed verdict, by part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sides {
    /// Parts whose effect is significantly in the claimed direction
    /// (interval above 0).
    pub positive: Vec<String>,
    /// Parts whose effect is significantly against it (interval below 0).
    pub negative: Vec<String>,
}

/// The verdict of judged `parts` combined as `how` says, with one addition
/// the combination rules cannot see: when the parts measure one effect
/// (`same_effect`) and some "at least δ" part is significantly positive
/// while another is significantly negative (beyond [`ROUNDING_FLOOR`]), the
/// verdict is [`Verdict::Mixed`] and both sides are named. No correction of
/// its own is needed: a false "mixed" needs a wrong sign from one of the
/// claim's corrected two-sided intervals.
pub fn verdict_of(
    how: Combine,
    same_effect: bool,
    parts: &[&ClaimPart],
) -> (Verdict, Option<Sides>) {
    let side = |positive: bool| -> Vec<String> {
        parts
            .iter()
            .filter(|p| matches!(p.rule, Some(Rule::AtLeast { .. })))
            .filter(|p| {
                p.estimate.is_some_and(|e| {
                    if positive {
                        e.ci_low > ROUNDING_FLOOR
                    } else {
                        e.ci_high < -ROUNDING_FLOOR
                    }
                })
            })
            .map(|p| p.what.clone())
            .collect()
    };
    let (positive, negative) = (side(true), side(false));
    if same_effect && !positive.is_empty() && !negative.is_empty() {
        return (Verdict::Mixed, Some(Sides { positive, negative }));
    }
    let verdicts: Vec<Verdict> = parts.iter().map(|p| p.verdict).collect();
    (combine(how, &verdicts), None)
}

impl Statement {
    /// Judges `parts`: parts with the same values to rounding are counted
    /// once;
    /// every interval at the Bonferroni level over the claim's distinct
    /// intervals, each part by its rule, the claim by [`verdict_of`];
    /// `words` names the verdict in the study's language.
    pub fn judge(self, parts: Vec<Part>, words: fn(Verdict) -> &'static str) -> Claim {
        let same_as = duplicates(&parts);
        let intervals: usize = parts
            .iter()
            .zip(&same_as)
            .filter(|(_, same)| same.is_none())
            .map(|(p, _)| p.intervals())
            .sum();
        let universal = parts.iter().any(|p| matches!(p, Part::Universal { .. }));
        let level = bonferroni_level(intervals);
        let judged: Vec<ClaimPart> = parts
            .into_iter()
            .zip(same_as)
            .map(|(p, same)| ClaimPart {
                same_as: same,
                ..judge_part(p, level)
            })
            .collect();
        let (verdict, sides) = verdict_of(
            self.combine,
            self.same_effect,
            &judged.iter().collect::<Vec<_>>(),
        );
        let duplicates = judged.iter().filter(|p| p.same_as.is_some()).count();
        let counted = if duplicates > 0 {
            format!("; {duplicates} part(s) equal to an earlier one to rounding counted once")
        } else {
            String::new()
        };
        let runs = if universal {
            "; its universal parts count violating runs (no interval)"
        } else {
            ""
        };
        let error_rate = if intervals > 1 {
            format!("family-wise 5 % over its {intervals} distinct intervals (Bonferroni: each uses a {:.2} % interval{counted}){runs}", 100.0 * level)
        } else if intervals == 1 {
            format!("5 % (one 95 % interval{counted}){runs}")
        } else if universal {
            "none: a count of violating runs".to_string()
        } else {
            "none: measured elsewhere".to_string()
        };
        Claim {
            id: self.id,
            text: self.text,
            verdict,
            label: words(verdict),
            seeds: seeds_behind(&judged),
            sides,
            parts: judged,
            rule: self.rule,
            combine: self.combine,
            level,
            error_rate,
            note: self.note,
        }
    }
}

/// The smallest seed count over a claim's intervals, else over its
/// universal parts' runs; 0 when nothing ran.
fn seeds_behind(parts: &[ClaimPart]) -> usize {
    parts
        .iter()
        .flat_map(|p| {
            let pair_estimates = p.pairs.iter().flat_map(|q| q.first.iter().chain(&q.second));
            let universal = p.violations.filter(|&(_, runs)| runs > 0).and(p.run_seeds);
            p.estimate
                .iter()
                .chain(pair_estimates)
                .map(|e| e.n)
                .chain(universal)
        })
        .min()
        .unwrap_or(0)
}

/// Two parts are the same measurement when every per-seed value agrees to
/// this relative difference: the same method computed along two
/// mathematically equal paths (the tied model's STE and residual
/// projection) differs only by rounding, about 10⁻¹³.
pub const SAME_TO_ROUNDING: f64 = 1e-9;

/// For each part, the first earlier interval part with the same rule and the
/// same values to rounding, if any.
fn duplicates(parts: &[Part]) -> Vec<Option<usize>> {
    fn interval(p: &Part) -> Option<(Rule, &[f64])> {
        match p {
            Part::Interval { rule, values, .. } if !values.is_empty() => {
                Some((*rule, values.as_slice()))
            }
            _ => None,
        }
    }
    let same = |a: &[f64], b: &[f64]| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                (x - y).abs() <= SAME_TO_ROUNDING * x.abs().max(y.abs()).max(f64::MIN_POSITIVE)
            })
    };
    (0..parts.len())
        .map(|i| {
            let (rule, values) = interval(&parts[i])?;
            (0..i).find(|&j| interval(&parts[j]).is_some_and(|(r, v)| r == rule && same(v, values)))
        })
        .collect()
}

fn judge_part(part: Part, level: f64) -> ClaimPart {
    let empty = |what: String, verdict: Verdict| ClaimPart {
        what,
        rule: None,
        estimate: None,
        values: Vec::new(),
        same_as: None,
        margin: String::new(),
        flags: Vec::new(),
        better_runs: None,
        violations: None,
        pairs: Vec::new(),
        verdict,
        run_seeds: None,
    };
    match part {
        Part::Interval {
            what,
            rule,
            values,
            mut flags,
        } => {
            let all = values.len();
            let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
            if values.len() < all {
                flags.push(format!(
                    "{} non-finite value(s) of {all} left out",
                    all - values.len()
                ));
            }
            // An interval needs two seeds: fewer is "not run".
            let estimate = (values.len() >= 2)
                .then(|| Estimate::at_level(&values, level))
                .flatten();
            let better_runs = matches!(rule, Rule::AtLeast { .. })
                .then(|| (values.iter().filter(|v| **v > 0.0).count(), values.len()));
            ClaimPart {
                rule: Some(rule),
                verdict: estimate.as_ref().map_or(Verdict::NotRun, |e| rule.judge(e)),
                estimate,
                values,
                flags,
                better_runs,
                ..empty(what, Verdict::NotRun)
            }
        }
        Part::Ranking {
            what,
            names,
            first,
            second,
            delta,
        } => {
            let (pairs, verdict) = judge_ranking(&names, &first, &second, level, delta);
            ClaimPart {
                pairs,
                ..empty(what, verdict)
            }
        }
        Part::Universal {
            what,
            violations,
            runs,
            seeds,
            margin,
        } => ClaimPart {
            violations: Some((violations, runs)),
            run_seeds: Some(seeds),
            margin,
            ..empty(what, universal(violations, runs))
        },
        Part::Elsewhere { what } => empty(what, Verdict::NotRun),
        Part::Correlation {
            what,
            rule,
            first,
            second,
            flags,
        } => {
            let estimate = crate::study::stats::spearman_estimate(&first, &second, level);
            ClaimPart {
                rule: Some(rule),
                verdict: estimate.as_ref().map_or(Verdict::NotRun, |e| rule.judge(e)),
                estimate,
                flags,
                ..empty(what, Verdict::NotRun)
            }
        }
    }
}

#[cfg(test)]
mod tests;
