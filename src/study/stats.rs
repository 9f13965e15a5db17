//! Seed statistics and the verdict rules, written once.
//!
//! * [`Estimate`]: mean, standard deviation and a Student-t interval of the
//!   mean over seeds (95 % unless a claim's correction asks for more), and
//!   the prediction interval for one new run, mean ± t·s·√(1 + 1/n) — the
//!   right comparison for the report's numbers, which are single runs.
//! * [`Rule`]: how an effect claim is judged from an interval:
//!   - `Band` (the quantity lies in [lo, hi]): *reproduced* when the interval
//!     lies inside the band, *not reproduced* when it is disjoint from it,
//!     *not significant* otherwise;
//!   - `AtLeast` (an effect of at least δ in the claimed direction, δ the
//!     smallest effect of interest), three outcomes: *reproduced* when the
//!     interval lies at or above δ; *real but below δ* when it lies strictly
//!     between 0 and δ (a real effect in the claimed direction, smaller than
//!     the margin; "above 0" means above [`ROUNDING_FLOOR`]); *not
//!     reproduced* when it lies at or below δ and reaches 0 or below (no
//!     effect shown, an effect equivalent to zero, or one in the wrong
//!     direction); *not significant* otherwise;
//!   - `AtMost` (the quantity is at most a bound): *reproduced* when the
//!     interval lies at or below the bound, *not reproduced* when it lies
//!     above it, *not significant* otherwise.
//! * [`universal`]: a claim about every run ("zero dead codes", "improves
//!   monotonically") counts violating runs; one violation refutes it; none
//!   in runs from s seeds bounds the per-seed violation rate below 3/s at
//!   95 % (rule of three; runs of one seed are not independent, so the seeds
//!   count, not the runs).
//! * Error rates: the parts of one claim share a family-wise error rate of
//!   5 % (Bonferroni: each of p interval parts uses a 1 − 0.05/p interval);
//!   there is no correction across claims.
//! * A part without data (its experiment not run, or every run failed) is
//!   *not run*, never a verdict at n = 0.
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// A quantity measured once per seed: mean, standard deviation and a
/// Student-t interval.
///
/// ```
/// use vqlab::study::stats::Estimate;
/// let e = Estimate::of(&[1.0, 2.0, 3.0]).unwrap();
/// assert_eq!(e.mean, 2.0);
/// assert!(e.ci_low < 2.0 && e.ci_high > 2.0);
/// assert!(Estimate::of(&[]).is_none()); // nothing measured
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Seeds behind it.
    pub n: usize,
    /// Mean over seeds.
    pub mean: f64,
    /// Sample standard deviation (0 for one seed).
    pub std: f64,
    /// Lower end of the confidence interval of the mean.
    pub ci_low: f64,
    /// Upper end of the confidence interval of the mean.
    pub ci_high: f64,
    /// The interval's confidence level (0.95 unless corrected).
    #[serde(default = "default_level")]
    pub level: f64,
}

fn default_level() -> f64 {
    0.95
}

/// The two-sided Student-t quantile for `level` with `n − 1` degrees of
/// freedom.
fn t_quantile(n: usize, level: f64) -> f64 {
    StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .map(|d| d.inverse_cdf(1.0 - (1.0 - level) / 2.0))
        .unwrap_or(1.96)
}

impl Estimate {
    /// The 95 % estimate of `values` (one per seed). Non-finite values are
    /// not allowed: a failed run is left out by the caller and counted.
    pub fn of(values: &[f64]) -> Option<Self> {
        Self::at_level(values, 0.95)
    }

    /// The estimate of `values` with a `level` confidence interval.
    pub fn at_level(values: &[f64], level: f64) -> Option<Self> {
        let n = values.len();
        if n == 0 || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Some(Estimate {
                n,
                mean,
                std: 0.0,
                ci_low: f64::NEG_INFINITY,
                ci_high: f64::INFINITY,
                level,
            });
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = var.sqrt();
        let half = t_quantile(n, level) * std / (n as f64).sqrt();
        Some(Estimate {
            n,
            mean,
            std,
            ci_low: mean - half,
            ci_high: mean + half,
            level,
        })
    }

