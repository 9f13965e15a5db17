//! Which estimator × codebook form × loss wiring a probe's gradients match.
//!
//! A quantizer layer's loss, as the probe differentiates it, is
//! L = Σ u ⊙ output + aux, u the upstream gradient. For a candidate
//! (estimator, form, wiring) the gradients are
//!
//! * ∂L/∂z = P_z (G_z + c_z (z' − q')) and
//! * ∂L/∂e_k = P_e (G_e,k + c_e Σ_{i: a_i = k} (q'_i − z'_i)),
//!
//! with z', q' the rows in the form's space (plain: as they are; cosine:
//! ℓ2-normalised), P the Jacobian back through the normalisation (identity
//! for plain), G the estimator's output path ([`QuantizerPath`], the same
//! f64 rules vqlab trains with) at g = u, and c_z, c_e the gradient
//! coefficients of the commitment term w_z ‖z − sg(q)‖² and the codebook
//! term w_e ‖sg(z) − q‖². The coefficients are fitted by least squares:
//! both free (`separate`), equal (`combined`, one term ‖z − q‖² without a
//! stop-gradient), or the codebook outside autograd (`codebook-outside`:
//! nothing flows to E, as with an EMA codebook or a detached one). A
//! coefficient c is a weight w = c·B/2 on a per-row sum averaged over rows
//! (vqlab's convention) and w = c·B·m/2 on a mean over all B·m entries
//! (`F.mse_loss`).
//!
//! Each candidate's error per tensor is max|observed − predicted| /
//! max(max|observed|, max|predicted|); a candidate matches when every
//! tensor's error is at most the tolerance.
use ndarray::{Array2, ArrayView2, Axis};
use serde::Serialize;

use super::explain::{id_forward_nearest, notes};
use super::probe::Probe;
use crate::model::estimator::{Draws, Estimator, QuantizerPath};

/// How the layer compares rows with codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// Euclidean distance on the rows and codes as they are.
    Plain,
    /// ℓ2-normalised rows and codes (cosine similarity); the output is the
    /// normalised code.
    Cosine,
}

/// How the auxiliary loss reaches z and the codebook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Wiring {
    /// w_z ‖z − sg(q)‖² + w_e ‖sg(z) − q‖², both weights fitted.
    Separate,
    /// w ‖z − q‖² without a stop-gradient: one weight on both.
    Combined,
    /// Only the commitment term reaches autograd; nothing flows to the
    /// codebook (an EMA codebook, a buffer, or a detached one).
    CodebookOutside,
}

/// What flows from the output back to z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputPath {
    /// Nothing: the output is detached from z.
    NoGradient,
    /// The output is the code itself with no straight-through: the upstream
    /// gradient reaches the codebook (Σ u over each code's rows), none z.
    ToCodebook,
    /// One of vqlab's estimators.
    Estimator(Estimator),
}

impl OutputPath {
    /// The name in tables.
    pub fn name(self) -> &'static str {
        match self {
            OutputPath::NoGradient => "no-gradient",
            OutputPath::ToCodebook => "to-codebook",
            OutputPath::Estimator(e) => e.name(),
        }
    }
}

/// A fitted gradient coefficient and the weights it means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Weight {
    /// c, the gradient coefficient.
    pub coefficient: f64,
    /// c·B·m/2: the weight on a mean over all entries (`F.mse_loss`).
    pub mse_mean: f64,
    /// c·B/2: the weight on a per-row sum averaged over rows (vqlab's).
    pub row_mean: f64,
}

/// Where one tensor departs from a candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Departure {
    /// `grad_z` or `grad_codebook`.
    pub tensor: &'static str,
    /// Rows (codes for the codebook) whose error passes the tolerance.
    pub rows_off: usize,
    /// Rows in the tensor.
    pub rows: usize,
    /// The row with the largest error.
    pub worst_row: usize,
    /// Share of the residual's energy along z (radial), for `grad_z`.
    pub share_along_z: Option<f64>,
    /// Share of the residual's energy along z − q, for `grad_z`.
    pub share_along_residual: Option<f64>,
}

