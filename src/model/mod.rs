//! The models vqlab trains and the methods that compute their gradients.
//!
//! A training run is a product of independent choices, each its own type:
//!
//! * [`ModelKind`] (with [`ModelSpec`]): what maps x to the code z and the
//!   quantized code back to x̂ — `tied` (the report's model, [`tied`]),
//!   `untied` ([`untied`]) or `mlp` ([`mlp`]);
//! * [`Estimator`]: what flows from q̃ back to z;
//! * [`Backend`]: hand-derived formulas on ndarray, or libtorch autograd
//!   ([`torch`]);
//! * the update (`src/optim/`), written once and shared by every method.
//!
//! A *method* ([`MethodSpec`]: model × estimator × backend) takes the
//! parameters and a batch and returns the loss parts, the gradient of every
//! parameter and the assignments ([`GradientMethod`]); it never changes the
//! parameters. Applying gradients is the optimizer's job, so the parity
//! harness compares gradient code only. The report's five method names stay
//! as shorthands ([`MethodKind`]).
//!
//! Loss on a batch x_1 … x_B, for every model:
//!
//! L = (1/B) Σ ‖x_b − dec(q̃_b)‖² + α (1/B) Σ ‖sg(z_b) − q_b‖² + β (1/B) Σ ‖z_b − sg(q_b)‖²
//!
//! with z = enc(x), q = e_a, a = argmin_k ‖z − e_k‖² (ties to the lowest k),
//! and q̃ equal to q in the forward pass; the [`Estimator`] decides what flows
//! from q̃ back to z. See `docs/MODEL.md` for the whole model in one place.
pub mod codebook;
pub mod conv;
pub mod estimator;
pub mod layer_check;
pub mod mlp;
pub mod tied;
pub mod torch;
pub mod untied;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::{invalid, Result, VqError};
use crate::numerics::metrics::{self, Metrics};
pub use estimator::{Draws, Estimator};

mod spec;
pub use spec::*;
mod params;
pub use params::*;
mod method;
pub use method::*;
mod network;
pub use network::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_method_reports_its_real_model() {
        let model = ModelSpec {
            hidden: 17,
            activation: Activation::Tanh,
            ..ModelSpec::of(ModelKind::Mlp)
        };
        for backend in [Backend::Manual, Backend::Autograd] {
            let spec = MethodSpec::new(model, Estimator::Ste, backend);
            let method = spec.build(LossWeights {
                alpha: 1.0,
                beta: 0.25,
            });
            assert_eq!(method.spec(), spec, "{backend:?}");
        }
    }

    #[test]
    fn shorthands_name_their_tied_methods() {
        for kind in MethodKind::ALL {
            let spec = kind.spec();
            assert!(spec.model.is_tied());
            assert_eq!(spec.name(), kind.name());
            assert_eq!(spec.name().parse::<MethodSpec>().unwrap(), spec);
        }
        let spec = MethodSpec::new(
            ModelSpec::of(ModelKind::Mlp),
            Estimator::RotationTrick,
            Backend::Manual,
        );
        assert_eq!(spec.name(), "mlp/rotation-trick/manual");
        assert_eq!(spec.name().parse::<MethodSpec>().unwrap(), spec);
        let tied_manual_trick = MethodSpec::new(
            ModelSpec::of(ModelKind::Tied),
            Estimator::RotationTrick,
            Backend::Manual,
        );
        assert_eq!(tied_manual_trick.name(), "tied/rotation-trick/manual");
        let err = "mlp/ste".parse::<MethodSpec>().unwrap_err().to_string();
        assert!(err.contains("model/estimator/backend"), "{err}");
    }

    #[test]
    fn layouts_name_every_parameter() {
        let mlp = ModelSpec {
            hidden: 5,
            ..ModelSpec::of(ModelKind::Mlp)
        };
        let names: Vec<_> = mlp.layout(7, 3).iter().map(|p| p.name).collect();
        assert_eq!(names, ["A1", "a1", "A2", "a2", "B1", "b1", "B2", "b2"]);
        assert_eq!(mlp.layout(7, 3)[0].shape, (5, 7));
        let untied = ModelSpec::of(ModelKind::Untied).layout(7, 3);
        assert_eq!(untied[0].manifold, Manifold::Stiefel);
        assert_eq!(untied[1].manifold, Manifold::Euclidean);
    }
}
