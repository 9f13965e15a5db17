//! The verdict rules every study shares: how the parts of a claim combine,
//! gains paired by seed and judged against a margin δ, and rankings judged
//! by pairs (the words and the margins are each study's; see
//! `docs/ARCHITECTURE.md`).
use serde::Serialize;

use super::stats::{percent_gain, Estimate, Rule, Verdict};

/// How the parts of a hypothesis combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// A claim about every part: not supported if any part is not, supported
    /// only if every part is.
    All,
    /// A claim that some part holds: supported if any part is, not supported
    /// only if every part is not.
    Any,
}

/// Combines part verdicts as `combine` says.
pub fn combine(how: Combine, parts: &[Verdict]) -> Verdict {
    match how {
        Combine::All => Verdict::combine(parts.iter().copied()),
        Combine::Any => {
            if parts.is_empty() || parts.iter().all(|&v| v == Verdict::NotRun) {
                Verdict::NotRun
            } else if parts.contains(&Verdict::Reproduced) {
                Verdict::Reproduced
            } else if parts.iter().all(|&v| v == Verdict::NotReproduced) {
                Verdict::NotReproduced
            } else {
                Verdict::NotSignificant
            }
        }
    }
}

/// 100 · (reference − candidate) / reference for every seed where both ran.
pub fn paired_gain(candidate: &[Option<f64>], reference: &[Option<f64>]) -> Vec<f64> {
    candidate
        .iter()
        .zip(reference)
        .filter_map(|(c, r)| match (c, r) {
            (Some(c), Some(r)) if *r != 0.0 => Some(percent_gain(*r, *c)),
            _ => None,
        })
        .collect()
}

/// The estimate and verdict of a gain part at confidence `level`, judged by
/// [`Rule::AtLeast`] with margin `delta` (percent).
pub fn judge_gain(gains: &[f64], level: f64, delta: f64) -> (Option<Estimate>, Verdict) {
    if gains.len() < 2 {
        return (None, Verdict::NotRun);
    }
    let e = Estimate::at_level(gains, level).expect("two or more finite values");
    (Some(e), Rule::AtLeast { delta }.judge(&e))
}

/// What happened to one pair in a ranking part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairOrder {
    /// Significantly opposite orders in the two settings.
    Swaps,
    /// A swap larger than δ either way is excluded.
    Keeps,
    /// Neither.
    Undetermined,
}

/// The swap rule on two intervals of a pair's relative difference, with
/// margin `delta` (percent).
pub fn pair_order(first: &Estimate, second: &Estimate, delta: f64) -> PairOrder {
    let d = delta;
    if (first.ci_high < 0.0 && second.ci_low > 0.0) || (first.ci_low > 0.0 && second.ci_high < 0.0)
    {
        PairOrder::Swaps
    } else if !((first.ci_low < -d && second.ci_high > d)
        || (first.ci_high > d && second.ci_low < -d))
    {
        PairOrder::Keeps
    } else {
        PairOrder::Undetermined
    }
}

/// One pair of a ranking part.
#[derive(Debug, Clone, Serialize)]
pub struct PairResult {
    /// Entity a.
    pub a: String,
    /// Entity b.
    pub b: String,
    /// 100 · (a − b) / b in the first setting.
    pub first: Option<Estimate>,
    /// The same in the second setting.
    pub second: Option<Estimate>,
    /// The rule's answer.
    pub order: PairOrder,
}

/// The verdict of a ranking part from per-seed values of each entity in the
/// two settings (same entity order), at confidence `level` per interval.
pub fn judge_ranking(
    names: &[String],
    first: &[Vec<Option<f64>>],
    second: &[Vec<Option<f64>>],
    level: f64,
    delta: f64,
) -> (Vec<PairResult>, Verdict) {
    let mut pairs = Vec::new();
    let n = names.len();
    let rel = |values: &[Vec<Option<f64>>], a: usize, b: usize| -> Option<Estimate> {
        let diffs: Vec<f64> = values[a]
            .iter()
            .zip(&values[b])
            .filter_map(|(x, y)| match (x, y) {
                (Some(x), Some(y)) if *y != 0.0 => Some(100.0 * (x - y) / y),
                _ => None,
            })
            .collect();
        (diffs.len() >= 2).then(|| Estimate::at_level(&diffs, level).expect("finite"))
    };
    for a in 0..n {
        for b in a + 1..n {
            let (f, s) = (rel(first, a, b), rel(second, a, b));
            let order = match (&f, &s) {
                (Some(f), Some(s)) => pair_order(f, s, delta),
                _ => PairOrder::Undetermined,
            };
            pairs.push(PairResult {
                a: names[a].clone(),
                b: names[b].clone(),
                first: f,
                second: s,
                order,
            });
        }
    }
    let verdict = if pairs
        .iter()
        .any(|p| p.first.is_none() || p.second.is_none())
    {
        Verdict::NotRun
    } else if pairs.iter().any(|p| p.order == PairOrder::Swaps) {
        Verdict::Reproduced
    } else if pairs.iter().all(|p| p.order == PairOrder::Keeps) {
        Verdict::NotReproduced
    } else {
        Verdict::NotSignificant
    };
    (pairs, verdict)
}
