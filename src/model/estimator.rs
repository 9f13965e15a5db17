//! The estimators' backward rules on ndarray, one batch row at a time,
//! shared by every manual model.
//!
//! With g = ∂L/∂q̃ for one row, z its code and q = e_a its quantized code,
//! each rule returns what flows to z from the q̃ path:
//!
//! * STE: g;
//! * residual projection (the report's "rotation"): (g·u) u with
//!   u = (q − z)/‖q − z‖, computed as (g·d) d / ‖d‖² with d = q − z, and 0
//!   when q = z;
//! * rotation trick (Fifty et al. 2024): λ Rᵀ g with λ = ‖q‖/‖z‖ and
//!   R = I − 2 r rᵀ + 2 q̂ ẑᵀ, ẑ = z/‖z‖, q̂ = q/‖q‖, r = (ẑ + q̂)/‖ẑ + q̂‖
//!   (R maps ẑ to q̂: two Householder reflections). So
//!   λ Rᵀ g = λ (g − 2 r (r·g) + 2 ẑ (q̂·g)). Divisors are clamped at
//!   [`TINY`] exactly as the autograd twin clamps them.
//!
//! Two estimators change the forward value of q̃ and need random draws,
//! handed to both backends ([`Draws`]); they are applied to a whole batch by
//! [`QuantizerPath`]:
//!
//! * NSVQ (Vali & Bäckström 2022): q̃ = z + r v̂, r = ‖z − q‖ (computed as
//!   √max(‖z − q‖², 1e-300)), v̂ = v/‖v‖, v ~ N(0, I_m). Backward through the
//!   formula: with d = z − q and γ = g·v̂, ∂L/∂z = g + γ d/r and
//!   ∂L/∂e_a += −γ d/r (nothing through r where ‖z − q‖² < 1e-300);
//! * Gumbel-Softmax (Jang et al. 2017): s_k = (ℓ_k + G_k)/τ with
//!   ℓ_k = −‖z − e_k‖², G_k ~ Gumbel(0, 1), y = softmax(s); soft: q̃ = Σ y_k e_k;
//!   hard (straight-through in y): ỹ = onehot(argmax y) + y − sg(y),
//!   q̃ = Σ ỹ_k e_k (forward value e_{argmax y}). Backward with w = y (soft) or
//!   the one-hot (hard): ∂y_k = g·e_k, ∂s_k = y_k(∂y_k − Σ_j y_j ∂y_j),
//!   ∂ℓ_k = ∂s_k/τ, ∂L/∂z = Σ_k ∂ℓ_k · (−2)(z − e_k),
//!   ∂L/∂e_k += w_k g + ∂ℓ_k · 2(z − e_k).
//!
//! The α and β terms always use the nearest code q = e_a, and evaluation is
//! always the hard nearest code.
use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::fit_buffer;
use crate::error::{invalid, Result};

/// The backward rule for ∂L/∂z from the q̃ path, g = ∂L/∂q̃.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Estimator {
    /// Straight-through: g copied unchanged.
    Ste,
    /// The report's "rotation" estimator: (g·u) u with u = (q − z)/‖q − z‖
    /// (0 when q = z). A projection onto the residual direction.
    ResidualProjection,
    /// The rotation trick of Fifty et al. (2024): λ Rᵀ g with λ = ‖q‖/‖z‖ and
    /// R the rotation taking z/‖z‖ to q/‖q‖ (two Householder reflections);
    /// λ and R are constants.
    RotationTrick,
    /// Noise substitution (Vali & Bäckström 2022): q̃ = z + ‖z − q‖ v/‖v‖,
    /// v ~ N(0, I), differentiated through the formula.
    Nsvq,
    /// Gumbel-Softmax (Jang et al. 2017), soft: q̃ = Σ_k y_k e_k,
    /// y = softmax((−‖z − e_k‖² + G_k)/τ).
    Gumbel,
    /// Gumbel-Softmax, straight-through "hard": forward e_{argmax y},
    /// backward through the soft y.
    GumbelHard,
}

