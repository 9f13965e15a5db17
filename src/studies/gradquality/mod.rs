//! The true gradient of the expected reconstruction error, the quantity an
//! estimator's update stands in for (docs/TRUE-GRADIENT.md).
//!
//! J(θ) = E‖x − dec(q(enc(x)))‖² with q the nearest code. Here so far: J and
//! its directional derivatives on any model by central differences with
//! common random numbers and standard errors ([`objective`]), the tied
//! model's closed-form gradient ([`objective::tied_gradient`]) and the
//! one-dimensional model whose J and ∇J have a closed form ([`one_dim`]),
//! each checked against the others in the unit tests. The estimators'
//! bias, variance and descent ratio against it (a command and a study) are
//! still to come.
pub mod objective;
pub mod one_dim;
