//! Numerics: dense linear algebra on ndarray, convolutions as matrix
//! products, nearest-code search, the seeded
//! random streams and the evaluation metrics. Names nothing above it.
pub mod conv;
pub mod linalg;
pub mod metrics;
pub mod quantize;
pub mod rng;
