//! Parameters, the loss weights and parts, and gradients: what every method
//! reads and writes.
#[allow(unused_imports)]
use super::*;

/// A model's parameters: the network weights (in the order of
/// [`ModelSpec::layout`]) and the codebook E (K × m, one code per row).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// The model these parameters belong to.
    pub model: ModelSpec,
    /// The network parameters: `[W]` (tied), `[W, V]` (untied),
    /// `[A1, a1, A2, a2, B1, b1, B2, b2]` (mlp).
    pub weights: Vec<Array2<f64>>,
    /// Codebook, K × m.
    pub codebook: Array2<f64>,
}

impl Params {
    /// The tied model's parameters: encoder / decoder W (D × m) and E.
    pub fn tied(w: Array2<f64>, codebook: Array2<f64>) -> Self {
        Params {
            model: ModelSpec::of(ModelKind::Tied),
            weights: vec![w],
            codebook,
        }
    }

    /// The encoder W (D × m) of a linear model (`tied`, `untied`).
    ///
    /// # Panics
    /// For the `mlp` model, which has no W.
    pub fn w(&self) -> &Array2<f64> {
        assert!(
            self.model.model().starts_from_basis(),
            "the {} model has no encoder matrix W",
            self.model.kind.name()
        );
        &self.weights[0]
    }

    /// The data dimension D.
    pub fn dim(&self) -> usize {
        self.model.model().data_dim(&self.model, &self.weights)
    }

    /// Latent vectors per data row ([`Model::latent_positions`]).
    pub fn latent_positions(&self) -> usize {
        self.model.latent_positions()
    }

    /// Quantizer rows of a batch of `b` data rows.
    pub fn latent_rows(&self, b: usize) -> usize {
        b * self.latent_positions()
    }

    /// The code dimension m.
    pub fn code_dim(&self) -> usize {
        self.codebook.ncols()
    }

    /// The layout of these parameters.
    pub fn layout(&self) -> Vec<ParamInfo> {
        self.model.layout(self.dim(), self.code_dim())
    }

    /// The codes z = enc(x) of every row of `x` (N × D → N × m).
    pub fn encode(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.model.model().encode(self, x)
    }

    /// The reconstructions x̂ = dec(q) of every row of `q` (N × m → N × D).
    pub fn decode(&self, q: ArrayView2<f64>) -> Array2<f64> {
        self.model.model().decode(self, q)
    }

    /// The nearest code of every latent vector of `x`'s rows (N·P of them,
    /// P latent vectors per row) and the rows' reconstructions from those
    /// codes, x̂ = dec(e_a) (N × D): what the model's quantized path makes
    /// of `x`.
    pub fn reconstruct(&self, x: ArrayView2<f64>) -> (Vec<usize>, Array2<f64>) {
        let z = self.encode(x);
        let codes = crate::numerics::quantize::nearest_codes(z.view(), self.codebook.view());
        let q = self.codebook.select(ndarray::Axis(0), &codes);
        (codes, self.decode(q.view()))
    }

    /// The metrics of these parameters on every row of `x` (N×D): z =
    /// enc(x), the nearest codes, x̂ = dec(q). The tied model goes through
    /// [`metrics::evaluate`] (and gets a residual); the others get
    /// `residual: null`.
    pub fn evaluate(&self, x: ArrayView2<f64>) -> Metrics {
        self.model.model().evaluate(self, x)
    }

    /// Checks that the weights have the shapes of the model's layout
    /// (allocates nothing unless they do not).
    pub fn check_shapes(&self) -> Result<()> {
        let count = self.model.param_count();
        if count != self.weights.len() {
            return Err(VqError::Shape(format!(
                "the {} model has {} parameters besides E, got {}",
                self.model.kind.name(),
                count,
                self.weights.len()
            )));
        }
        let (dim, m) = (self.dim(), self.code_dim());
        for (i, w) in self.weights.iter().enumerate() {
            let info = self.model.param_info(i, dim, m);
            if w.dim() != info.shape {
                return Err(VqError::Shape(format!(
                    "{} is {}x{}, the {} model needs {}x{}",
                    info.name,
                    w.nrows(),
                    w.ncols(),
                    self.model.kind.name(),
                    info.shape.0,
                    info.shape.1
                )));
            }
        }
        Ok(())
    }
}

