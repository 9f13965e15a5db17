//! The one-dimensional VQ model whose expected loss has a closed form:
//! x ~ N(0, 1), z = w·x (w > 0), two codes c₁ < c₂, decoder x̂ = v·e.
//!
//! The nearest code switches at z = (c₁ + c₂)/2, i.e. at x* = (c₁ + c₂)/(2w).
//! With φ, Φ the standard normal density and distribution function and
//! I(a, t) = ∫_{−∞}^t (x − a)² φ(x) dx = (1 + a²) Φ(t) + (2a − t) φ(t),
//!
//! J(w, c₁, c₂, v) = I(v c₁, x*) + (1 + v² c₂²) − I(v c₂, x*).
//!
//! Its gradient (docs/TRUE-GRADIENT.md): with ∂I/∂a = 2a Φ(t) + 2φ(t),
//! the region terms g₁ = 2 v c₁ Φ(x*) + 2φ(x*) (lower) and
//! g₂ = 2 v c₂ (1 − Φ(x*)) − 2φ(x*) (upper), and the boundary term
//! B = [(x* − v c₁)² − (x* − v c₂)²] φ(x*) = ∂J/∂x*,
//!
//! * ∂J/∂w = B · ∂x*/∂w = −B x*/w (w moves only the boundary: per sample the
//!   derivative is zero almost everywhere);
//! * ∂J/∂c₁ = v g₁ + B/(2w);
//! * ∂J/∂c₂ = v g₂ + B/(2w);
//! * ∂J/∂v = c₁ g₁ + c₂ g₂.
use statrs::distribution::{Continuous, ContinuousCDF, Normal};

/// The parameters of the one-dimensional model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneDim {
    /// The encoder's weight (> 0).
    pub w: f64,
    /// The lower code.
    pub c1: f64,
    /// The upper code (> c1).
    pub c2: f64,
    /// The decoder's weight.
    pub v: f64,
}

fn normal() -> Normal {
    Normal::new(0.0, 1.0).expect("the standard normal")
}

/// I(a, t) = ∫_{−∞}^t (x − a)² φ(x) dx.
fn partial_second_moment(a: f64, t: f64) -> f64 {
    let n = normal();
    (1.0 + a * a) * n.cdf(t) + (2.0 * a - t) * n.pdf(t)
}

impl OneDim {
    /// The boundary x* = (c₁ + c₂)/(2w).
    pub fn boundary(&self) -> f64 {
        (self.c1 + self.c2) / (2.0 * self.w)
    }

    /// J, the expected reconstruction error.
    pub fn objective(&self) -> f64 {
        let t = self.boundary();
        let (a1, a2) = (self.v * self.c1, self.v * self.c2);
        partial_second_moment(a1, t) + (1.0 + a2 * a2) - partial_second_moment(a2, t)
    }

    /// ∇J as (∂/∂w, ∂/∂c₁, ∂/∂c₂, ∂/∂v).
    pub fn gradient(&self) -> [f64; 4] {
        let n = normal();
        let t = self.boundary();
        let (cdf, pdf) = (n.cdf(t), n.pdf(t));
        let (a1, a2) = (self.v * self.c1, self.v * self.c2);
        let jump = ((t - a1).powi(2) - (t - a2).powi(2)) * pdf;
        // ∂J/∂a₁ (lower region) and ∂J/∂a₂ (upper region), a = v·c.
        let d_a1 = 2.0 * a1 * cdf + 2.0 * pdf;
        let d_a2 = 2.0 * a2 * (1.0 - cdf) - 2.0 * pdf;
        [
            -jump * t / self.w,
            self.v * d_a1 + jump / (2.0 * self.w),
            self.v * d_a2 + jump / (2.0 * self.w),
            self.c1 * d_a1 + self.c2 * d_a2,
        ]
    }

    /// The reconstruction error of each sample x (the nearest code, ties
    /// to the lower one).
    pub fn row_losses(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .map(|&x| {
                let z = self.w * x;
                let e = if (z - self.c1).abs() <= (z - self.c2).abs() {
                    self.c1
                } else {
                    self.c2
                };
                (x - self.v * e).powi(2)
            })
            .collect()
    }

