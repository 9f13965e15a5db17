//! The tied model (the report's): z = Wᵀx, x̂ = W q̃, W ∈ St(D, m), with its
//! hand-derived gradients on ndarray.
//!
//! # Derivation
//!
//! Batch X (B × D). Forward: Z = X W (B × m); a_b = argmin_k ‖z_b − e_k‖²;
//! Q = rows e_{a_b} (B × m); the residual R = X − Q Wᵀ (B × D). The loss is
//!
//! L = (1/B) ‖R‖² + (α/B) ‖sg(Z) − Q‖² + (β/B) ‖Z − sg(Q)‖²   (Frobenius norms).
//!
//! *Reconstruction, decoder path.* x̂_b = W q̃_b, so ∂L/∂x̂_b = −(2/B) r_b and
//! ∂L/∂W|_dec = Σ_b (−2/B) r_b q̃_bᵀ = −(2/B) Rᵀ Q.
//!
//! *Reconstruction, through q̃.* g_b = ∂L/∂q̃_b = Wᵀ ∂L/∂x̂_b, i.e.
//! G = −(2/B) R W (B × m). The estimator turns it into ∂L/∂z_b:
//! STE: g_b; residual projection: (g_b·u_b) u_b with u_b = (q_b − z_b)/‖q_b − z_b‖
//! (0 when q_b = z_b); rotation trick: λ_b R_bᵀ g_b (see [`super::estimator`]).
//!
//! *Commitment.* ∂/∂z_b of (β/B)‖z_b − sg(q_b)‖² is (2β/B)(z_b − q_b).
//!
//! *Encoder.* z_b = Wᵀ x_b, so ∂L/∂W|_enc = Σ_b x_b (∂L/∂z_b)ᵀ = Xᵀ G_z with
//! G_z = T(G) + (2β/B)(Z − Q).
//!
//! *Codebook.* Only the α term reaches E (q̃ carries nothing to E, sg(z) is a
//! constant): ∂L/∂e_k = (2α/B) Σ_{b: a_b = k} (e_k − z_b).
//!
//! Altogether: ∂L/∂W = Xᵀ G_z − (2/B) Rᵀ Q, ∂L/∂E as above.
//!
//! # How it is computed
//!
//! The B × D residual R is never formed. Exact reassociations (they hold for
//! any W, orthonormal or not) reduce the step to two skinny GEMMs over the
//! batch, Z = X W and Xᵀ M:
//!
//! * R W = X W − Q (WᵀW) = Z − Q (WᵀW), so G = −(2/B)(Z − Q WᵀW);
//! * Rᵀ Q = XᵀQ − W (QᵀQ), so ∂L/∂W = Xᵀ (G_z − (2/B) Q) + (2/B) W (QᵀQ);
//! * ‖r_b‖² = ‖x_b‖² − 2 z_b·q_b + q_bᵀ (WᵀW) q_b for the loss.
//!
//! All buffers live in a workspace sized on first use: after that a step
//! allocates nothing.
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Zip};

use super::estimator::{backward_row, backward_rows, Draws};
use super::{
    check_batch, gather_rows, quantize_rows, Estimator, GradientMethod, Gradients, LossParts,
    LossWeights, Manifold, MethodSpec, Model, ModelKind, ModelSpec, ParamInfo, Params, Side,
};
use crate::error::{Result, VqError};
use crate::numerics::linalg::random_stiefel;
use crate::numerics::metrics::{self, Metrics};
use rand::RngCore;
use tch::Tensor;

use crate::numerics::quantize::{nearest_row, NearestCode, ROW_LOOP_MAX_M};

/// The report's model: z = Wᵀx, x̂ = W q̃, W (D × m) on the Stiefel
/// manifold.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tied;

impl Model for Tied {
    fn kind(&self) -> ModelKind {
        ModelKind::Tied
    }

    fn param_count(&self, _: &ModelSpec) -> usize {
        1
    }

    fn param_info(&self, _: &ModelSpec, index: usize, dim: usize, m: usize) -> ParamInfo {
        assert_eq!(index, 0, "the tied model has no parameter {index}");
        ParamInfo {
            name: "W",
            shape: (dim, m),
            manifold: Manifold::Stiefel,
        }
    }