/// One candidate's fit.
#[derive(Debug, Clone, Serialize)]
pub struct Fit {
    /// The output path.
    pub path: OutputPath,
    /// The form.
    pub form: Form,
    /// The wiring.
    pub wiring: Wiring,
    /// The commitment weight (on z).
    pub commitment: Weight,
    /// The codebook weight (None: the codebook is outside autograd).
    pub codebook: Option<Weight>,
    /// Error of ∂L/∂z.
    pub err_grad_z: f64,
    /// Error of ∂L/∂codebook (None when the probe has no codebook gradient).
    pub err_grad_codebook: Option<f64>,
    /// The larger of the two.
    pub error: f64,
    /// Free coefficients (for ties: fewer first).
    pub free: usize,
    /// Where the tensors depart, when they do.
    pub departures: Vec<Departure>,
}

/// The forward checks in one form.
#[derive(Debug, Clone, Serialize)]
pub struct ForwardCheck {
    /// The form.
    pub form: Form,
    /// Rows whose assignment is a nearest code in this form (ties within
    /// 1e-6 of the distance scale count as nearest).
    pub nearest_rows: usize,
    /// max|output − code| / max|code| over the rows, code = the assigned
    /// code in this form.
    pub output_vs_code: f64,
    /// The least-squares scale s of output ≈ s·code.
    pub output_scale: f64,
}

/// What `vqlab check` concludes about a probe.
#[derive(Debug, Clone, Serialize)]
pub struct Identification {
    /// (B, m, K).
    pub rows: usize,
    /// Row width m.
    pub width: usize,
    /// Codes K.
    pub codes: usize,
    /// The tolerance a match needs.
    pub tolerance: f64,
    /// Forward checks, plain and cosine.
    pub forward: Vec<ForwardCheck>,
    /// Every candidate, best first.
    pub candidates: Vec<Fit>,
    /// Whether the best candidate matches.
    pub matched: bool,
    /// The aux loss the best candidate's weights predict, beside the one
    /// the layer returned (other terms, e.g. a diversity loss, add to it).
    pub aux_loss_predicted: f64,
    /// The aux loss the layer returned.
    pub aux_loss_returned: f64,
    /// Findings a reader should not miss (bugs the fit points at).
    pub notes: Vec<String>,
}

/// Rows and codes in one form, with the Jacobians back to the stored ones.
struct FormSpace {
    z: Array2<f64>,
    codebook: Array2<f64>,
    z_norms: Vec<f64>,
    code_norms: Option<Vec<f64>>,
}

fn row_norms(a: ArrayView2<f64>) -> Vec<f64> {
    a.outer_iter()
        .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect()
}

fn normalised(a: ArrayView2<f64>, norms: &[f64]) -> Array2<f64> {
    let mut out = a.to_owned();
    for (mut row, &n) in out.outer_iter_mut().zip(norms) {
        row.mapv_inplace(|v| v / n.max(1e-12));
    }
    out
}

impl FormSpace {
    fn new(probe: &Probe, form: Form) -> FormSpace {
        match form {
            Form::Plain => FormSpace {
                z: probe.z.clone(),
                codebook: probe.codebook.clone(),
                z_norms: Vec::new(),
                code_norms: None,
            },
            Form::Cosine => {
                let z_norms = row_norms(probe.z.view());
                let code_norms = row_norms(probe.codebook.view());
                // A codebook stored unit-norm is used as it is (no
                // normalisation in the graph to differentiate through).
                let stored_unit = code_norms.iter().all(|n| (n - 1.0).abs() < 1e-5);
                FormSpace {
                    z: normalised(probe.z.view(), &z_norms),
                    codebook: normalised(probe.codebook.view(), &code_norms),
                    z_norms,
                    code_norms: (!stored_unit).then_some(code_norms),
                }
            }
        }
    }

    /// v ← (I − x̂x̂ᵀ) v / ‖x‖ per row (x̂ the normalised rows `unit`).
    fn back(v: &mut Array2<f64>, unit: &Array2<f64>, norms: &[f64]) {
        for ((mut row, u), &n) in v.outer_iter_mut().zip(unit.outer_iter()).zip(norms) {
            let along: f64 = row.iter().zip(u.iter()).map(|(a, b)| a * b).sum();
            row.zip_mut_with(&u, |r, &uu| *r = (*r - along * uu) / n.max(1e-12));
        }
    }

    fn back_z(&self, v: &mut Array2<f64>) {
        if !self.z_norms.is_empty() {
            Self::back(v, &self.z, &self.z_norms);
        }
    }

    fn back_codebook(&self, v: &mut Array2<f64>) {
        if let Some(norms) = &self.code_norms {
            Self::back(v, &self.codebook, norms);
        }
    }
}

