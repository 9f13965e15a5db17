//! Codebook updates other than the gradient, and dead-code restarts, shared
//! by every method (they read only the batch's codes z and assignments).
//!
//! * `grad` (the report's): E moves with the optimizer along ∂L/∂E;
//! * `ema` (van den Oord et al. 2017, appendix; vector-quantize-pytorch's
//!   default): with n_k = #{b : a_b = k} and s_k = Σ_{a_b = k} z_b,
//!   N_k ← γN_k + (1 − γ)n_k, S_k ← γS_k + (1 − γ)s_k,
//!   Ñ_k = (N_k + ε)/(Σ_j N_j + Kε) · Σ_j N_j, e_k = S_k/Ñ_k, starting from
//!   N_k = 1, S_k = e_k (the codebook starts unchanged). E then ignores ∂L/∂E.
//! * dead-code restart (either update, off by default): a usage average
//!   u_k ← γu_k + (1 − γ)n_k, starting at B/K (uniform use); a code whose
//!   u_k falls below the threshold is replaced by the code z of a random
//!   batch row (drawn from the run's restart stream), its u_k is reset to
//!   B/K and, under EMA, S_k is set so that e_k = S_k/Ñ_k is the new code.
use ndarray::{Array2, ArrayView2};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};
use crate::numerics::rng::VqRng;

/// How the codebook is updated.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum CodebookUpdate {
    /// Along ∂L/∂E with the optimizer (the report's).
    #[default]
    Grad,
    /// Exponential moving averages of the assigned codes.
    Ema,
}

/// The codebook update with its constants and the dead-code restart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CodebookSpec {
    /// Which update.
    pub update: CodebookUpdate,
    /// γ of the EMA and of the usage average, in [0, 1).
    pub gamma: f64,
    /// ε of the EMA's Laplace smoothing, > 0.
    pub eps: f64,
    /// Restart codes whose usage average falls below this (None: never).
    pub dead_code_threshold: Option<f64>,
}

impl Default for CodebookSpec {
    fn default() -> Self {
        CodebookSpec {
            update: CodebookUpdate::Grad,
            gamma: 0.99,
            eps: 1e-5,
            dead_code_threshold: None,
        }
    }
}

impl CodebookSpec {
    /// The report's gradient update without restarts (left out of JSON).
    pub fn is_default(&self) -> bool {
        *self == CodebookSpec::default()
    }

    /// Checks γ ∈ [0, 1), ε > 0 and a finite threshold ≥ 0.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.gamma) {
            return Err(invalid("ema_gamma", self.gamma, "in [0, 1)"));
        }
        if !self.eps.is_finite() || self.eps <= 0.0 {
            return Err(invalid("ema_eps", self.eps, "a finite number > 0"));
        }
        if let Some(t) = self.dead_code_threshold {
            if !t.is_finite() || t < 0.0 {
                return Err(invalid("dead_code_threshold", t, "a finite number ≥ 0"));
            }
        }
        Ok(())
    }

    /// Whether the optimizer updates E (false under EMA).
    pub fn by_gradient(&self) -> bool {
        self.update == CodebookUpdate::Grad
    }
}

/// The running state of the codebook update of one run.
#[derive(Debug, Clone)]
pub struct CodebookState {
    spec: CodebookSpec,
    /// N_k.
    counts: Vec<f64>,
    /// S_k, K × m.
    sums: Array2<f64>,
    /// u_k.
    usage: Vec<f64>,
    batch_counts: Vec<f64>,
    batch_sums: Array2<f64>,
    restarts: usize,
}

impl CodebookState {
    /// The state for `codebook` (K × m) and batches of `batch` rows.
    pub fn new(spec: CodebookSpec, codebook: ArrayView2<f64>, batch: usize) -> Self {
        let (k, m) = codebook.dim();
        CodebookState {
            spec,
            counts: vec![1.0; k],
            sums: codebook.to_owned(),
            usage: vec![batch as f64 / k as f64; k],
            batch_counts: vec![0.0; k],
            batch_sums: Array2::zeros((k, m)),
            restarts: 0,
        }
    }

    /// Restarts so far.
    pub fn restarts(&self) -> usize {
        self.restarts
    }

    /// Ñ_k = (N_k + ε)/(Σ N + Kε) · Σ N.
    fn smoothed(&self, k: usize) -> f64 {
        let total: f64 = self.counts.iter().sum();
        let kk = self.counts.len() as f64;
        (self.counts[k] + self.spec.eps) / (total + kk * self.spec.eps) * total
    }