    /// The parameters moved by `h` along coordinate `i` (w, c₁, c₂, v).
    pub fn moved(&self, i: usize, h: f64) -> OneDim {
        let mut p = *self;
        match i {
            0 => p.w += h,
            1 => p.c1 += h,
            2 => p.c2 += h,
            _ => p.v += h,
        }
        p
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::studies::gradquality::objective::central_difference;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    /// The point every one-dimensional test is at (the true-gradient tests
    /// too).
    pub(in crate::studies::gradquality) const AT: OneDim = OneDim {
        w: 0.8,
        c1: -0.6,
        c2: 1.1,
        v: 1.3,
    };

    #[test]
    fn the_closed_form_gradient_is_the_derivative_of_the_closed_form_objective() {
        let g = AT.gradient();
        for (i, &gi) in g.iter().enumerate() {
            let h = 1e-4;
            // Richardson-extrapolated central difference: O(h⁴).
            let d = |h: f64| (AT.moved(i, h).objective() - AT.moved(i, -h).objective()) / (2.0 * h);
            let fd = (4.0 * d(h / 2.0) - d(h)) / 3.0;
            assert!(
                (fd - gi).abs() <= 1e-6 * gi.abs(),
                "coordinate {i}: {fd} vs {gi}"
            );
        }
        // The objective itself against a sample mean (3 standard errors).
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let x: Vec<f64> = (0..200_000)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let losses = AT.row_losses(&x);
        let mean = losses.iter().sum::<f64>() / x.len() as f64;
        let var = losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (x.len() - 1) as f64;
        let se = (var / x.len() as f64).sqrt();
        assert!(
            (mean - AT.objective()).abs() < 3.0 * se,
            "{mean} vs {}",
            AT.objective()
        );
    }

    #[test]
    fn the_sampled_central_difference_finds_the_boundary_term() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let x: Vec<f64> = (0..400_000)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let g = AT.gradient();
        let h = 0.005;
        for (i, &gi) in g.iter().enumerate() {
            let est = central_difference(
                &AT.moved(i, h).row_losses(&x),
                &AT.moved(i, -h).row_losses(&x),
                h,
            );
            // The w-derivative is the boundary term alone: every per-sample
            // difference is zero except where the assignment switches.
            assert!(
                (est.value - gi).abs() < 3.0 * est.std_error,
                "coordinate {i}: {} ± {} vs {gi}",
                est.value,
                est.std_error
            );
        }
    }

    #[test]
    fn the_standard_error_is_honest_and_the_error_shrinks_as_root_n() {
        // 1.6 million draws in disjoint blocks: each block's error against
        // the closed form, in units of its own standard error, has mean
        // square about 1 (the error bar is honest at that size).
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let x: Vec<f64> = (0..1_600_000)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let truth = AT.gradient()[0];
        let h = 0.005;
        let (plus, minus) = (
            AT.moved(0, h).row_losses(&x),
            AT.moved(0, -h).row_losses(&x),
        );
        let blocks = |n: usize| -> (f64, f64) {
            let (mut z_sq, mut se, count) = (0.0, 0.0, x.len() / n);
            for b in 0..count {
                let r = b * n..(b + 1) * n;
                let est = central_difference(&plus[r.clone()], &minus[r], h);
                z_sq += ((est.value - truth) / est.std_error).powi(2);
                se += est.std_error;
            }
            (z_sq / count as f64, se / count as f64)
        };
        let (z_small, se_small) = blocks(25_000);
        let (z_large, se_large) = blocks(100_000);
        // Mean squared z-scores over 64 and 16 blocks: 1 ± 0.18 and ± 0.35
        // (one standard deviation) when the error bar is honest.
        assert!(
            (0.6..1.5).contains(&z_small),
            "mean squared z-score {z_small}"
        );
        assert!(
            (0.3..2.1).contains(&z_large),
            "mean squared z-score {z_large}"
        );
        // Honest at both sizes, and the error bar halves for four times the
        // rows: the error against the truth shrinks as 1/√N.
        let ratio = se_small / se_large;
        assert!((ratio - 2.0).abs() < 0.1, "{ratio}");
    }
}
