//! The studies: the gradient harness, the generator's calibration, the
//! report's reproduction, its future work and the cost benchmark. Each keeps
//! its plan, its unit runner and its rendering; the store, sharding, driver,
//! statistics and claims are the study layer's ([`crate::study`]).
pub mod bench;
pub mod calibrate;
pub mod future;
pub mod gradcheck;
pub mod gradients;
pub mod gradquality;
pub mod reproduce;