    /// The 95 % prediction interval for one new run:
    /// mean ± t_{n−1} · s · √(1 + 1/n) (unbounded for one seed).
    pub fn prediction_interval(&self) -> (f64, f64) {
        if self.n < 2 {
            return (f64::NEG_INFINITY, f64::INFINITY);
        }
        let half = t_quantile(self.n, 0.95) * self.std * (1.0 + 1.0 / self.n as f64).sqrt();
        (self.mean - half, self.mean + half)
    }

    /// (value − mean) / std: how many seed standard deviations `value` lies
    /// from the mean (None without spread).
    pub fn seed_std_from(&self, value: f64) -> Option<f64> {
        (self.std > 0.0).then(|| (value - self.mean) / self.std)
    }
}

/// The answer to "did it reproduce?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The claim holds in the measurements.
    Reproduced,
    /// An "at least δ" claim: the effect is real and in the claimed
    /// direction, but smaller than δ (the interval lies strictly between 0
    /// and δ). Never filed with "no effect".
    BelowMargin,
    /// The measurements contradict the claim.
    NotReproduced,
    /// The seeds cannot tell.
    NotSignificant,
    /// A claim whose parts are significantly opposite: some effect is
    /// significantly positive, another significantly negative.
    Mixed,
    /// No data: the experiment behind it was not run (or every run failed),
    /// or the quantity is measured elsewhere.
    NotRun,
}

impl Verdict {
    /// The words used in REPORT.md.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::BelowMargin => "real but below δ",
            Verdict::NotReproduced => "not reproduced",
            Verdict::NotSignificant => "not significant",
            Verdict::Mixed => "mixed",
            Verdict::NotRun => "not run",
        }
    }

    /// The verdict of a claim that every part holds: not reproduced if any
    /// part is, or if some part is real but below δ while another is not
    /// shown at least δ (the below-δ part already refutes "every part ≥ δ");
    /// real but below δ if every part is that or reproduced; else not
    /// significant if any part is; else not run if any part (or every part:
    /// no parts) was not run; else reproduced. (A part is never `Mixed`;
    /// that is a claim's verdict, see [`crate::study::claim`].)
    pub fn combine(parts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let parts: Vec<Verdict> = parts.into_iter().collect();
        let any = |v: Verdict| parts.contains(&v);
        if parts.is_empty() {
            Verdict::NotRun
        } else if any(Verdict::NotReproduced) || any(Verdict::Mixed) {
            Verdict::NotReproduced
        } else if any(Verdict::BelowMargin) {
            if parts
                .iter()
                .all(|v| matches!(v, Verdict::Reproduced | Verdict::BelowMargin))
            {
                Verdict::BelowMargin
            } else {
                Verdict::NotReproduced
            }
        } else if any(Verdict::NotSignificant) {
            Verdict::NotSignificant
        } else if any(Verdict::NotRun) {
            Verdict::NotRun
        } else {
            Verdict::Reproduced
        }
    }
}

/// Interval ends within this distance of 0 are rounding, not a sign: an
/// effect is significantly positive only when its interval's low end
/// exceeds it (two computations of one quantity differ by about 10⁻¹³).
pub const ROUNDING_FLOOR: f64 = 1e-9;

/// How an effect claim is judged from an interval (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// The quantity lies in [lo, hi].
    Band {
        /// Lower end of the claimed band.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// An effect of at least δ in the claimed (positive) direction.
    AtLeast {
        /// The smallest effect of interest δ.
        delta: f64,
    },
    /// The quantity is at most `max`.
    AtMost {
        /// The bound.
        max: f64,
    },
}

impl Rule {
    /// The verdict of `e` under this rule.
    pub fn judge(&self, e: &Estimate) -> Verdict {
        let (lo, hi) = (e.ci_low, e.ci_high);
        match *self {
            Rule::Band { lo: a, hi: b } => {
                if lo >= a && hi <= b {
                    Verdict::Reproduced
                } else if hi < a || lo > b {
                    Verdict::NotReproduced
                } else {
                    Verdict::NotSignificant
                }
            }
            Rule::AtLeast { delta } => {
                if lo >= delta {
                    Verdict::Reproduced
                } else if lo > ROUNDING_FLOOR && hi < delta {
                    Verdict::BelowMargin
                } else if lo <= ROUNDING_FLOOR && hi <= delta {
                    Verdict::NotReproduced
                } else {
                    Verdict::NotSignificant
                }
            }
            Rule::AtMost { max } => {
                if hi <= max {
                    Verdict::Reproduced
                } else if lo > max {
                    Verdict::NotReproduced
                } else {
                    Verdict::NotSignificant
                }
            }
        }
    }