    fn manifold_of(&self, _: usize) -> Manifold {
        Manifold::Stiefel
    }

    fn sides_of(&self, _: &ModelSpec, _: usize) -> &'static [Side] {
        &[Side::Encode, Side::Decode]
    }

    fn data_dim(&self, _: &ModelSpec, weights: &[Array2<f64>]) -> usize {
        weights[0].nrows()
    }

    fn row_cost(&self, _: &ModelSpec, m: usize) -> f64 {
        m as f64
    }

    fn encode(&self, params: &Params, x: ArrayView2<f64>) -> Array2<f64> {
        x.dot(&params.weights[0])
    }

    fn decode(&self, params: &Params, q: ArrayView2<f64>) -> Array2<f64> {
        q.dot(&params.weights[0].t())
    }

    /// The tied model's metrics carry the residual ‖x − WWᵀx‖².
    fn evaluate(&self, params: &Params, x: ArrayView2<f64>) -> Metrics {
        metrics::evaluate(x, params.weights[0].view(), params.codebook.view())
    }

    fn starts_from_basis(&self) -> bool {
        true
    }

    fn network_from_basis(&self, w: Array2<f64>) -> Vec<Array2<f64>> {
        vec![w]
    }

    fn random_network(
        &self,
        _: &ModelSpec,
        dim: usize,
        m: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Vec<Array2<f64>>> {
        Ok(vec![random_stiefel(dim, m, rng)?])
    }

    fn manual(&self, spec: MethodSpec, weights: LossWeights) -> Box<dyn GradientMethod> {
        Box::new(TiedManual::new(spec.estimator, weights))
    }

    fn forward(&self, _: &ModelSpec, w: &[Tensor], side: Side, input: &Tensor) -> Tensor {
        match side {
            Side::Encode => input.matmul(&w[0]),
            Side::Decode => input.matmul(&w[0].tr()),
        }
    }
}

/// Buffers of one manual step, reused across steps.
#[derive(Debug, Clone, Default)]
struct Workspace {
    z: Array2<f64>,
    q: Array2<f64>,
    wtw: Array2<f64>,
    grad_z: Array2<f64>,
    qtq: Array2<f64>,
    counts: Vec<usize>,
    nearest: NearestCode,
    codebook_t: Array2<f64>,
    code_norms: Vec<f64>,
    scores: Vec<f64>,
    zsum: Array2<f64>,
    identity: Vec<usize>,
    batch: Array2<f64>,
}

impl Workspace {
    fn fit(&mut self, b: usize, m: usize, k: usize) {
        if self.z.dim() != (b, m) {
            self.z = Array2::zeros((b, m));
            self.q = Array2::zeros((b, m));
            self.grad_z = Array2::zeros((b, m));
        }
        if self.wtw.dim() != (m, m) {
            self.wtw = Array2::zeros((m, m));
            self.qtq = Array2::zeros((m, m));
        }
        if self.counts.len() != k {
            self.counts = vec![0; k];
        }
    }
}

/// The tied model's gradients from the derivation above. The estimators
/// that change q̃'s forward value (NSVQ, Gumbel) take the linear models'
/// general step ([`super::untied`], with V = W).
#[derive(Debug, Clone)]
pub struct TiedManual {
    estimator: Estimator,
    weights: LossWeights,
    work: Workspace,
    general: super::untied::Workspace,
}
impl TiedManual {
    /// The manual tied method for `estimator`.
    pub fn new(estimator: Estimator, weights: LossWeights) -> Self {
        TiedManual {
            estimator,
            weights,
            work: Workspace::default(),
            general: Default::default(),
        }
    }
}