impl Estimator {
    /// Every estimator, in a fixed order.
    pub const ALL: [Estimator; 6] = [
        Estimator::Ste,
        Estimator::ResidualProjection,
        Estimator::RotationTrick,
        Estimator::Nsvq,
        Estimator::Gumbel,
        Estimator::GumbelHard,
    ];

    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Ste => "ste",
            Estimator::ResidualProjection => "residual-projection",
            Estimator::RotationTrick => "rotation-trick",
            Estimator::Nsvq => "nsvq",
            Estimator::Gumbel => "gumbel",
            Estimator::GumbelHard => "gumbel-hard",
        }
    }

    /// Whether the forward value of q̃ differs from q (NSVQ, Gumbel), so
    /// the decoder sees q̃ and the estimator needs random draws.
    pub fn changes_forward(self) -> bool {
        matches!(
            self,
            Estimator::Nsvq | Estimator::Gumbel | Estimator::GumbelHard
        )
    }
}

/// Smallest ‖z − q‖² NSVQ differentiates through.
pub const NSVQ_MIN_SQ: f64 = 1e-300;

/// The temperature schedule of the Gumbel estimators:
/// τ_t = max(τ_min, τ₀ e^(−r t)), t the steps already taken.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GumbelSpec {
    /// τ₀.
    pub tau: f64,
    /// τ_min.
    pub tau_min: f64,
    /// r (0: constant τ₀).
    pub tau_rate: f64,
}

impl Default for GumbelSpec {
    fn default() -> Self {
        GumbelSpec {
            tau: 1.0,
            tau_min: 0.1,
            tau_rate: 0.0,
        }
    }
}

impl GumbelSpec {
    /// The defaults (left out of JSON).
    pub fn is_default(&self) -> bool {
        *self == GumbelSpec::default()
    }

    /// Checks τ₀ > 0, 0 < τ_min ≤ τ₀, r ≥ 0 (all finite).
    pub fn validate(&self) -> Result<()> {
        if !self.tau.is_finite() || self.tau <= 0.0 {
            return Err(invalid("gumbel_tau", self.tau, "a finite number > 0"));
        }
        if !self.tau_min.is_finite() || self.tau_min <= 0.0 || self.tau_min > self.tau {
            return Err(invalid(
                "gumbel_tau_min",
                self.tau_min,
                format!("a number > 0 and at most gumbel_tau = {}", self.tau),
            ));
        }
        if !self.tau_rate.is_finite() || self.tau_rate < 0.0 {
            return Err(invalid(
                "gumbel_tau_rate",
                self.tau_rate,
                "a finite number ≥ 0",
            ));
        }
        Ok(())
    }

    /// τ after `taken` steps.
    pub fn tau_at(&self, taken: usize) -> f64 {
        (self.tau * (-self.tau_rate * taken as f64).exp()).max(self.tau_min)
    }
}

/// The random draws of one step for one estimator, handed to both backends:
/// NSVQ's unit directions v̂ (B × m), or Gumbel's G (B × K), and τ.
#[derive(Debug, Clone, Default)]
pub struct Draws {
    /// v̂ rows (NSVQ), G rows (Gumbel), or empty.
    pub noise: Array2<f64>,
    /// The Gumbel temperature of this step.
    pub tau: f64,
}

impl Draws {
    /// No draws (the estimators that need none).
    pub fn none() -> Self {
        Draws {
            noise: Array2::zeros((0, 0)),
            tau: 1.0,
        }
    }

    /// Draws for `estimator` on a batch of `b` rows, codes of dimension `m`,
    /// `k` codes, temperature `tau`, from `rng` (nothing is drawn for the
    /// estimators that need no draws). Allocates only when a shape changes.
    pub fn draw<R: Rng + ?Sized>(
        &mut self,
        estimator: Estimator,
        (b, m, k): (usize, usize, usize),
        tau: f64,
        rng: &mut R,
    ) {
        self.tau = tau;
        match estimator {
            Estimator::Nsvq => {
                fit_buffer(&mut self.noise, (b, m));
                for mut row in self.noise.outer_iter_mut() {
                    row.iter_mut()
                        .for_each(|v| *v = StandardNormal.sample(&mut *rng));
                    let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                    row.mapv_inplace(|v| v / norm);
                }
            }
            Estimator::Gumbel | Estimator::GumbelHard => {
                fit_buffer(&mut self.noise, (b, k));
                self.noise.iter_mut().for_each(|g| {
                    // U in (0, 1): −ln(−ln U) is Gumbel(0, 1).
                    let u: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
                    *g = -(-u.ln()).ln();
                });
            }
            _ => fit_buffer(&mut self.noise, (0, 0)),
        }
    }