    /// After the optimizer's step: the EMA update of `codebook` (if chosen)
    /// and the dead-code restart (if on), from the batch's `codes` (B × m,
    /// z before the step) and `assignments`. Allocates nothing.
    pub fn update(
        &mut self,
        codebook: &mut Array2<f64>,
        codes: ArrayView2<f64>,
        assignments: &[usize],
        rng: &mut VqRng,
    ) {
        let gamma = self.spec.gamma;
        self.batch_counts.iter_mut().for_each(|c| *c = 0.0);
        self.batch_sums.fill(0.0);
        for (z, &a) in codes.outer_iter().zip(assignments) {
            self.batch_counts[a] += 1.0;
            self.batch_sums.row_mut(a).zip_mut_with(&z, |s, &v| *s += v);
        }
        if self.spec.update == CodebookUpdate::Ema {
            for k in 0..self.counts.len() {
                self.counts[k] = gamma * self.counts[k] + (1.0 - gamma) * self.batch_counts[k];
            }
            self.sums.zip_mut_with(&self.batch_sums, |s, &b| {
                *s = gamma * *s + (1.0 - gamma) * b
            });
            for k in 0..self.counts.len() {
                let n = self.smoothed(k);
                for (e, &s) in codebook.row_mut(k).iter_mut().zip(self.sums.row(k)) {
                    *e = s / n;
                }
            }
        }
        let Some(threshold) = self.spec.dead_code_threshold else {
            return;
        };
        let fresh = codes.nrows() as f64 / self.usage.len() as f64;
        for k in 0..self.usage.len() {
            self.usage[k] = gamma * self.usage[k] + (1.0 - gamma) * self.batch_counts[k];
            if self.usage[k] < threshold && codes.nrows() > 0 {
                let row = rng.gen_range(0..codes.nrows());
                codebook.row_mut(k).assign(&codes.row(row));
                self.usage[k] = fresh;
                if self.spec.update == CodebookUpdate::Ema {
                    let n = self.smoothed(k);
                    self.sums.row_mut(k).assign(&codes.row(row));
                    self.sums.row_mut(k).mapv_inplace(|v| v * n);
                }
                self.restarts += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::linalg::gaussian_matrix;
    use crate::numerics::rng::{rng_for, Stream};

    fn ema(gamma: f64, eps: f64) -> CodebookSpec {
        CodebookSpec {
            update: CodebookUpdate::Ema,
            gamma,
            eps,
            dead_code_threshold: None,
        }
    }

    #[test]
    fn ema_without_memory_is_one_lloyd_step_on_the_batch() {
        let mut rng = rng_for(1, Stream::Harness);
        let codes = gaussian_matrix(40, 3, &mut rng);
        let assignments: Vec<usize> = (0..40).map(|b| b % 3).collect(); // codes 0..3 of 5
        let mut codebook = gaussian_matrix(5, 3, &mut rng);
        let mut state = CodebookState::new(ema(0.0, 1e-12), codebook.view(), 40);
        state.update(&mut codebook, codes.view(), &assignments, &mut rng);
        for k in 0..3 {
            let rows: Vec<usize> = (0..40).filter(|b| b % 3 == k).collect();
            let mean = codes
                .select(ndarray::Axis(0), &rows)
                .mean_axis(ndarray::Axis(0))
                .unwrap();
            for (e, m) in codebook.row(k).iter().zip(mean.iter()) {
                assert!((e - m).abs() < 1e-9, "code {k}: {e} vs {m}");
            }
        }
    }

    /// A plain re-implementation of the EMA formulas, step by step.
    #[test]
    #[allow(clippy::needless_range_loop)] // indices read as the formulas do
    fn ema_matches_the_formulas_over_several_steps() {
        let mut rng = rng_for(2, Stream::Harness);
        let (k, m, b) = (4, 2, 10);
        let mut codebook = gaussian_matrix(k, m, &mut rng);
        let mut state = CodebookState::new(ema(0.9, 1e-3), codebook.view(), b);
        let (mut n_ref, mut s_ref) = (vec![1.0; k], codebook.clone());
        for _ in 0..5 {
            let codes = gaussian_matrix(b, m, &mut rng);
            let assignments: Vec<usize> = (0..b).map(|_| rng.gen_range(0..k)).collect();
            state.update(&mut codebook, codes.view(), &assignments, &mut rng);
            for j in 0..k {
                let rows: Vec<usize> = (0..b).filter(|&i| assignments[i] == j).collect();
                n_ref[j] = 0.9 * n_ref[j] + 0.1 * rows.len() as f64;
                let s: ndarray::Array1<f64> = rows
                    .iter()
                    .map(|&i| codes.row(i).to_owned())
                    .fold(ndarray::Array1::zeros(m), |a, r| a + r);
                let new = &s_ref.row(j) * 0.9 + &(s * 0.1);
                s_ref.row_mut(j).assign(&new);
            }
            let total: f64 = n_ref.iter().sum();
            for j in 0..k {
                let smoothed = (n_ref[j] + 1e-3) / (total + k as f64 * 1e-3) * total;
                for (e, s) in codebook.row(j).iter().zip(s_ref.row(j).iter()) {
                    assert!((e - s / smoothed).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn unused_codes_are_restarted_at_batch_codes() {
        let mut rng = rng_for(3, Stream::Harness);
        let codes = gaussian_matrix(20, 2, &mut rng);
        let assignments = vec![0usize; 20]; // code 1 is never used
        let mut codebook = gaussian_matrix(2, 2, &mut rng);
        let spec = CodebookSpec {
            dead_code_threshold: Some(5.0),
            gamma: 0.5,
            ..CodebookSpec::default()
        };
        let mut state = CodebookState::new(spec, codebook.view(), 20);
        // u_1: 10 → 5 (not below 5) → 2.5 (restarted).
        state.update(&mut codebook, codes.view(), &assignments, &mut rng);
        assert_eq!(state.restarts(), 0);
        state.update(&mut codebook, codes.view(), &assignments, &mut rng);
        assert_eq!(state.restarts(), 1);
        assert!(codes.outer_iter().any(|z| z == codebook.row(1)));
        assert!(spec.validate().is_ok());
        let bad = CodebookSpec { gamma: 1.0, ..spec };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("ema_gamma = 1"));
        let bad = CodebookSpec {
            dead_code_threshold: Some(-1.0),
            ..spec
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("dead_code_threshold = -1"));
    }
}
