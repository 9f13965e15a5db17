//! A method = model × estimator × backend: its spec, the report's names, and
//! the one trait every method implements (a batch in, loss and gradients out).
#[allow(unused_imports)]
use super::*;

/// Where a method's gradients come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Hand-derived formulas on ndarray.
    Manual,
    /// libtorch autograd through `tch`.
    Autograd,
}

impl Backend {
    /// Both backends.
    pub const ALL: [Backend; 2] = [Backend::Manual, Backend::Autograd];

    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Manual => "manual",
            Backend::Autograd => "autograd",
        }
    }
}

/// A method: model × estimator × backend.
///
/// ```
/// use vqlab::model::{Backend, Estimator, MethodSpec, ModelKind};
/// let m: MethodSpec = "untied/rotation-trick/manual".parse()?;
/// assert_eq!((m.model.kind, m.estimator, m.backend),
///            (ModelKind::Untied, Estimator::RotationTrick, Backend::Manual));
/// // The report's names are shorthands for tied methods.
/// let ste: MethodSpec = "manual-ste".parse()?;
/// assert_eq!(ste.estimator, Estimator::Ste);
/// # Ok::<(), vqlab::VqError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MethodSpec {
    /// The model and its hyperparameters.
    pub model: ModelSpec,
    /// The estimator.
    pub estimator: Estimator,
    /// The backend.
    pub backend: Backend,
}

impl MethodSpec {
    /// A method from its three choices.
    pub fn new(model: ModelSpec, estimator: Estimator, backend: Backend) -> Self {
        MethodSpec {
            model,
            estimator,
            backend,
        }
    }

    /// The report's shorthand for this method, when it has one (tied model).
    pub fn shorthand(&self) -> Option<MethodKind> {
        MethodKind::ALL.into_iter().find(|k| {
            let s = k.spec();
            self.model.is_tied() && s.estimator == self.estimator && s.backend == self.backend
        })
    }

    /// The name in tables and JSON: the report's shorthand where there is
    /// one (`manual-ste`, …), otherwise `model/estimator/backend`.
    pub fn name(&self) -> String {
        match self.shorthand() {
            Some(kind) => kind.name().to_string(),
            None => format!(
                "{}/{}/{}",
                self.model.kind.name(),
                self.estimator.name(),
                self.backend.name()
            ),
        }
    }

    /// Builds the method with the given loss weights (CPU for libtorch).
    pub fn build(self, weights: LossWeights) -> Box<dyn GradientMethod> {
        self.build_on(weights, tch::Device::Cpu)
    }

    /// Builds the method; autograd computes on `device`, the manual backend
    /// always on the CPU. Every model × estimator × backend is implemented.
    pub fn build_on(self, weights: LossWeights, device: tch::Device) -> Box<dyn GradientMethod> {
        match self.backend {
            Backend::Autograd => Box::new(torch::AutogradMethod::new(self, weights, device)),
            Backend::Manual => self.model.model().manual(self, weights),
        }
    }
}

impl fmt::Display for MethodSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for MethodSpec {
    type Err = VqError;
    /// A shorthand (`manual-ste`, …) or `model/estimator/backend`; the model
    /// gets its default hyperparameters.
    fn from_str(s: &str) -> Result<Self> {
        if let Ok(kind) = s.parse::<MethodKind>() {
            return Ok(kind.spec());
        }
        let parts: Vec<&str> = s.split('/').collect();
        let parse = || -> Option<MethodSpec> {
            let [model, estimator, backend] = parts.as_slice() else {
                return None;
            };
            let model = ModelKind::ALL.into_iter().find(|m| m.name() == *model)?;
            let estimator = Estimator::ALL
                .into_iter()
                .find(|e| e.name() == *estimator)?;
            let backend = Backend::ALL.into_iter().find(|b| b.name() == *backend)?;
            Some(MethodSpec::new(ModelSpec::of(model), estimator, backend))
        };
        parse().ok_or_else(|| {
            invalid(
                "method",
                s,
                format!(
                    "one of {} or model/estimator/backend",
                    MethodKind::ALL.map(|m| m.name()).join(", ")
                ),
            )
        })
    }
}

impl Serialize for MethodSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for MethodSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The report's methods, by their command-line names: shorthands for the
/// tied model with one estimator and one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    /// tied / ste / manual.
    ManualSte,
    /// tied / residual-projection / manual.
    ManualRotation,
    /// tied / ste / autograd (`z + (q − z).detach()`).
    AutogradSte,
    /// tied / residual-projection / autograd (the report's "rotation").
    Rotation,
    /// tied / rotation-trick / autograd (Fifty et al. 2024).
    RotationTrick,
}

