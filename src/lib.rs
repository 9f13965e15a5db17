//! vqlab: a laboratory for vector-quantization (VQ-VAE) gradient estimators.
//!
//! A run is a product of independent choices, each its own type: a model
//! ([`model::ModelKind`]: tied, untied, mlp) × an estimator
//! ([`model::Estimator`]: STE, residual projection, rotation trick, NSVQ,
//! Gumbel) × a codebook update ([`model::codebook`]: gradient, EMA, restarts)
//! × an optimizer ([`optim`]: Riemannian SGD, (Riemannian) Adam, schedules)
//! × a backend ([`model::Backend`]: hand-derived on ndarray, autograd on
//! libtorch). A study is data: conditions, arms and hypotheses, run through
//! one study layer ([`study`]).
//!
//! The layers, lowest first; a module names only its own layer and the
//! ones below (`tests/layers.rs` checks it; `docs/ARCHITECTURE.md` is the
//! full map):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | numerics, infrastructure | [`numerics`], [`infra`], [`error`] | linear algebra, nearest codes, seeded streams, metrics; files, threads, pinned kernels, allocator, the libtorch bridge |
//! | data | [`data`] | the synthetic generator, loaders, real data sets |
//! | models | [`model`], [`baseline`] | parameters, the estimators, manual gradients beside their derivations, the autograd twin; PCA + Lloyd |
//! | optimizers | [`optim`] | Stiefel geometry, SGD, Adam, schedules, one [`optim::Update`] trait |
//! | training | [`train`] | initialisation, batches, the loop, saved parameters, the report's defaults |
//! | study layer | [`study`] | run store, shards, driver, statistics, verdict rules |
//! | studies | [`studies`] | gradient harness, calibration, reproduction, future work, bench |
//! | commands | [`commands`] | each command's flags and work; `src/main.rs` dispatches |
//!
//! Training the report's tied model with the hand-derived STE gradients:
//!
//! ```
//! use vqlab::data::{Dataset, SyntheticSpec};
//! use vqlab::model::MethodKind;
//! use vqlab::train::{train, TrainConfig};
//!
//! // The calibrated generator of the report (D = 64), a small sample.
//! let data = Dataset::synthetic(&SyntheticSpec::report_default(), 2_000, 500, 0)?;
//! let config = TrainConfig { steps: 50, batch: 256, ..TrainConfig::report_default() }
//!     .check(data.train.nrows(), data.train.ncols())?;
//! let mut method = MethodKind::ManualSte.build(config.weights());
//! let run = train(method.as_mut(), &data, &config, None, |_| {})?;
//! println!("eval recon_mse {:.4}", run.final_metrics.recon_mse);
//! assert!(run.final_metrics.recon_mse < run.initial.recon_mse * 1.01);
//! # Ok::<(), vqlab::VqError>(())
//! ```
pub mod baseline;
pub mod commands;
pub mod data;
pub mod error;
pub mod infra;
pub mod model;
pub mod numerics;
pub mod optim;
pub mod studies;
pub mod study;
pub mod train;

pub use error::{Result, VqError};