fn dot(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| x * y).sum()
}

/// The largest |entry| of `a` (0 for an empty one).
pub(super) fn max_abs(a: &Array2<f64>) -> f64 {
    a.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// max|obs − pred| / max(max|obs|, max|pred|) (0 when both are zero).
pub fn tensor_error(observed: &Array2<f64>, predicted: &Array2<f64>) -> f64 {
    let scale = max_abs(observed).max(max_abs(predicted));
    if scale == 0.0 {
        return 0.0;
    }
    let diff = observed
        .iter()
        .zip(predicted.iter())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

fn weight(c: f64, (b, m): (usize, usize)) -> Weight {
    Weight {
        coefficient: c,
        mse_mean: c * (b * m) as f64 / 2.0,
        row_mean: c * b as f64 / 2.0,
    }
}

/// Least-squares c of `residual` ≈ c·`basis` (0 when the basis is zero).
fn fit(residual: &Array2<f64>, basis: &Array2<f64>) -> f64 {
    let den = dot(basis, basis);
    if den == 0.0 {
        0.0
    } else {
        dot(residual, basis) / den
    }
}

/// The estimator's output path and the two aux bases, in stored space.
struct Parts {
    path_z: Array2<f64>,
    path_codebook: Array2<f64>,
    basis_z: Array2<f64>,
    basis_codebook: Array2<f64>,
}

fn parts(probe: &Probe, space: &FormSpace, path: OutputPath) -> Parts {
    let (b, m, k) = probe.dims();
    let q = space.codebook.select(Axis(0), &probe.assignments);
    let mut path_z = Array2::zeros((b, m));
    let mut path_codebook = Array2::zeros((k, m));
    if path == OutputPath::ToCodebook {
        for (row, &a) in probe.assignments.iter().enumerate() {
            let mut code = path_codebook.row_mut(a);
            code += &probe.upstream.row(row);
        }
    }
    if let OutputPath::Estimator(estimator) = path {
        let draws = match estimator {
            Estimator::Nsvq => Draws {
                noise: probe.nsvq_directions.clone().unwrap_or_default(),
                tau: 1.0,
            },
            Estimator::Gumbel | Estimator::GumbelHard => Draws {
                noise: probe.gumbel_noise.clone().unwrap_or_default(),
                tau: probe.meta.tau.unwrap_or(1.0),
            },
            _ => Draws::none(),
        };
        let mut quantizer = QuantizerPath::default();
        let _ = quantizer.forward(
            estimator,
            space.z.view(),
            q.view(),
            space.codebook.view(),
            &draws,
        );
        path_z.assign(&probe.upstream);
        quantizer.backward(
            estimator,
            (space.z.view(), q.view(), space.codebook.view()),
            (&probe.assignments, &draws),
            &mut path_z,
            &mut path_codebook,
        );
    }
    let mut basis_z = &space.z - &q;
    let mut basis_codebook = Array2::zeros((k, m));
    for (row, &a) in probe.assignments.iter().enumerate() {
        let mut code = basis_codebook.row_mut(a);
        code -= &basis_z.row(row);
    }
    space.back_z(&mut path_z);
    space.back_z(&mut basis_z);
    space.back_codebook(&mut path_codebook);
    space.back_codebook(&mut basis_codebook);
    Parts {
        path_z,
        path_codebook,
        basis_z,
        basis_codebook,
    }
}

/// Where `observed` departs from `predicted` by more than `tol` (relative
/// to the tensor's scale), row by row.
fn departure(
    tensor: &'static str,
    observed: &Array2<f64>,
    predicted: &Array2<f64>,
    tol: f64,
    directions: Option<(&Array2<f64>, &Array2<f64>)>,
) -> Departure {
    let scale = max_abs(observed)
        .max(max_abs(predicted))
        .max(f64::MIN_POSITIVE);
    let residual = observed - predicted;
    let row_err: Vec<f64> = residual
        .outer_iter()
        .map(|r| r.iter().fold(0.0f64, |m, v| m.max(v.abs())) / scale)
        .collect();
    let worst_row = (0..row_err.len())
        .max_by(|&a, &b| row_err[a].total_cmp(&row_err[b]))
        .unwrap_or(0);
    let share = |dirs: &Array2<f64>| {
        let (mut along, mut total) = (0.0, 0.0);
        for (r, d) in residual.outer_iter().zip(dirs.outer_iter()) {
            let dd: f64 = d.iter().map(|v| v * v).sum();
            let rr: f64 = r.iter().map(|v| v * v).sum();
            total += rr;
            if dd > 0.0 {
                let rd: f64 = r.iter().zip(d.iter()).map(|(a, b)| a * b).sum();
                along += rd * rd / dd;
            }
        }
        if total > 0.0 {
            along / total
        } else {
            0.0
        }
    };
    Departure {
        tensor,
        rows_off: row_err.iter().filter(|&&e| e > tol).count(),
        rows: row_err.len(),
        worst_row,
        share_along_z: directions.map(|(z, _)| share(z)),
        share_along_residual: directions.map(|(_, r)| share(r)),
    }
}

fn candidate_paths(probe: &Probe) -> Vec<OutputPath> {
    let mut paths = vec![
        OutputPath::NoGradient,
        OutputPath::ToCodebook,
        OutputPath::Estimator(Estimator::Ste),
        OutputPath::Estimator(Estimator::ResidualProjection),
        OutputPath::Estimator(Estimator::RotationTrick),
    ];
    if probe.nsvq_directions.is_some() {
        paths.push(OutputPath::Estimator(Estimator::Nsvq));
    }
    if probe.gumbel_noise.is_some() {
        paths.push(OutputPath::Estimator(Estimator::Gumbel));
        paths.push(OutputPath::Estimator(Estimator::GumbelHard));
    }
    paths
}

fn forward_check(probe: &Probe, space: &FormSpace, form: Form) -> ForwardCheck {
    let mut nearest_rows = 0;
    let mut scale_sq = 0.0f64;
    for (row, &a) in probe.assignments.iter().enumerate() {
        let z = space.z.row(row);
        let dist: Vec<f64> = space
            .codebook
            .outer_iter()
            .map(|e| z.iter().zip(e.iter()).map(|(x, y)| (x - y) * (x - y)).sum())
            .collect();
        let best = dist.iter().copied().fold(f64::INFINITY, f64::min);
        let z_sq: f64 = z.iter().map(|v| v * v).sum();
        scale_sq = scale_sq.max(z_sq);
        if dist[a] <= best + 1e-6 * z_sq.max(dist[a]).max(1e-300) {
            nearest_rows += 1;
        }
    }
    let codes = space.codebook.select(Axis(0), &probe.assignments);
    let den = dot(&codes, &codes);
    ForwardCheck {
        form,
        nearest_rows,
        output_vs_code: tensor_error(&probe.output, &codes),
        output_scale: if den > 0.0 {
            dot(&probe.output, &codes) / den
        } else {
            0.0
        },
    }
}

/// Fits every candidate to `probe` and ranks them; `tol` is the largest
/// relative error a match allows.
pub fn identify(probe: &Probe, tol: f64) -> Identification {
    let (b, m, k) = probe.dims();
    let mut candidates = Vec::new();
    let mut forward = Vec::new();
    for form in [Form::Plain, Form::Cosine] {
        let space = FormSpace::new(probe, form);
        forward.push(forward_check(probe, &space, form));
        let residual_dirs = {
            let q = space.codebook.select(Axis(0), &probe.assignments);
            &probe.z - &q
        };
        for path in candidate_paths(probe) {
            let p = parts(probe, &space, path);
            let rest_z = &probe.grad_z - &p.path_z;
            for wiring in [Wiring::Separate, Wiring::Combined, Wiring::CodebookOutside] {
                let (c_z, c_e) = match (wiring, &probe.grad_codebook) {
                    (Wiring::CodebookOutside, _) => (fit(&rest_z, &p.basis_z), None),
                    // Without a codebook gradient only the outside wiring applies.
                    (_, None) => continue,
                    (Wiring::Separate, Some(g)) => {
                        let rest_e = g - &p.path_codebook;
                        (
                            fit(&rest_z, &p.basis_z),
                            Some(fit(&rest_e, &p.basis_codebook)),
                        )
                    }
                    (Wiring::Combined, Some(g)) => {
                        let rest_e = g - &p.path_codebook;
                        let den =
                            dot(&p.basis_z, &p.basis_z) + dot(&p.basis_codebook, &p.basis_codebook);
                        let c = if den == 0.0 {
                            0.0
                        } else {
                            (dot(&rest_z, &p.basis_z) + dot(&rest_e, &p.basis_codebook)) / den
                        };
                        (c, Some(c))
                    }
                };
                let pred_z = &p.path_z + &(&p.basis_z * c_z);
                let err_z = tensor_error(&probe.grad_z, &pred_z);
                let mut departures = Vec::new();
                if err_z > tol {
                    departures.push(departure(
                        "grad_z",
                        &probe.grad_z,
                        &pred_z,
                        tol,
                        Some((&probe.z, &residual_dirs)),
                    ));
                }
                let err_e = probe.grad_codebook.as_ref().map(|g| {
                    let pred = match c_e {
                        Some(c) => &p.path_codebook + &(&p.basis_codebook * c),
                        None => Array2::zeros((k, m)),
                    };
                    let err = tensor_error(g, &pred);
                    if err > tol {
                        departures.push(departure("grad_codebook", g, &pred, tol, None));
                    }
                    err
                });
                candidates.push(Fit {
                    path,
                    form,
                    wiring,
                    commitment: weight(c_z, (b, m)),
                    codebook: c_e.map(|c| weight(c, (b, m))),
                    err_grad_z: err_z,
                    err_grad_codebook: err_e,
                    error: err_z.max(err_e.unwrap_or(0.0)),
                    free: if wiring == Wiring::Separate { 2 } else { 1 },
                    departures,
                });
            }
        }
    }
    // Matches first, the simplest among them; then the fewest tensors off,
    // then by error.
    candidates.sort_by(|x, y| {
        let (mx, my) = (x.error <= tol, y.error <= tol);
        my.cmp(&mx)
            .then_with(|| {
                if mx && my {
                    x.free.cmp(&y.free)
                } else {
                    x.departures.len().cmp(&y.departures.len())
                }
            })
            .then_with(|| x.error.total_cmp(&y.error))
    });
    let matched = candidates.first().is_some_and(|c| c.error <= tol);
    let best = &candidates[0];
    let residual_sq: f64 = {
        let form = FormSpace::new(probe, best.form);
        let q = form.codebook.select(Axis(0), &probe.assignments);
        (&form.z - &q).iter().map(|v| v * v).sum()
    };
    // Each term w‖·‖² has the value c/2 · Σ‖z − q‖²; the combined wiring
    // is one term.
    let codebook_term = match best.wiring {
        Wiring::Separate => best.codebook.map_or(0.0, |w| w.coefficient),
        _ => 0.0,
    };
    let aux_loss_predicted = (best.commitment.coefficient + codebook_term) / 2.0 * residual_sq;
    let nearest = id_forward_nearest(&forward, best.form);
    let mut notes = notes(
        probe,
        best,
        tol,
        nearest,
        (probe.aux_loss, aux_loss_predicted),
    );
    if let Some(f) = forward.iter().find(|f| f.form == best.form) {
        let changes_forward = matches!(
            best.path,
            OutputPath::Estimator(Estimator::Nsvq | Estimator::Gumbel | Estimator::GumbelHard)
        );
        if f.output_vs_code > tol && !changes_forward {
            notes.push(format!(
                "the output is not the assigned code (error {:.1e}; least-squares scale {:.4}): a rescaled or shifted code, or a different forward in training",
                f.output_vs_code, f.output_scale
            ));
        }
    }
    Identification {
        rows: b,
        width: m,
        codes: k,
        tolerance: tol,
        forward,
        candidates,
        matched,
        aux_loss_predicted,
        aux_loss_returned: probe.aux_loss,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::layer_check::probe::ProbeMeta;
    use crate::numerics::linalg::gaussian_matrix;
    use crate::numerics::quantize::nearest_codes;
    use crate::numerics::rng::{rng_for, Stream};

    /// A probe of a plain layer with `estimator` and weights (c_z, c_e) on
    /// the gradients, built from the f64 rules directly.
    fn synthetic(estimator: Estimator, c_z: f64, c_e: f64) -> Probe {
        let mut rng = rng_for(11, Stream::Harness);
        let (z, codebook, upstream) = (
            gaussian_matrix(40, 3, &mut rng),
            gaussian_matrix(7, 3, &mut rng),
            gaussian_matrix(40, 3, &mut rng),
        );
        let assignments = nearest_codes(z.view(), codebook.view());
        let q = codebook.select(Axis(0), &assignments);
        let mut grad_z = upstream.clone();
        let mut grad_codebook = Array2::zeros((7, 3));
        let mut path = QuantizerPath::default();
        let _ = path.forward(
            estimator,
            z.view(),
            q.view(),
            codebook.view(),
            &Draws::none(),
        );
        path.backward(
            estimator,
            (z.view(), q.view(), codebook.view()),
            (&assignments, &Draws::none()),
            &mut grad_z,
            &mut grad_codebook,
        );
        grad_z.scaled_add(c_z, &(&z - &q));
        for (row, &a) in assignments.iter().enumerate() {
            let mut code = grad_codebook.row_mut(a);
            code.scaled_add(c_e, &(&q.row(row) - &z.row(row)));
        }
        Probe {
            dir: Default::default(),
            output: q,
            z,
            codebook,
            assignments,
            aux_loss: 0.0,
            upstream,
            grad_z,
            grad_codebook: Some(grad_codebook),
            nsvq_directions: None,
            gumbel_noise: None,
            meta: ProbeMeta::default(),
        }
    }

    #[test]
    fn known_weights_and_estimators_are_recovered() {
        for estimator in [
            Estimator::Ste,
            Estimator::ResidualProjection,
            Estimator::RotationTrick,
        ] {
            let id = identify(&synthetic(estimator, 0.03, 0.11), 1e-9);
            let best = &id.candidates[0];
            assert!(id.matched, "{estimator:?}: {best:?}");
            assert_eq!(best.path, OutputPath::Estimator(estimator));
            assert_eq!((best.form, best.wiring), (Form::Plain, Wiring::Separate));
            assert!((best.commitment.coefficient - 0.03).abs() < 1e-12);
            assert!((best.codebook.unwrap().coefficient - 0.11).abs() < 1e-12);
            // B = 40 rows, m = 3: c·B/2 and c·B·m/2.
            assert!((best.commitment.row_mean - 0.6).abs() < 1e-12);
            assert!((best.commitment.mse_mean - 1.8).abs() < 1e-12);
            // No other output path matches.
            assert!(id.candidates[1..]
                .iter()
                .filter(|c| c.error <= 1e-9)
                .all(|c| c.path == best.path));
        }
        // Equal weights: the one-term wiring, the simpler, ranks first.
        let id = identify(&synthetic(Estimator::Ste, 0.05, 0.05), 1e-9);
        assert_eq!(id.candidates[0].wiring, Wiring::Combined);
        assert_eq!(id.candidates[1].wiring, Wiring::Separate);
    }

    #[test]
    fn a_forgotten_straight_through_and_a_detached_output_are_named() {
        // output = q taken from the codebook: u flows to the codes, not z.
        let mut probe = synthetic(Estimator::Ste, 0.03, 0.11);
        let q = probe.output.clone();
        probe.grad_z = (&probe.z - &q) * 0.03;
        for (row, &a) in probe.assignments.clone().iter().enumerate() {
            let mut code = probe.grad_codebook.as_mut().unwrap().row_mut(a);
            code += &probe.upstream.row(row);
        }
        let id = identify(&probe, 1e-9);
        assert!(id.matched);
        assert_eq!(id.candidates[0].path, OutputPath::ToCodebook);
        assert!(
            id.notes.iter().any(|n| n.contains("STE forgotten")),
            "{:?}",
            id.notes
        );
        // Nothing through the output at all.
        let mut probe = synthetic(Estimator::Ste, 0.03, 0.11);
        probe.grad_z = (&probe.z - &probe.output) * 0.03;
        let id = identify(&probe, 1e-9);
        assert_eq!(id.candidates[0].path, OutputPath::NoGradient);
        assert!(id
            .notes
            .iter()
            .any(|n| n.contains("no reconstruction gradient")));
    }

    #[test]
    fn a_swapped_weight_is_noted_and_a_change_is_located() {
        let id = identify(&synthetic(Estimator::Ste, 0.2, 0.05), 1e-9);
        assert!(
            id.notes.iter().any(|n| n.contains("wrong term")),
            "{:?}",
            id.notes
        );
        let mut probe = synthetic(Estimator::RotationTrick, 0.03, 0.11);
        // Add a radial component to row 5 only.
        let extra = probe.z.row(5).to_owned() * 0.5;
        probe.grad_z.row_mut(5).scaled_add(1.0, &extra);
        let id = identify(&probe, 1e-9);
        assert!(!id.matched);
        let d = &id.candidates[0].departures[0];
        assert_eq!((d.tensor, d.worst_row), ("grad_z", 5));
        assert!(d.share_along_z.unwrap() > 0.99, "{d:?}");
    }
}