impl TiedManual {
    /// One step's loss and gradients on `rows` of `data` (all rows when
    /// `None`). Small code dimensions take the fused row kernel, larger ones
    /// the GEMM path on the gathered batch.
    fn compute(
        &mut self,
        params: &Params,
        data: ArrayView2<f64>,
        rows: Option<&[usize]>,
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()> {
        if params.model.kind != ModelKind::Tied {
            return Err(VqError::Shape(format!(
                "the tied method got parameters of the {} model",
                params.model.kind.name()
            )));
        }
        check_batch(params, data.ncols(), rows.map(|r| (r, data.nrows())))?;
        if self.estimator.changes_forward() {
            let choices = (self.estimator, draws);
            return match rows {
                None => self
                    .general
                    .compute(choices, self.weights, params, data, out),
                Some(rows) => {
                    let mut batch = std::mem::take(&mut self.work.batch);
                    gather_rows(data, rows, &mut batch);
                    let result =
                        self.general
                            .compute(choices, self.weights, params, batch.view(), out);
                    self.work.batch = batch;
                    result
                }
            };
        }
        let m = params.code_dim();
        if m <= ROW_LOOP_MAX_M && data.is_standard_layout() {
            let b = rows.map_or(data.nrows(), |r| r.len());
            if self.work.identity.len() != b {
                self.work.identity = (0..b).collect();
            }
            let mut identity = std::mem::take(&mut self.work.identity);
            let result = self.fused(params, data, rows.unwrap_or(&identity), out);
            std::mem::swap(&mut identity, &mut self.work.identity);
            return result;
        }
        match rows {
            None => self.gemm_path(params, data, out),
            Some(rows) => {
                let mut batch = std::mem::take(&mut self.work.batch);
                gather_rows(data, rows, &mut batch);
                let result = self.gemm_path(params, batch.view(), out);
                self.work.batch = batch;
                result
            }
        }
    }

    /// The fused row kernel: each batch row is read once, straight from the
    /// training matrix, and contributes z, its code, its loss terms, and its
    /// outer product x mᵀ to ∂L/∂W (the formulas of the module doc, row by
    /// row). Dispatches on m so the coordinate loops unroll, and runs an
    /// AVX2 + FMA build where the processor has them. The products are summed
    /// with explicit fused multiply-adds (`mul_add`, one rounding), so every
    /// build gives bit-identical results (without FMA hardware `mul_add` is
    /// exact in software, only slower).
    fn fused(
        &mut self,
        params: &Params,
        data: ArrayView2<f64>,
        rows: &[usize],
        out: &mut Gradients,
    ) -> Result<()> {
        let (d, m) = params.w().dim();
        let k = params.codebook.nrows();
        let b = rows.len();
        let ws = &mut self.work;
        ws.fit(b, m, k);
        out.fit(params, b);
        if ws.codebook_t.dim() != (m, k) {
            ws.codebook_t = Array2::zeros((m, k));
            ws.zsum = Array2::zeros((k, m));
        }
        ws.codebook_t.assign(&params.codebook.t());
        ws.code_norms.resize(k, 0.0);
        ws.scores.resize(k, 0.0);
        for (n, e) in ws.code_norms.iter_mut().zip(params.codebook.outer_iter()) {
            *n = e.iter().map(|v| v * v).sum();
        }
        general_mat_mul(1.0, &params.w().t(), params.w(), 0.0, &mut ws.wtw);
        let kernel = FusedInputs {
            data: data
                .as_slice()
                .expect("standard layout checked by the caller"),
            dim: d,
            rows,
            w: params.w().as_slice().expect("W is standard layout"),
            codes: params.codebook.as_slice().expect("E is standard layout"),
            scale: 1.0 / b as f64,
            beta: self.weights.beta,
            estimator: self.estimator,
        };
        let (recon_total, insub_total) = run_fused(&kernel, ws, out, m);
        let scale = kernel.scale;
        let LossWeights { alpha, beta } = self.weights;
        let (recon, insub) = (recon_total * scale, insub_total * scale);
        out.loss = LossParts::from_distortions(recon, insub, LossWeights { alpha, beta });
        // ∂L/∂W += (2/B) W (QᵀQ), QᵀQ = Σ_k n_k e_k e_kᵀ.
        ws.qtq.fill(0.0);
        for (e, &n) in params.codebook.outer_iter().zip(ws.counts.iter()) {
            if n > 0 {
                for i in 0..m {
                    for j in 0..m {
                        ws.qtq[[i, j]] += n as f64 * e[i] * e[j];
                    }
                }
            }
        }
        general_mat_mul(
            2.0 * scale,
            params.w(),
            &ws.qtq,
            1.0,
            &mut out.grad_weights[0],
        );
        // ∂L/∂e_k = (2α/B)(n_k e_k − Σ_{a_b = k} z_b).
        for (((mut g, e), zs), &n) in out
            .grad_e
            .outer_iter_mut()
            .zip(params.codebook.outer_iter())
            .zip(ws.zsum.outer_iter())
            .zip(ws.counts.iter())
        {
            for i in 0..m {
                g[i] = 2.0 * alpha * scale * (n as f64 * e[i] - zs[i]);
            }
        }
        Ok(())
    }

    fn gemm_path(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        out: &mut Gradients,
    ) -> Result<()> {
        let (w, codebook) = (params.w(), &params.codebook);
        let b = batch.nrows();
        let (m, k) = (w.ncols(), codebook.nrows());
        let scale = 1.0 / b as f64;
        let LossWeights { alpha, beta } = self.weights;
        let ws = &mut self.work;
        ws.fit(b, m, k);
        out.fit(params, b);

        // Forward: Z = X W, assignments, Q.
        general_mat_mul(1.0, &batch, w, 0.0, &mut ws.z);
        let insub_total = quantize_rows(
            &mut ws.nearest,
            ws.z.view(),
            codebook.view(),
            &mut out.assignments,
            &mut ws.q,
        );
        general_mat_mul(1.0, &w.t(), w, 0.0, &mut ws.wtw);

        // ‖r_b‖² = ‖x_b‖² − 2 z_b·q_b + q_bᵀ (WᵀW) q_b (plain loops: a BLAS
        // call per row would cost more than the row).
        let mut recon_total = 0.0;
        for ((x, z), q) in batch
            .outer_iter()
            .zip(ws.z.outer_iter())
            .zip(ws.q.outer_iter())
        {
            let x_sq: f64 = match x.as_slice() {
                Some(xs) => xs.iter().map(|v| v * v).sum(),
                None => x.iter().map(|v| v * v).sum(),
            };
            let mut cross = 0.0;
            let mut quad = 0.0;
            for i in 0..m {
                cross += z[i] * q[i];
                let mut row = 0.0;
                for j in 0..m {
                    row += ws.wtw[[i, j]] * q[j];
                }
                quad += q[i] * row;
            }
            recon_total += x_sq - 2.0 * cross + quad;
        }
        let recon = recon_total * scale;
        let insub = insub_total * scale;
        out.loss = LossParts::from_distortions(recon, insub, LossWeights { alpha, beta });

        // G = −(2/B) R W = −(2/B)(Z − Q WᵀW), then the estimator's rule.
        ws.grad_z.assign(&ws.z);
        general_mat_mul(-1.0, &ws.q, &ws.wtw, 1.0, &mut ws.grad_z);
        ws.grad_z.mapv_inplace(|v| -2.0 * scale * v);
        backward_rows(self.estimator, &mut ws.grad_z, ws.z.view(), ws.q.view());
        // Commitment: + (2β/B)(Z − Q); then M = G_z − (2/B) Q in place.
        Zip::from(&mut ws.grad_z)
            .and(&ws.z)
            .and(&ws.q)
            .for_each(|g, &z, &q| {
                *g += 2.0 * beta * scale * (z - q) - 2.0 * scale * q;
            });

        // ∂L/∂W = Xᵀ M + (2/B) W (QᵀQ), QᵀQ = Σ_k n_k e_k e_kᵀ.
        general_mat_mul(1.0, &batch.t(), &ws.grad_z, 0.0, &mut out.grad_weights[0]);
        ws.counts.iter_mut().for_each(|c| *c = 0);
        for &a in out.assignments.iter() {
            ws.counts[a] += 1;
        }
        ws.qtq.fill(0.0);
        for (e, &n) in codebook.outer_iter().zip(ws.counts.iter()) {
            if n > 0 {
                for i in 0..m {
                    for j in 0..m {
                        ws.qtq[[i, j]] += n as f64 * e[i] * e[j];
                    }
                }
            }
        }
        general_mat_mul(2.0 * scale, w, &ws.qtq, 1.0, &mut out.grad_weights[0]);

        out.codes.assign(&ws.z);
        // ∂L/∂e_k = (2α/B) Σ_{a_b = k} (e_k − z_b) = (2α/B)(n_k e_k − Σ z_b).
        for ((mut g, e), &n) in out
            .grad_e
            .outer_iter_mut()
            .zip(codebook.outer_iter())
            .zip(ws.counts.iter())
        {
            g.assign(&e);
            g.mapv_inplace(|v| v * (2.0 * alpha * scale * n as f64));
        }
        for (z, &a) in ws.z.outer_iter().zip(out.assignments.iter()) {
            out.grad_e.row_mut(a).scaled_add(-2.0 * alpha * scale, &z);
        }
        Ok(())
    }
}

/// Asks the processor to start loading a row that will be needed soon (the
/// batch rows are scattered over the training matrix, so each is a cache
/// miss otherwise).
#[inline(always)]
fn prefetch_row(row: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    for chunk in row.chunks(8) {
        // SAFETY: a prefetch is only a hint; the pointer is valid.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                chunk.as_ptr().cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// What the fused kernel reads.
struct FusedInputs<'a> {
    data: &'a [f64],
    dim: usize,
    rows: &'a [usize],
    w: &'a [f64],
    codes: &'a [f64],
    scale: f64,
    beta: f64,
    estimator: Estimator,
}

fn run_fused(inp: &FusedInputs, ws: &mut Workspace, out: &mut Gradients, m: usize) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if crate::infra::kernels::has_avx2_fma() {
        // SAFETY: the processor supports AVX2 and FMA (checked just above).
        return unsafe { run_fused_avx2(inp, ws, out, m) };
    }
    run_fused_portable(inp, ws, out, m)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_fused_avx2(
    inp: &FusedInputs,
    ws: &mut Workspace,
    out: &mut Gradients,
    m: usize,
) -> (f64, f64) {
    run_fused_portable(inp, ws, out, m)
}

#[inline(always)]
fn run_fused_portable(
    inp: &FusedInputs,
    ws: &mut Workspace,
    out: &mut Gradients,
    m: usize,
) -> (f64, f64) {
    macro_rules! dispatch {
        ($($n:literal),*) => {
            match m {
                $($n => fused_rows::<$n>(inp, ws, out),)*
                _ => unreachable!("m ≤ ROW_LOOP_MAX_M"),
            }
        };
    }
    dispatch!(1, 2, 3, 4, 5, 6, 7, 8)
}

/// The per-row work for code dimension `M`. Returns (Σ‖r_b‖², Σ‖z_b − q_b‖²)
/// and fills ∂L/∂W (without the W(QᵀQ) term), the assignments, the code
/// counts and the per-code sums of z.
// Index loops over fixed-size M × M and M arrays read as the formulas do.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn fused_rows<const M: usize>(
    inp: &FusedInputs,
    ws: &mut Workspace,
    out: &mut Gradients,
) -> (f64, f64) {
    let d = inp.dim;
    let k = ws.code_norms.len();
    let s = inp.scale;
    let grad_w = out.grad_weights[0].as_slice_mut().expect("standard layout");
    let codes = out.codes.as_slice_mut().expect("standard layout");
    grad_w.fill(0.0);
    ws.counts.iter_mut().for_each(|c| *c = 0);
    ws.zsum.fill(0.0);
    let zsum = ws.zsum.as_slice_mut().expect("standard layout");
    let et = ws.codebook_t.as_slice().expect("standard layout");
    let mut wtw = [[0.0; M]; M];
    for i in 0..M {
        for j in 0..M {
            wtw[i][j] = ws.wtw[[i, j]];
        }
    }
    let (mut recon_total, mut insub_total) = (0.0, 0.0);
    // Rows go in groups of four: each row's z, code and g first, then one pass
    // over ∂L/∂W adds the four outer products (a quarter of the loads and
    // stores of ∂L/∂W), while the next group's rows are being prefetched.
    let mut base = 0;
    while base < inp.rows.len() {
        let group = &inp.rows[base..(base + 4).min(inp.rows.len())];
        if let Some(next) = inp.rows.get(base + 4..(base + 8).min(inp.rows.len())) {
            for &r in next {
                prefetch_row(&inp.data[r * d..(r + 1) * d]);
            }
        }
        let mut gs = [[0.0; M]; 4];
        let mut xs: [&[f64]; 4] = [&inp.data[group[0] * d..(group[0] + 1) * d]; 4];
        for (u, &r) in group.iter().enumerate() {
            let x = &inp.data[r * d..(r + 1) * d];
            xs[u] = x;
            // z = Wᵀx and ‖x‖², in four interleaved partial sums (one running
            // sum would be a D-long chain of dependent additions).
            let mut z_parts = [[0.0; M]; 4];
            let mut sq_parts = [0.0; 4];
            let x_chunks = x.chunks_exact(4);
            let x_rest = x_chunks.remainder();
            for (xc, wc) in x_chunks.zip(inp.w.chunks_exact(4 * M)) {
                for u in 0..4 {
                    let xj = xc[u];
                    sq_parts[u] = xj.mul_add(xj, sq_parts[u]);
                    for i in 0..M {
                        z_parts[u][i] = xj.mul_add(wc[u * M + i], z_parts[u][i]);
                    }
                }
            }
            let rest_start = d - x_rest.len();
            for (t, &xj) in x_rest.iter().enumerate() {
                sq_parts[t] = xj.mul_add(xj, sq_parts[t]);
                for i in 0..M {
                    z_parts[t][i] = xj.mul_add(inp.w[(rest_start + t) * M + i], z_parts[t][i]);
                }
            }
            let x_sq = (sq_parts[0] + sq_parts[1]) + (sq_parts[2] + sq_parts[3]);
            let mut z = [0.0; M];
            for i in 0..M {
                z[i] = (z_parts[0][i] + z_parts[1][i]) + (z_parts[2][i] + z_parts[3][i]);
            }
            codes[(base + u) * M..(base + u + 1) * M].copy_from_slice(&z);
            // The code.
            let a = nearest_row::<M>(&z, et, &ws.code_norms, &mut ws.scores, k);
            out.assignments[base + u] = a;
            let q: &[f64; M] = inp.codes[a * M..(a + 1) * M].try_into().expect("M values");
            // q (WᵀW), the loss terms.
            let mut qw = [0.0; M];
            let (mut cross, mut quad, mut dist) = (0.0, 0.0, 0.0);
            for i in 0..M {
                for j in 0..M {
                    qw[i] += wtw[i][j] * q[j];
                }
                cross += z[i] * q[i];
                dist += (z[i] - q[i]) * (z[i] - q[i]);
            }
            for i in 0..M {
                quad += q[i] * qw[i];
            }
            recon_total += x_sq - 2.0 * cross + quad;
            insub_total += dist;
            // G = −(2/B)(z − q WᵀW), the estimator's rule, the commitment term,
            // then m = G_z − (2/B) q.
            let mut g = [0.0; M];
            for i in 0..M {
                g[i] = -2.0 * s * (z[i] - qw[i]);
            }
            backward_row(inp.estimator, &mut g, &z, q);
            for i in 0..M {
                g[i] += 2.0 * inp.beta * s * (z[i] - q[i]) - 2.0 * s * q[i];
            }
            gs[u] = g;
            ws.counts[a] += 1;
            for i in 0..M {
                zsum[a * M + i] += z[i];
            }
        }
        // ∂L/∂W += Σ_u x_u g_uᵀ (rows missing from a short last group have
        // g = 0 and add exact zeros).
        for (j, gw) in grad_w.chunks_exact_mut(M).enumerate() {
            let (x0, x1, x2, x3) = (xs[0][j], xs[1][j], xs[2][j], xs[3][j]);
            for i in 0..M {
                gw[i] = x3.mul_add(
                    gs[3][i],
                    x2.mul_add(gs[2][i], x1.mul_add(gs[1][i], x0.mul_add(gs[0][i], gw[i]))),
                );
            }
        }
        base += group.len();
    }
    (recon_total, insub_total)
}
impl GradientMethod for TiedManual {
    fn spec(&self) -> MethodSpec {
        MethodSpec::new(
            ModelSpec::of(ModelKind::Tied),
            self.estimator,
            super::Backend::Manual,
        )
    }

    fn gradients_into(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()> {
        self.compute(params, batch, None, draws, out)
    }

    fn gradients_rows(
        &mut self,
        params: &Params,
        data: ArrayView2<f64>,
        rows: &[usize],
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()> {
        self.compute(params, data, Some(rows), draws, out)
    }
}