    /// Checks that the draws fit `estimator` on a batch of `b` rows.
    pub fn check(&self, estimator: Estimator, b: usize, m: usize, k: usize) -> Result<()> {
        let want = match estimator {
            Estimator::Nsvq => Some((b, m)),
            Estimator::Gumbel | Estimator::GumbelHard => Some((b, k)),
            _ => None,
        };
        match want {
            Some(shape) if self.noise.dim() != shape => Err(crate::VqError::Shape(format!(
                "{} needs draws of shape {}x{}, got {}x{}",
                estimator.name(),
                shape.0,
                shape.1,
                self.noise.nrows(),
                self.noise.ncols()
            ))),
            _ => Ok(()),
        }
    }
}

/// The q̃ path of a batch for every estimator: the forward value Q̃ and the
/// backward step from ∂L/∂Q̃ to ∂L/∂Z (and to E), in reusable buffers.
#[derive(Debug, Clone, Default)]
pub struct QuantizerPath {
    q_tilde: Array2<f64>,
    soft: Array2<f64>,
    logits: Array2<f64>,
    hard: Vec<usize>,
    dy: Vec<f64>,
}

impl QuantizerPath {
    /// Q̃ (B × m) for `estimator` from the codes Z, their nearest codes Q (rows
    /// e_{a_b}) and the draws. For STE, the residual projection and the
    /// rotation trick it is Q itself.
    pub fn forward<'a>(
        &'a mut self,
        estimator: Estimator,
        z: ArrayView2<f64>,
        q: ArrayView2<'a, f64>,
        codebook: ArrayView2<f64>,
        draws: &Draws,
    ) -> ArrayView2<'a, f64> {
        let (b, m) = z.dim();
        let k = codebook.nrows();
        fit_buffer(&mut self.q_tilde, (b, m));
        match estimator {
            Estimator::Ste | Estimator::ResidualProjection | Estimator::RotationTrick => {
                return q;
            }
            Estimator::Nsvq => {
                for (((mut qt, z), q), v) in self
                    .q_tilde
                    .outer_iter_mut()
                    .zip(z.outer_iter())
                    .zip(q.outer_iter())
                    .zip(draws.noise.outer_iter())
                {
                    let d_sq: f64 = z.iter().zip(q.iter()).map(|(a, b)| (a - b) * (a - b)).sum();
                    let r = d_sq.max(NSVQ_MIN_SQ).sqrt();
                    for i in 0..m {
                        qt[i] = z[i] + r * v[i];
                    }
                }
            }
            Estimator::Gumbel | Estimator::GumbelHard => {
                fit_buffer(&mut self.soft, (b, k));
                fit_buffer(&mut self.logits, (b, k));
                self.hard.resize(b, 0);
                for (row, z) in z.outer_iter().enumerate() {
                    let (mut best, mut best_at) = (f64::NEG_INFINITY, 0);
                    for (c, e) in codebook.outer_iter().enumerate() {
                        let dist: f64 =
                            z.iter().zip(e.iter()).map(|(a, b)| (a - b) * (a - b)).sum();
                        let s = (-dist + draws.noise[[row, c]]) / draws.tau;
                        self.logits[[row, c]] = s;
                        if s > best {
                            best = s;
                            best_at = c;
                        }
                    }
                    self.hard[row] = best_at;
                    let mut total = 0.0;
                    for c in 0..k {
                        let y = (self.logits[[row, c]] - best).exp();
                        self.soft[[row, c]] = y;
                        total += y;
                    }
                    for c in 0..k {
                        self.soft[[row, c]] /= total;
                    }
                    let mut qt = self.q_tilde.row_mut(row);
                    if estimator == Estimator::GumbelHard {
                        qt.assign(&codebook.row(best_at));
                    } else {
                        qt.fill(0.0);
                        for (c, e) in codebook.outer_iter().enumerate() {
                            qt.scaled_add(self.soft[[row, c]], &e);
                        }
                    }
                }
            }
        }
        self.q_tilde.view()
    }

    /// Q̃ of the last [`QuantizerPath::forward`] (Q itself for the
    /// estimators that keep q's forward value).
    pub fn forward_value<'a>(
        &'a self,
        estimator: Estimator,
        q: ArrayView2<'a, f64>,
    ) -> ArrayView2<'a, f64> {
        if estimator.changes_forward() {
            self.q_tilde.view()
        } else {
            q
        }
    }

    /// Replaces `g` (∂L/∂Q̃, B × m) by what flows to Z, and adds what flows
    /// to E into `grad_e`. Call after [`QuantizerPath::forward`] with the
    /// same inputs.
    pub fn backward(
        &mut self,
        estimator: Estimator,
        (z, q, codebook): (ArrayView2<f64>, ArrayView2<f64>, ArrayView2<f64>),
        (assignments, draws): (&[usize], &Draws),
        g: &mut Array2<f64>,
        grad_e: &mut Array2<f64>,
    ) {
        let m = z.ncols();
        match estimator {
            Estimator::Ste | Estimator::ResidualProjection | Estimator::RotationTrick => {
                backward_rows(estimator, g, z, q)
            }
            Estimator::Nsvq => {
                for (row, mut g) in g.outer_iter_mut().enumerate() {
                    let (z, q, v) = (z.row(row), q.row(row), draws.noise.row(row));
                    let d_sq: f64 = z.iter().zip(q.iter()).map(|(a, b)| (a - b) * (a - b)).sum();
                    if d_sq < NSVQ_MIN_SQ {
                        continue;
                    }
                    let r = d_sq.sqrt();
                    let along: f64 = g.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
                    let a = assignments[row];
                    for i in 0..m {
                        let push = along * (z[i] - q[i]) / r;
                        g[i] += push;
                        grad_e[[a, i]] -= push;
                    }
                }
            }
            Estimator::Gumbel | Estimator::GumbelHard => {
                let k = codebook.nrows();
                self.dy.resize(k, 0.0);
                for (row, mut g) in g.outer_iter_mut().enumerate() {
                    let z = z.row(row);
                    let mut mean = 0.0;
                    for (c, e) in codebook.outer_iter().enumerate() {
                        let dy: f64 = g.iter().zip(e.iter()).map(|(a, b)| a * b).sum();
                        self.dy[c] = dy;
                        mean += self.soft[[row, c]] * dy;
                    }
                    // Direct path: ∂q̃/∂e_k = w_k.
                    for (c, mut ge) in grad_e.outer_iter_mut().enumerate() {
                        let w = match estimator {
                            Estimator::GumbelHard => f64::from(u8::from(self.hard[row] == c)),
                            _ => self.soft[[row, c]],
                        };
                        if w != 0.0 {
                            ge.scaled_add(w, &g);
                        }
                    }
                    let mut dz = [0.0; 64];
                    let mut dz_vec;
                    let dz: &mut [f64] = if m <= 64 {
                        &mut dz[..m]
                    } else {
                        dz_vec = vec![0.0; m];
                        &mut dz_vec
                    };
                    for (c, mut ge) in grad_e.outer_iter_mut().enumerate() {
                        let dl = self.soft[[row, c]] * (self.dy[c] - mean) / draws.tau;
                        let e = codebook.row(c);
                        for i in 0..m {
                            let diff = z[i] - e[i];
                            dz[i] -= 2.0 * dl * diff;
                            ge[i] += 2.0 * dl * diff;
                        }
                    }
                    for i in 0..m {
                        g[i] = dz[i];
                    }
                }
            }
        }
    }
}