/// The weights of the two auxiliary loss terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossWeights {
    /// α: weight of the codebook term ‖sg(z) − q‖².
    pub alpha: f64,
    /// β: weight of the commitment term ‖z − sg(q)‖².
    pub beta: f64,
}

/// The loss on one batch, by part (each already weighted and averaged).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct LossParts {
    /// (1/B) Σ ‖x − dec(q)‖².
    pub recon: f64,
    /// α (1/B) Σ ‖z − q‖².
    pub codebook: f64,
    /// β (1/B) Σ ‖z − q‖².
    pub commitment: f64,
    /// The sum of the three.
    pub total: f64,
}

impl LossParts {
    /// In the data's units, for data divided by `scale` (every part is a
    /// squared norm: × scale²).
    pub fn in_units(self, scale: f64) -> LossParts {
        if scale == 1.0 {
            return self;
        }
        let sq = scale * scale;
        LossParts {
            recon: self.recon * sq,
            codebook: self.codebook * sq,
            commitment: self.commitment * sq,
            total: self.total * sq,
        }
    }

    /// The parts from the batch's mean reconstruction error and mean
    /// in-subspace distortion (1/B) Σ ‖z − q‖² (the α and β terms have the
    /// same forward value).
    pub fn from_distortions(recon: f64, insub: f64, weights: LossWeights) -> Self {
        let LossWeights { alpha, beta } = weights;
        LossParts {
            recon,
            codebook: alpha * insub,
            commitment: beta * insub,
            total: recon + (alpha + beta) * insub,
        }
    }
}

/// What a method returns for one batch.
#[derive(Debug, Clone)]
pub struct Gradients {
    /// The loss parts at the parameters on the batch.
    pub loss: LossParts,
    /// ∂L/∂θ (Euclidean) of every network parameter, in the order of
    /// [`Params::weights`].
    pub grad_weights: Vec<Array2<f64>>,
    /// ∂L/∂E, K × m.
    pub grad_e: Array2<f64>,
    /// The code of every latent vector of the batch (one per row, or P
    /// per row for `conv`).
    pub assignments: Vec<usize>,
    /// The codes z = enc(x) of the batch ((B·P) × m), for the codebook
    /// updates that average them (EMA, dead-code restart).
    pub codes: Array2<f64>,
}

impl Gradients {
    /// Empty gradients, to be filled by [`GradientMethod::gradients_into`].
    pub fn empty() -> Self {
        Gradients {
            loss: LossParts::default(),
            grad_weights: Vec::new(),
            grad_e: Array2::zeros((0, 0)),
            assignments: Vec::new(),
            codes: Array2::zeros((0, 0)),
        }
    }

    /// ∂L/∂W of a linear model (the first network parameter).
    pub fn grad_w(&self) -> &Array2<f64> {
        &self.grad_weights[0]
    }

    /// Sizes the buffers for `params` and a batch of `b` rows (allocating
    /// only when a shape changes).
    pub fn fit(&mut self, params: &Params, b: usize) {
        let b = params.latent_rows(b);
        self.grad_weights
            .resize_with(params.weights.len(), || Array2::zeros((0, 0)));
        for (g, w) in self.grad_weights.iter_mut().zip(&params.weights) {
            fit_buffer(g, w.dim());
        }
        fit_buffer(&mut self.grad_e, params.codebook.dim());
        fit_buffer(&mut self.codes, (b, params.code_dim()));
        self.assignments.resize(b, 0);
    }
}

/// Resizes `a` to `shape` (zeros) unless it already has it.
pub(crate) fn fit_buffer(a: &mut Array2<f64>, shape: (usize, usize)) {
    if a.dim() != shape {
        *a = Array2::zeros(shape);
    }
}
