//! "Is my VQ layer right?": what a quantizer layer's backward pass computes,
//! identified against vqlab's exact f64 rules.
//!
//! A *probe* ([`probe::Probe`], format in `docs/PROBE.md`, written by
//! `python/vqlab_probe.py` or by `vqlab gradcheck --dump`) holds one batch
//! through the layer: its input z, codebook, output, assignments, aux loss,
//! the upstream gradient u and the gradients of L = Σ u ⊙ output + aux.
//! [`identify::identify`] fits every output path (no gradient, STE, the
//! residual projection, the rotation trick, and NSVQ or Gumbel when the
//! probe holds their draws) × codebook form (plain, cosine) × loss wiring
//! (separate weights, one combined term, codebook outside autograd) and
//! ranks them.
//!
//! ```
//! use vqlab::model::layer_check::identify::tensor_error;
//! let a = ndarray::array![[1.0, 2.0], [3.0, 4.0]];
//! let b = ndarray::array![[1.0, 2.0], [3.0, 3.96]];
//! assert!((tensor_error(&a, &b) - 0.01).abs() < 1e-12);
//! ```
pub mod explain;
pub mod identify;
pub mod probe;

pub use identify::{identify, Identification};
pub use probe::{Probe, PROBE_FORMAT};