    /// The rule in words, for the report.
    pub fn describe(&self) -> String {
        match *self {
            Rule::Band { lo, hi } => format!("in [{lo}, {hi}]"),
            Rule::AtLeast { delta } => format!("≥ δ = {delta}"),
            Rule::AtMost { max } => format!("≤ {max}"),
        }
    }
}

/// The verdict of a claim about every run: not reproduced by one violating
/// run, reproduced with none, not run without runs.
pub fn universal(violations: usize, runs: usize) -> Verdict {
    if runs == 0 {
        Verdict::NotRun
    } else if violations > 0 {
        Verdict::NotReproduced
    } else {
        Verdict::Reproduced
    }
}

/// The confidence level each of `parts` interval parts uses so that their
/// family-wise error rate is 5 % (Bonferroni).
pub fn bonferroni_level(parts: usize) -> f64 {
    1.0 - 0.05 / parts.max(1) as f64
}

/// The gain of `candidate` over `reference` in percent of the reference:
/// 100 · (reference − candidate) / reference (positive: the candidate is
/// lower, i.e. better for an error). The one definition every study's gain
/// claims and tables use.
///
/// ```
/// assert_eq!(vqlab::study::stats::percent_gain(4.0, 3.0), 25.0);
/// ```
pub fn percent_gain(reference: f64, candidate: f64) -> f64 {
    100.0 * (reference - candidate) / reference
}

