//! vqlab: a laboratory for vector-quantization (VQ-VAE) gradient estimators.
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
