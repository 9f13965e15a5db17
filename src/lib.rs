//! vqlab: a laboratory for vector-quantization (VQ-VAE) gradient estimators.
//!
//! The model is a tied linear VQ autoencoder whose encoder W (D×m) lives on
//! the Stiefel manifold (WᵀW = I): z = Wᵀx, a = argmin_k ‖z − e_k‖², q = e_a,
//! x̂ = W q. See `docs/MODEL.md` for the loss, the estimators and the metrics, and
//! `reference/README.md` for the report and
//! experiments. The crate has:
//!
//! * [`data`]: the synthetic low-rank generator and loaders for real data;
//! * [`metrics`]: the evaluation metrics, over a whole data set;
//! * [`baseline`]: PCA + Lloyd, on ndarray;
//! * [`torch_bridge`]: moving matrices between ndarray and libtorch;
//! * [`threads`]: one switch for the libtorch and OpenBLAS thread pools.
pub mod alloc;
pub mod baseline;
pub mod bench;
pub mod calibrate;
pub mod commands;
pub mod data;
pub mod error;
pub mod future;
pub mod gradcheck;
pub mod io;
pub mod kernels;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod quantize;
pub mod reproduce;
pub mod rng;
pub mod shard;
pub mod threads;
pub mod torch_bridge;
pub mod train;

pub use error::{Result, VqError};
