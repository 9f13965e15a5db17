//! Seed statistics: mean, standard deviation, Student-t 95 % interval, and
//! the three-way verdict of a measured quantity against a claim.
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A quantity measured once per seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Seeds behind it.
    pub n: usize,
    /// Mean over seeds.
    pub mean: f64,
    /// Sample standard deviation (0 for one seed).
    pub std: f64,
    /// Lower end of the 95 % confidence interval of the mean.
    pub ci_low: f64,
    /// Upper end of the 95 % confidence interval of the mean.
    pub ci_high: f64,
}

impl Estimate {
    /// The estimate of `values` (one per seed). Non-finite values are not
    /// allowed: a failed run is left out by the caller and counted.
    pub fn of(values: &[f64]) -> Option<Self> {
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
            });
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = var.sqrt();
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .map(|d| d.inverse_cdf(0.975))
            .unwrap_or(1.96);
        let half = t * std / (n as f64).sqrt();
        Some(Estimate {
            n,
            mean,
            std,
            ci_low: mean - half,
            ci_high: mean + half,
        })
    }
}

/// The answer to "did it reproduce?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The claim holds in the measurements.
    Reproduced,
    /// The measurements contradict the claim.
    NotReproduced,
    /// The difference the claim is about lies inside the seed-to-seed spread.
    NotSignificant,
}

impl Verdict {
    /// The words used in REPORT.md.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::NotReproduced => "not reproduced",
            Verdict::NotSignificant => "not significant",
        }
    }

    /// The verdict of a claim made of parts: not reproduced if any part is,
    /// else not significant if any part is, else reproduced.
    pub fn combine(parts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut out = Verdict::Reproduced;
        for v in parts {
            match v {
                Verdict::NotReproduced => return Verdict::NotReproduced,
                Verdict::NotSignificant => out = Verdict::NotSignificant,
                Verdict::Reproduced => {}
            }
        }
        out
    }
}

/// "The quantity is positive" (e.g. an improvement): reproduced when the 95 %
/// interval lies above 0, not reproduced when it lies at or below 0 (an exact
/// 0 with no spread counts: the quantity is measured to be 0), not
/// significant when the interval straddles 0.
pub fn verdict_positive(e: &Estimate) -> Verdict {
    if e.ci_low > 0.0 {
        Verdict::Reproduced
    } else if e.ci_high <= 0.0 {
        Verdict::NotReproduced
    } else {
        Verdict::NotSignificant
    }
}

/// "The quantity lies in [lo, hi]": reproduced when the 95 % interval is
/// inside the band, not reproduced when it is disjoint from it, not
/// significant when it overlaps the band only partly (the seeds cannot tell).
pub fn verdict_in_band(e: &Estimate, lo: f64, hi: f64) -> Verdict {
    if e.ci_low >= lo && e.ci_high <= hi {
        Verdict::Reproduced
    } else if e.ci_high < lo || e.ci_low > hi {
        Verdict::NotReproduced
    } else {
        Verdict::NotSignificant
    }
}

/// "The quantity is at most `bound`" (e.g. a difference below 0.02 %):
/// reproduced when the whole interval is at most the bound, not reproduced
/// when the whole interval is above it, not significant otherwise.
pub fn verdict_at_most(e: &Estimate, bound: f64) -> Verdict {
    if e.ci_high <= bound {
        Verdict::Reproduced
    } else if e.ci_low > bound {
        Verdict::NotReproduced
    } else {
        Verdict::NotSignificant
    }
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
        assert!(Estimate::of(&[]).is_none());
        assert!(Estimate::of(&[1.0, f64::NAN]).is_none());
        let one = Estimate::of(&[5.0]).unwrap();
        assert!(one.ci_low.is_infinite());
    }

    #[test]
    fn positive_claims() {
        // Clearly significant.
        let clear = Estimate::of(&[1.0, 1.1, 0.9, 1.05, 0.95]).unwrap();
        assert_eq!(verdict_positive(&clear), Verdict::Reproduced);
        // Clearly the other way.
        let negative = Estimate::of(&[-1.0, -1.1, -0.9]).unwrap();
        assert_eq!(verdict_positive(&negative), Verdict::NotReproduced);
        // Exactly zero, no spread: the claimed improvement is absent.
        let zero = Estimate::of(&[0.0, 0.0, 0.0]).unwrap();
        assert_eq!(verdict_positive(&zero), Verdict::NotReproduced);
        // Borderline: mean positive, interval across 0.
        let border = Estimate::of(&[0.3, -0.2, 0.4, -0.1]).unwrap();
        assert!(border.mean > 0.0);
        assert_eq!(verdict_positive(&border), Verdict::NotSignificant);
        // A single seed never establishes anything.
        assert_eq!(
            verdict_positive(&Estimate::of(&[3.0]).unwrap()),
            Verdict::NotSignificant
        );
    }

    #[test]
    fn band_and_bound_claims() {
        let inside = Estimate::of(&[1.5, 1.52, 1.48, 1.5]).unwrap();
        assert_eq!(verdict_in_band(&inside, 1.3, 1.7), Verdict::Reproduced);
        let outside = Estimate::of(&[0.4, 0.42, 0.38]).unwrap();
        assert_eq!(verdict_in_band(&outside, 1.3, 1.7), Verdict::NotReproduced);
        let straddling = Estimate::of(&[1.2, 1.9, 1.0, 2.1]).unwrap();
        assert_eq!(
            verdict_in_band(&straddling, 1.3, 1.7),
            Verdict::NotSignificant
        );
        assert_eq!(
            verdict_at_most(&Estimate::of(&[0.0, 0.0]).unwrap(), 0.0002),
            Verdict::Reproduced
        );
        assert_eq!(
            verdict_at_most(&Estimate::of(&[0.01, 0.011, 0.012]).unwrap(), 0.0002),
            Verdict::NotReproduced
        );
        assert_eq!(
            verdict_at_most(
                &Estimate::of(&[0.0001, 0.0004, 0.0, 0.0003]).unwrap(),
                0.0002
            ),
            Verdict::NotSignificant
        );
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
    }
}
