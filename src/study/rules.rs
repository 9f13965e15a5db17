//! The verdict rules every study shares: how the parts of a claim combine,
//! gains paired by seed and judged against a margin δ, and rankings judged
//! by pairs (the words and the margins are each study's; see
//! `docs/ARCHITECTURE.md`).
use serde::Serialize;

use super::stats::{percent_gain, Estimate, Verdict};

/// How the parts of a hypothesis combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// A claim about every part: not supported if any part is not, supported
    /// only if every part is.
    All,
    /// A claim that some part holds: supported if any part is; else not run
    /// if a part was not run (it could still hold); else not significant if
    /// any part is; else real but below δ if any part is; else not
    /// supported.
    Any,
}

/// The one margin of every "gain over a reference" claim, REPORT.md's and
/// FUTURE.md's alike, in % of the reference's recon: the smallest gain of
/// interest.
pub const GAIN_MARGIN_PERCENT: f64 = 0.5;

/// Why [`GAIN_MARGIN_PERCENT`] is what it is, in the reports' words.
pub const GAIN_MARGIN_WHY: &str = "a third of the smallest gain the report calls its result (1.3 %, C2); a smaller gain that is real is reported as such (\"real but below δ\"), never as no gain";

/// Combines part verdicts as `combine` says.
pub fn combine(how: Combine, parts: &[Verdict]) -> Verdict {
    match how {
        Combine::All => Verdict::combine(parts.iter().copied()),
        Combine::Any => {
            let any = |v: Verdict| parts.contains(&v);
            if parts.is_empty() {
                Verdict::NotRun
            } else if any(Verdict::Reproduced) {
                Verdict::Reproduced
            } else if any(Verdict::NotRun) {
                // A part not run could still hold.
                Verdict::NotRun
            } else if any(Verdict::NotSignificant) {
                Verdict::NotSignificant
            } else if any(Verdict::BelowMargin) {
                Verdict::BelowMargin
            } else {
                Verdict::NotReproduced
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

/// What happened to one pair in a ranking part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairOrder {
    /// Opposite orders in the two settings, each beyond δ.
    Swaps,
    /// Significantly opposite orders (intervals on opposite sides of 0),
    /// but not both beyond δ: a real swap smaller than the margin.
    SwapsBelowMargin,
    /// A swap larger than δ either way is excluded.
    Keeps,
    /// Neither.
    Undetermined,
}

/// The swap rule on two intervals of a pair's difference, with margin
/// `delta` (percent), symmetric: the pair *swaps* when one interval lies
/// below −δ and the other above δ (a swap needs the margin too); it *keeps
/// its order* when a swap beyond δ either way is excluded; otherwise
/// undetermined.
pub fn pair_order(first: &Estimate, second: &Estimate, delta: f64) -> PairOrder {
    let d = delta;
    let floor = super::stats::ROUNDING_FLOOR;
    if (first.ci_high < -d && second.ci_low > d) || (first.ci_low > d && second.ci_high < -d) {
        PairOrder::Swaps
    } else if (first.ci_high < -floor && second.ci_low > floor)
        || (first.ci_low > floor && second.ci_high < -floor)
    {
        PairOrder::SwapsBelowMargin
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
    /// The common scale of both settings' differences: b's mean in the
    /// first setting.
    pub scale: Option<f64>,
    /// 100 · (a − b) / scale in the first setting.
    pub first: Option<Estimate>,
    /// The same in the second setting.
    pub second: Option<Estimate>,
    /// The per-seed differences behind `first`.
    pub first_values: Vec<f64>,
    /// The per-seed differences behind `second`.
    pub second_values: Vec<f64>,
    /// The rule's answer.
    pub order: PairOrder,
}

/// The verdict of a ranking part from per-seed values of each entity in the
/// two settings (same entity order), at confidence `level` per interval.
/// Each pair's differences a − b are in % of one scale for both settings
/// (b's mean in the first), so that δ means the same absolute gap in both
/// (a relative difference would let a noisier setting's larger values
/// stretch it).
pub fn judge_ranking(
    names: &[String],
    first: &[Vec<Option<f64>>],
    second: &[Vec<Option<f64>>],
    level: f64,
    delta: f64,
) -> (Vec<PairResult>, Verdict) {
    let mut pairs = Vec::new();
    let n = names.len();
    let diffs = |values: &[Vec<Option<f64>>], a: usize, b: usize, scale: f64| -> Vec<f64> {
        values[a]
            .iter()
            .zip(&values[b])
            .filter_map(|(x, y)| match (x, y) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                    Some(100.0 * (x - y) / scale)
                }
                _ => None,
            })
            .collect()
    };
    let estimate = |values: &[f64]| {
        (values.len() >= 2).then(|| Estimate::at_level(values, level).expect("finite"))
    };
    for a in 0..n {
        for b in a + 1..n {
            let present: Vec<f64> = first[b]
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            let scale = (!present.is_empty())
                .then(|| present.iter().sum::<f64>() / present.len() as f64)
                .filter(|m| *m != 0.0);
            let (first_values, second_values) = match scale {
                Some(scale) => (diffs(first, a, b, scale), diffs(second, a, b, scale)),
                None => (Vec::new(), Vec::new()),
            };
            let (f, s) = (estimate(&first_values), estimate(&second_values));
            let order = match (&f, &s) {
                (Some(f), Some(s)) => pair_order(f, s, delta),
                _ => PairOrder::Undetermined,
            };
            pairs.push(PairResult {
                a: names[a].clone(),
                b: names[b].clone(),
                scale,
                first: f,
                second: s,
                first_values,
                second_values,
                order,
            });
        }
    }
    let count = |o: PairOrder| pairs.iter().filter(|p| p.order == o).count();
    let missing = pairs
        .iter()
        .any(|p| p.first.is_none() || p.second.is_none());
    let verdict = if count(PairOrder::Swaps) > 0 {
        Verdict::Reproduced
    } else if pairs.is_empty() || missing {
        Verdict::NotRun
    } else if count(PairOrder::Keeps) == pairs.len() {
        Verdict::NotReproduced
    } else if count(PairOrder::SwapsBelowMargin) > 0 && count(PairOrder::Undetermined) == 0 {
        Verdict::BelowMargin
    } else {
        Verdict::NotSignificant
    };
    (pairs, verdict)
}