/// Smallest norm used as a divisor in the rotation trick (z = 0 or ẑ = −q̂).
pub const TINY: f64 = 1e-300;

/// Replaces `g` (one row's ∂L/∂q̃) by what `estimator` sends to z.
#[inline(always)]
pub fn backward_row(estimator: Estimator, g: &mut [f64], z: &[f64], q: &[f64]) {
    match estimator {
        Estimator::Ste => {}
        Estimator::ResidualProjection => residual_projection_row(g, z, q),
        Estimator::RotationTrick => rotation_trick_row(g, z, q),
        other => unreachable!("{} is applied by QuantizerPath", other.name()),
    }
}

/// g ← (g·d) d / ‖d‖², d = q − z (g ← 0 when q = z).
#[inline(always)]
pub fn residual_projection_row(g: &mut [f64], z: &[f64], q: &[f64]) {
    let (mut norm_sq, mut along) = (0.0, 0.0);
    for i in 0..g.len() {
        norm_sq += (q[i] - z[i]) * (q[i] - z[i]);
        along += g[i] * (q[i] - z[i]);
    }
    let factor = if norm_sq == 0.0 { 0.0 } else { along / norm_sq };
    for i in 0..g.len() {
        g[i] = factor * (q[i] - z[i]);
    }
}

/// g ← λ (g − 2 r (r·g) + 2 ẑ (q̂·g)).
#[inline(always)]
pub fn rotation_trick_row(g: &mut [f64], z: &[f64], q: &[f64]) {
    let m = g.len();
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let z_norm = norm(z).max(TINY);
    let q_norm = norm(q);
    let q_div = q_norm.max(TINY);
    let mut sum_sq = 0.0;
    for i in 0..m {
        let s = z[i] / z_norm + q[i] / q_div;
        sum_sq += s * s;
    }
    let r_div = sum_sq.sqrt().max(TINY);
    let (mut r_g, mut qh_g) = (0.0, 0.0);
    for i in 0..m {
        let r = (z[i] / z_norm + q[i] / q_div) / r_div;
        r_g += r * g[i];
        qh_g += q[i] / q_div * g[i];
    }
    let lambda = q_norm / z_norm;
    for i in 0..m {
        let r = (z[i] / z_norm + q[i] / q_div) / r_div;
        g[i] = lambda * (g[i] - 2.0 * r * r_g + 2.0 * (z[i] / z_norm) * qh_g);
    }
}

