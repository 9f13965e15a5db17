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
use super::Estimator;

/// Smallest norm used as a divisor in the rotation trick (z = 0 or ẑ = −q̂).
pub const TINY: f64 = 1e-300;

/// Replaces `g` (one row's ∂L/∂q̃) by what `estimator` sends to z.
#[inline(always)]
pub fn backward_row(estimator: Estimator, g: &mut [f64], z: &[f64], q: &[f64]) {
    match estimator {
        Estimator::Ste => {}
        Estimator::ResidualProjection => residual_projection_row(g, z, q),
        Estimator::RotationTrick => rotation_trick_row(g, z, q),
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
