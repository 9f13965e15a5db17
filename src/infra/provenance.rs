//! Where a result came from: the vqlab version and the fingerprint of the
//! code that computed it, written into every JSON output and params.json.
use serde::{Deserialize, Serialize};

/// A fingerprint of the code (sources, presets, reference numbers,
/// Cargo.lock), set by the build script: two builds with the same
/// fingerprint compute the same numbers.
pub const CODE_FINGERPRINT: &str = env!("VQLAB_SOURCE_HASH");

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version and code fingerprint of this build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// `vqlab` and its version.
    pub vqlab: String,
    /// [`CODE_FINGERPRINT`].
    pub code: String,
}

impl Provenance {
    /// This build's provenance.
    ///
    /// ```
    /// let p = vqlab::infra::provenance::Provenance::current();
    /// assert!(p.vqlab.starts_with("vqlab "));
    /// assert_eq!(p.code, vqlab::infra::provenance::CODE_FINGERPRINT);
    /// ```
    pub fn current() -> Self {
        Provenance {
            vqlab: format!("vqlab {VERSION}"),
            code: CODE_FINGERPRINT.to_string(),
        }
    }
}