/// `text` with every negative zero a rounding printed (`-0.0000`,
/// `-0.00 %`, `[-0.000,`) written without its sign: a figure rounded to
/// zero has no direction. Any other number is left as it is.
///
/// ```
/// use vqlab::study::stats::no_negative_zero;
/// assert_eq!(no_negative_zero("spread -0.0000, gain -0.012, [-0.00, 1]"),
///            "spread 0.0000, gain -0.012, [0.00, 1]");
/// ```
pub fn no_negative_zero(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let c = bytes[i];
        let starts_number =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'.');
        if c == b'-' && starts_number {
            // The number after the sign: digits and at most one point.
            let rest = &bytes[i + 1..];
            let len = rest
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b'.')
                .count();
            let number = &text[i + 1..i + 1 + len];
            let is_zero = !number.is_empty()
                && number.bytes().any(|b| b.is_ascii_digit())
                && number.bytes().all(|b| b == b'0' || b == b'.');
            let followed_by_exponent = rest.get(len).is_some_and(|b| *b == b'e' || *b == b'E');
            if is_zero && !followed_by_exponent {
                i += 1; // drop the sign
                continue;
            }
        }
        let ch = text[i..].chars().next().expect("inside the text");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Ranks 1 … n of `values`, ties given their average rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            out[o] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation of `a` and `b` (Pearson's on the ranks,
/// ties averaged); `None` with fewer than three pairs or a constant side.
///
/// ```
/// use vqlab::study::stats::spearman;
/// assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), Some(1.0));
/// assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
/// ```
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 3 {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let mean = (a.len() as f64 + 1.0) / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        sab += (x - mean) * (y - mean);
        saa += (x - mean) * (x - mean);
        sbb += (y - mean) * (y - mean);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// Spearman's ρ of the pairs (`a`, `b`) with its Fisher-z interval at
/// `level`: atanh ρ ± z · √((1 + ρ²/2)/(n − 3)) (Bonett & Wright 2000,
/// "Sample size requirements for estimating Pearson, Kendall and Spearman
/// correlations", Psychometrika 65: 23–28), as an [`Estimate`] over the n
/// pairs (`std` is the z-scale standard error). `None` with fewer than
/// five pairs (the approximation is rough below that) or a constant side.
/// |ρ| = 1 is taken as 1 − 1e-9: a perfect ordering's interval is [ρ, ρ]
/// to rounding.
///
/// ```
/// use vqlab::study::stats::spearman_estimate;
/// let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
/// let b = [2.0, 1.0, 4.0, 3.0, 6.0, 5.0, 7.0];
/// let e = spearman_estimate(&a, &b, 0.95).unwrap();
/// assert!((e.mean - 0.892_857_142_857_142_9).abs() < 1e-12);
/// // ρ = 0.89 over seven pairs: the interval [0.26, 0.98] excludes 0 but
/// // not 0.3.
/// assert!(e.ci_low > 0.0 && e.ci_low < 0.3 && e.ci_high < 1.0);
/// assert!(spearman_estimate(&a[..4], &b[..4], 0.95).is_none());
/// ```
pub fn spearman_estimate(a: &[f64], b: &[f64], level: f64) -> Option<Estimate> {
    let n = a.len();
    if n < 5 {
        return None;
    }
    let rho = spearman(a, b)?;
    let clamped = rho.clamp(-1.0 + 1e-9, 1.0 - 1e-9);
    let se = ((1.0 + rho * rho / 2.0) / (n as f64 - 3.0)).sqrt();
    let z = Normal::new(0.0, 1.0)
        .map(|d| d.inverse_cdf(1.0 - (1.0 - level) / 2.0))
        .unwrap_or(1.96);
    let centre = clamped.atanh();
    Some(Estimate {
        n,
        mean: rho,
        std: se,
        ci_low: (centre - z * se).tanh(),
        ci_high: (centre + z * se).tanh(),
        level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_uses_the_t_interval() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(e.mean, 2.5);
        assert!((e.std - 1.2909944487358056).abs() < 1e-12);
        // t_{0.975, 3} = 3.182446305284263
        let half = 3.182446305284263 * e.std / 2.0;
        assert!((e.ci_high - 2.5 - half).abs() < 1e-9);
        // The prediction interval for one run is √(1 + n) times wider.
        let (lo, hi) = e.prediction_interval();
        assert!(
            (hi - 2.5 - half * 5f64.sqrt()).abs() < 1e-9 && (2.5 - lo - (hi - 2.5)).abs() < 1e-12
        );
        assert!((e.seed_std_from(2.5 + e.std).unwrap() - 1.0).abs() < 1e-12);
        // A Bonferroni level widens the interval: t_{0.99375, 3} > t_{0.975, 3}.
        let wide = Estimate::at_level(&[1.0, 2.0, 3.0, 4.0], bonferroni_level(4)).unwrap();
        assert!(wide.ci_high > e.ci_high && wide.level == 0.9875);
        assert!(Estimate::of(&[]).is_none());
        assert!(Estimate::of(&[1.0, f64::NAN]).is_none());
        let one = Estimate::of(&[5.0]).unwrap();
        assert!(one.ci_low.is_infinite());
    }

    #[test]
    fn an_exactly_zero_effect_does_not_reproduce_a_positive_claim() {
        let delta = Rule::AtLeast { delta: 0.5 };
        // Exactly zero, no spread.
        let zero = Estimate::of(&[0.0, 0.0, 0.0]).unwrap();
        assert_eq!(delta.judge(&zero), Verdict::NotReproduced);
        // Rounding noise around zero, either sign: equivalent to zero.
        for noise in [[1e-13, -2e-13, 0.5e-13], [-1e-13, 2e-13, -0.5e-13]] {
            let e = Estimate::of(&noise).unwrap();
            assert_eq!(delta.judge(&e), Verdict::NotReproduced);
        }
        // Clearly beyond δ.
        let clear = Estimate::of(&[1.0, 1.1, 0.9, 1.05, 0.95]).unwrap();
        assert_eq!(delta.judge(&clear), Verdict::Reproduced);
        // The wrong direction.
        let negative = Estimate::of(&[-1.0, -1.1, -0.9]).unwrap();
        assert_eq!(delta.judge(&negative), Verdict::NotReproduced);
        // Straddling δ.
        let border = Estimate::of(&[0.9, 0.1, 0.8, 0.2]).unwrap();
        assert_eq!(delta.judge(&border), Verdict::NotSignificant);
        // A single seed never establishes anything.
        assert_eq!(
            delta.judge(&Estimate::of(&[3.0]).unwrap()),
            Verdict::NotSignificant
        );
    }

    #[test]
    fn band_and_bound_claims() {
        let band = Rule::Band { lo: 1.3, hi: 1.7 };
        let inside = Estimate::of(&[1.5, 1.52, 1.48, 1.5]).unwrap();
        assert_eq!(band.judge(&inside), Verdict::Reproduced);
        let outside = Estimate::of(&[0.4, 0.42, 0.38]).unwrap();
        assert_eq!(band.judge(&outside), Verdict::NotReproduced);
        let straddling = Estimate::of(&[1.2, 1.9, 1.0, 2.1]).unwrap();
        assert_eq!(band.judge(&straddling), Verdict::NotSignificant);
        let bound = Rule::AtMost { max: 0.0002 };
        assert_eq!(
            bound.judge(&Estimate::of(&[0.0, 0.0]).unwrap()),
            Verdict::Reproduced
        );
        assert_eq!(
            bound.judge(&Estimate::of(&[0.01, 0.011, 0.012]).unwrap()),
            Verdict::NotReproduced
        );
        assert_eq!(
            bound.judge(&Estimate::of(&[0.0001, 0.0004, 0.0, 0.0003]).unwrap()),
            Verdict::NotSignificant
        );
    }

    #[test]
    fn a_universal_claim_falls_to_one_violating_run() {
        assert_eq!(universal(1, 240), Verdict::NotReproduced);
        assert_eq!(universal(0, 240), Verdict::Reproduced);
        assert_eq!(universal(0, 0), Verdict::NotRun);
    }

    #[test]
    fn combining_parts() {
        use Verdict::*;
        assert_eq!(Verdict::combine([Reproduced, Reproduced]), Reproduced);
        assert_eq!(
            Verdict::combine([Reproduced, NotSignificant]),
            NotSignificant
        );
        assert_eq!(
            Verdict::combine([NotSignificant, NotReproduced, Reproduced]),
            NotReproduced
        );
        assert_eq!(Verdict::combine([Reproduced, NotRun]), NotRun);
        assert_eq!(Verdict::combine([NotRun, NotReproduced]), NotReproduced);
        assert_eq!(Verdict::combine([NotRun, NotSignificant]), NotSignificant);
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn spearman_matches_known_values() {
        // d = rank differences (0, 0, 1, −1, 0): 1 − 6 Σd²/(n(n²−1)) = 0.9.
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0, 2.0, 4.0, 3.0, 5.0]).unwrap();
        assert!((r - 0.9).abs() < 1e-12, "{r}");
        // Monotone transforms leave it unchanged.
        let x = [0.3, -1.0, 2.5, 0.7, 1.1, -0.2];
        let y: Vec<f64> = x.iter().map(|v: &f64| v.exp() * 3.0).collect();
        assert!((spearman(&x, &y).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn the_spearman_interval_covers_the_true_rank_correlation() {
        // Bivariate normal pairs with Pearson r have Spearman ρ =
        // (6/π) asin(r/2). Over 2,000 samples of 20 pairs the 95 %
        // interval covers it about 95 % of the time (binomial sd 0.5 %).
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let r: f64 = 0.6;
        let truth = 6.0 / std::f64::consts::PI * (r / 2.0).asin();
        let trials = 2000;
        let mut covered = 0;
        for _ in 0..trials {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..20 {
                let u: f64 = StandardNormal.sample(&mut rng);
                let v: f64 = StandardNormal.sample(&mut rng);
                a.push(u);
                b.push(r * u + (1.0 - r * r).sqrt() * v);
            }
            let e = spearman_estimate(&a, &b, 0.95).unwrap();
            if e.ci_low <= truth && truth <= e.ci_high {
                covered += 1;
            }
        }
        let coverage = covered as f64 / trials as f64;
        assert!((0.93..=0.975).contains(&coverage), "coverage {coverage}");
    }
}