/// Applies `estimator` to every row of `g` (B × m) with the rows of `z`, `q`.
pub fn backward_rows(
    estimator: Estimator,
    g: &mut ndarray::Array2<f64>,
    z: ndarray::ArrayView2<f64>,
    q: ndarray::ArrayView2<f64>,
) {
    if estimator == Estimator::Ste {
        return;
    }
    for ((mut g_row, z_row), q_row) in g.outer_iter_mut().zip(z.outer_iter()).zip(q.outer_iter()) {
        let (g_s, z_s, q_s) = (
            g_row.as_slice_mut().expect("standard layout"),
            z_row.as_slice().expect("standard layout"),
            q_row.as_slice().expect("standard layout"),
        );
        backward_row(estimator, g_s, z_s, q_s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn residual_projection_keeps_only_the_residual_direction() {
        // d = q − z = (0, 2): only g's second coordinate survives.
        let mut g = [3.0, -1.5];
        residual_projection_row(&mut g, &[1.0, 0.0], &[1.0, 2.0]);
        assert_eq!(g, [0.0, -1.5]);
        let mut g = [3.0, -1.5];
        residual_projection_row(&mut g, &[1.0, 2.0], &[1.0, 2.0]);
        assert_eq!(g, [0.0, 0.0]);
    }

    use crate::numerics::linalg::gaussian_matrix;
    use crate::numerics::quantize::nearest_codes;
    use crate::numerics::rng::{rng_for, Stream};

    fn quantize(z: &Array2<f64>, codebook: &Array2<f64>) -> (Vec<usize>, Array2<f64>) {
        let a = nearest_codes(z.view(), codebook.view());
        let q = codebook.select(ndarray::Axis(0), &a);
        (a, q)
    }

    #[test]
    fn nsvq_puts_q_tilde_at_the_quantization_distance() {
        let mut rng = rng_for(4, Stream::Harness);
        let (z, codebook) = (
            gaussian_matrix(50, 3, &mut rng),
            gaussian_matrix(6, 3, &mut rng),
        );
        let (_, q) = quantize(&z, &codebook);
        let mut draws = Draws::none();
        draws.draw(Estimator::Nsvq, (50, 3, 6), 1.0, &mut rng);
        let mut path = QuantizerPath::default();
        let q_tilde = path.forward(Estimator::Nsvq, z.view(), q.view(), codebook.view(), &draws);
        for ((qt, z), q) in q_tilde.outer_iter().zip(z.outer_iter()).zip(q.outer_iter()) {
            let to_q = (&z - &q).mapv(|v| v * v).sum().sqrt();
            let to_qt = (&z - &qt).mapv(|v| v * v).sum().sqrt();
            assert!(
                (to_q - to_qt).abs() < 1e-14 * to_q.max(1.0),
                "{to_q} {to_qt}"
            );
        }
    }

    #[test]
    fn gumbel_soft_tends_to_the_hard_code_as_tau_goes_to_zero() {
        let mut rng = rng_for(5, Stream::Harness);
        let (z, codebook) = (
            gaussian_matrix(40, 2, &mut rng),
            gaussian_matrix(5, 2, &mut rng),
        );
        let (a, q) = quantize(&z, &codebook);
        let mut path = QuantizerPath::default();
        // Without noise (G = 0) the soft code tends to the nearest code.
        let draws = Draws {
            noise: Array2::zeros((40, 5)),
            tau: 1e-4,
        };
        let soft = path
            .forward(
                Estimator::Gumbel,
                z.view(),
                q.view(),
                codebook.view(),
                &draws,
            )
            .to_owned();
        assert!((&soft - &q).iter().all(|v| v.abs() < 1e-6));
        // With noise it tends to the Gumbel-max code, which the hard variant
        // takes exactly at any τ.
        let mut noisy = Draws::none();
        noisy.draw(Estimator::Gumbel, (40, 2, 5), 1.0, &mut rng);
        noisy.tau = 1e-4;
        let soft = path
            .forward(
                Estimator::Gumbel,
                z.view(),
                q.view(),
                codebook.view(),
                &noisy,
            )
            .to_owned();
        noisy.tau = 0.7;
        let hard = path
            .forward(
                Estimator::GumbelHard,
                z.view(),
                q.view(),
                codebook.view(),
                &noisy,
            )
            .to_owned();
        assert!((&soft - &hard).iter().all(|v| v.abs() < 1e-6));
        // The noise does move some rows off their nearest code.
        let moved = hard
            .outer_iter()
            .zip(&a)
            .filter(|(row, &k)| *row != codebook.row(k))
            .count();
        assert!(moved > 0);
    }

    #[test]
    fn gumbel_temperature_anneals_to_its_floor() {
        let spec = GumbelSpec {
            tau: 2.0,
            tau_min: 0.5,
            tau_rate: 0.01,
        };
        assert_eq!(spec.tau_at(0), 2.0);
        assert!((spec.tau_at(100) - 2.0 * (-1.0f64).exp()).abs() < 1e-15);
        assert_eq!(spec.tau_at(10_000), 0.5);
        assert!(spec.validate().is_ok());
        let bad = GumbelSpec { tau: 0.0, ..spec };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("gumbel_tau = 0"));
        let bad = GumbelSpec {
            tau_min: 3.0,
            ..spec
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("gumbel_tau_min = 3"));
    }

    #[test]
    fn rotation_trick_is_a_scaled_rotation() {
        // z along x, q along y with ‖q‖ = 2‖z‖: R rotates x to y by 90°, so
        // Rᵀ g rotates g back by −90° and λ = 2.
        let (z, q) = ([0.5, 0.0], [0.0, 1.0]);
        let mut g = [0.0, 1.0];
        rotation_trick_row(&mut g, &z, &q);
        assert!((g[0] - 2.0).abs() < 1e-15 && g[1].abs() < 1e-15, "{g:?}");
        // Norms scale by λ whatever g is.
        let mut g = [0.3, -0.7];
        rotation_trick_row(&mut g, &z, &q);
        let n = (g[0] * g[0] + g[1] * g[1]).sqrt();
        assert!((n - 2.0 * (0.09f64 + 0.49).sqrt()).abs() < 1e-14);
    }
}
