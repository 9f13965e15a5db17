//! The linear Stiefel VQ model and the methods that train it.
//!
//! A *method* takes the parameters (W, E) and a batch and returns the loss
//! parts, ∂L/∂W, ∂L/∂E and the assignments ([`GradientMethod`]); it never
//! changes the parameters. Applying gradients is the optimizer's job
//! ([`update::RiemannianSgd`]), written once and shared by every method, so
//! the parity harness compares gradient code only.
//!
//! Loss on a batch x_1 … x_B (SPEC):
//!
//! L = (1/B) Σ ‖x_b − W q̃_b‖² + α (1/B) Σ ‖sg(z_b) − q_b‖² + β (1/B) Σ ‖z_b − sg(q_b)‖²
//!
//! with z = Wᵀx, q = e_a, a = argmin_k ‖z − e_k‖², and q̃ equal to q in the
//! forward pass; the [`Estimator`] decides what flows from q̃ back to z.
pub mod manual;
pub mod torch;
pub mod update;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::{invalid, Result};

/// The model's parameters: encoder W (D × m, orthonormal columns) and
/// codebook E (K × m, one code per row).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Encoder / decoder, D × m.
    pub w: Array2<f64>,
    /// Codebook, K × m.
    pub codebook: Array2<f64>,
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
    /// (1/B) Σ ‖x − W q‖².
    pub recon: f64,
    /// α (1/B) Σ ‖z − q‖².
    pub codebook: f64,
    /// β (1/B) Σ ‖z − q‖².
    pub commitment: f64,
    /// The sum of the three.
    pub total: f64,
}

/// What a method returns for one batch.
#[derive(Debug, Clone)]
pub struct Gradients {
    /// The loss parts at (W, E) on the batch.
    pub loss: LossParts,
    /// ∂L/∂W (Euclidean), D × m.
    pub grad_w: Array2<f64>,
    /// ∂L/∂E, K × m.
    pub grad_e: Array2<f64>,
    /// The code of every batch row.
    pub assignments: Vec<usize>,
}

/// The backward rule for ∂L/∂z from the q̃ path, g = ∂L/∂q̃.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// Where a method's gradients come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// libtorch autograd through `tch`.
    Autograd,
    /// Hand-derived formulas on ndarray.
    Manual,
}

/// The methods vqlab trains, by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    /// Hand-derived STE gradients (ndarray).
    ManualSte,
    /// Hand-derived residual-projection gradients (ndarray).
    ManualRotation,
    /// STE through libtorch autograd, `z + (q − z).detach()`.
    AutogradSte,
    /// The report's "rotation" estimator (residual projection) through autograd.
    Rotation,
    /// The published rotation trick (Fifty et al. 2024) through autograd.
    RotationTrick,
}

impl MethodKind {
    /// Every method, in a fixed order.
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

    /// The estimator this method implements.
    pub fn estimator(self) -> Estimator {
        match self {
            MethodKind::ManualSte | MethodKind::AutogradSte => Estimator::Ste,
            MethodKind::ManualRotation | MethodKind::Rotation => Estimator::ResidualProjection,
            MethodKind::RotationTrick => Estimator::RotationTrick,
        }
    }

    /// Which backend computes its gradients.
    pub fn backend(self) -> Backend {
        match self {
            MethodKind::ManualSte | MethodKind::ManualRotation => Backend::Manual,
            _ => Backend::Autograd,
        }
    }

    /// Builds the method with the given loss weights (CPU for libtorch).
    pub fn build(self, weights: LossWeights) -> Box<dyn GradientMethod> {
        self.build_on(weights, tch::Device::Cpu)
    }

    /// Builds the method; the autograd methods compute on `device`, the
    /// manual ones always on the CPU.
    pub fn build_on(self, weights: LossWeights, device: tch::Device) -> Box<dyn GradientMethod> {
        match self.backend() {
            Backend::Manual => Box::new(manual::ManualMethod::new(self.estimator(), weights)),
            Backend::Autograd => Box::new(torch::AutogradMethod::new(
                self.estimator(),
                weights,
                device,
            )),
        }
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

/// A method that, given W, E and a batch, returns the loss parts and the
/// gradients ∂L/∂W, ∂L/∂E (plus the assignments). Implemented by the libtorch
/// autograd methods and by the hand-derived ndarray methods.
pub trait GradientMethod {
    /// Which method this is.
    fn kind(&self) -> MethodKind;
    /// Loss and gradients at `params` on `batch` (B × D). Does not change
    /// `params`.
    fn gradients(&mut self, params: &Params, batch: ArrayView2<f64>) -> Result<Gradients>;

    /// Like [`GradientMethod::gradients`], writing into `out` (whose buffers
    /// are reused when their shapes fit). The manual methods allocate nothing
    /// here once their buffers exist.
    fn gradients_into(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        out: &mut Gradients,
    ) -> Result<()> {
        *out = self.gradients(params, batch)?;
        Ok(())
    }

    /// Loss and gradients on the batch made of `rows` of `data`. The default
    /// gathers the rows into a batch; the manual methods read them in place.
    fn gradients_rows(
        &mut self,
        params: &Params,
        data: ArrayView2<f64>,
        rows: &[usize],
        out: &mut Gradients,
    ) -> Result<()> {
        let batch = data.select(ndarray::Axis(0), rows);
        self.gradients_into(params, batch.view(), out)
    }
}

impl Gradients {
    /// Empty gradients, to be filled by [`GradientMethod::gradients_into`].
    pub fn empty() -> Self {
        Gradients {
            loss: LossParts::default(),
            grad_w: Array2::zeros((0, 0)),
            grad_e: Array2::zeros((0, 0)),
            assignments: Vec::new(),
        }
    }
}