impl MethodKind {
    /// Every shorthand, in a fixed order.
    pub const ALL: [MethodKind; 5] = [
        MethodKind::ManualSte,
        MethodKind::ManualRotation,
        MethodKind::AutogradSte,
        MethodKind::Rotation,
        MethodKind::RotationTrick,
    ];

    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::ManualSte => "manual-ste",
            MethodKind::ManualRotation => "manual-rotation",
            MethodKind::AutogradSte => "autograd-ste",
            MethodKind::Rotation => "rotation",
            MethodKind::RotationTrick => "rotation-trick",
        }
    }

    /// The method this shorthand stands for.
    pub fn spec(self) -> MethodSpec {
        let (estimator, backend) = match self {
            MethodKind::ManualSte => (Estimator::Ste, Backend::Manual),
            MethodKind::ManualRotation => (Estimator::ResidualProjection, Backend::Manual),
            MethodKind::AutogradSte => (Estimator::Ste, Backend::Autograd),
            MethodKind::Rotation => (Estimator::ResidualProjection, Backend::Autograd),
            MethodKind::RotationTrick => (Estimator::RotationTrick, Backend::Autograd),
        };
        MethodSpec::new(ModelSpec::of(ModelKind::Tied), estimator, backend)
    }

    /// The estimator this method implements.
    pub fn estimator(self) -> Estimator {
        self.spec().estimator
    }

    /// Which backend computes its gradients.
    pub fn backend(self) -> Backend {
        self.spec().backend
    }

    /// Builds the method with the given loss weights (CPU for libtorch).
    pub fn build(self, weights: LossWeights) -> Box<dyn GradientMethod> {
        self.spec().build(weights)
    }

    /// Builds the method; the autograd methods compute on `device`, the
    /// manual ones always on the CPU.
    pub fn build_on(self, weights: LossWeights, device: tch::Device) -> Box<dyn GradientMethod> {
        self.spec().build_on(weights, device)
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MethodKind {
    type Err = crate::VqError;
    fn from_str(s: &str) -> Result<Self> {
        MethodKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = MethodKind::ALL.iter().map(|m| m.name()).collect();
                invalid("method", s, format!("one of {}", names.join(", ")))
            })
    }
}

/// Where the autograd methods compute: `cpu`, or `cuda` when libtorch sees a
/// GPU. A clear error otherwise (the libtorch of `libtorch-setup.sh` is the
/// CPU build, so `cuda` needs a CUDA libtorch and a GPU).
pub fn parse_device(name: &str) -> Result<tch::Device> {
    match name {
        "cpu" => Ok(tch::Device::Cpu),
        "cuda" => {
            if tch::Cuda::is_available() {
                Ok(tch::Device::Cuda(0))
            } else {
                Err(invalid(
                    "device",
                    name,
                    "cpu: libtorch sees no CUDA device here (libtorch-setup.sh installs the CPU-only build; cuda needs a CUDA libtorch and a GPU)",
                ))
            }
        }
        other => Err(invalid("device", other, "cpu or cuda")),
    }
}

/// A method that, given the parameters, a batch and the step's random draws
/// (empty for the estimators that need none), returns the loss parts and
/// the gradient of every parameter (plus the assignments and the codes).
/// Implemented by the libtorch autograd methods and by the hand-derived
/// ndarray methods; the draws come from the run's seeded stream, so both
/// backends see the same ones.
pub trait GradientMethod {
    /// Which method this is.
    fn spec(&self) -> MethodSpec;

    /// Loss and gradients at `params` on `batch` (B × D). Does not change
    /// `params`.
    fn gradients(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        draws: &Draws,
    ) -> Result<Gradients> {
        let mut out = Gradients::empty();
        self.gradients_into(params, batch, draws, &mut out)?;
        Ok(out)
    }

    /// Like [`GradientMethod::gradients`], writing into `out` (whose buffers
    /// are reused when their shapes fit). The manual methods allocate nothing
    /// here once their buffers exist.
    fn gradients_into(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()>;

    /// Loss and gradients on the batch made of `rows` of `data`. The default
    /// gathers the rows into a batch; the manual methods gather into a
    /// reused buffer, or (tied) read them in place.
    fn gradients_rows(
        &mut self,
        params: &Params,
        data: ArrayView2<f64>,
        rows: &[usize],
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()> {
        let batch = data.select(ndarray::Axis(0), rows);
        self.gradients_into(params, batch.view(), draws, out)
    }
}

/// Gathers `rows` of `data` into `buffer` (resized only when its shape
/// changes), for the manual methods that work on a contiguous batch.
pub(crate) fn gather_rows(data: ArrayView2<f64>, rows: &[usize], buffer: &mut Array2<f64>) {
    fit_buffer(buffer, (rows.len(), data.ncols()));
    for (mut dst, &i) in buffer.outer_iter_mut().zip(rows) {
        dst.assign(&data.row(i));
    }
}

/// A reusable buffer for the batch rows a manual method gathers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gathered(Array2<f64>);

impl Gathered {
    /// Checks `rows` against `data` and `params`, gathers them, and returns
    /// the batch (allocating only when the batch shape changes).
    pub(crate) fn rows(
        &mut self,
        params: &Params,
        data: ArrayView2<f64>,
        rows: &[usize],
    ) -> Result<ArrayView2<'_, f64>> {
        check_batch(params, data.ncols(), Some((rows, data.nrows())))?;
        gather_rows(data, rows, &mut self.0);
        Ok(self.0.view())
    }
}

/// The nearest code of every row of `z`: writes the assignments and the
/// quantized rows Q (B × m), returns Σ_b ‖z_b − q_b‖².
pub(crate) fn quantize_rows(
    nearest: &mut crate::numerics::quantize::NearestCode,
    z: ArrayView2<f64>,
    codebook: ArrayView2<f64>,
    assignments: &mut [usize],
    q: &mut Array2<f64>,
) -> f64 {
    let insub_total = nearest.assign(z, codebook, assignments);
    for (mut q_row, &a) in q.outer_iter_mut().zip(assignments.iter()) {
        q_row.assign(&codebook.row(a));
    }
    insub_total
}

/// Checks that `params` fit a batch of `dim` columns and that `rows` index
/// into `n` rows.
pub(crate) fn check_batch(
    params: &Params,
    dim: usize,
    rows: Option<(&[usize], usize)>,
) -> Result<()> {
    params.check_shapes()?;
    if dim != params.dim() {
        return Err(VqError::Shape(format!(
            "the batch has {dim} columns, the model's data dimension is {}",
            params.dim()
        )));
    }
    if let Some((rows, n)) = rows {
        if let Some(&bad) = rows.iter().find(|&&i| i >= n) {
            return Err(VqError::Shape(format!("row {bad} of a {n}-row matrix")));
        }
    }
    Ok(())
}
