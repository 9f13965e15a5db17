//! The synthetic family: x = U diag(s) g + σ n, with U a Haar-random
//! D×r Stiefel matrix, g ~ N(0, I_r), n ~ N(0, I_D).
use ndarray::{Array1, Array2};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::super::linalg::{gaussian_matrix, random_stiefel};
use crate::error::{invalid, Result};

/// The preset file compiled into the binary.
pub const REPORT_PRESET: &str = include_str!("../../presets/report-calibrated.json");

/// Parameters of the synthetic generator. The rank r is `spectrum.len()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyntheticSpec {
    /// Ambient dimension D.
    pub dim: usize,
    /// Standard deviations s_1 ≥ … ≥ s_r of the signal along the planted
    /// directions (their squares are the signal's variances).
    pub spectrum: Vec<f64>,
    /// Standard deviation σ of the isotropic noise.
    pub noise_sigma: f64,
}

impl SyntheticSpec {
    /// The calibrated preset: D = 64, rank 6, with the spectrum and noise that
    /// `vqlab calibrate` fitted to the report's baseline rows, compiled in
    /// from `presets/report-calibrated.json`.
    pub fn report_default() -> Self {
        Self::from_preset_json(REPORT_PRESET)
            .expect("presets/report-calibrated.json holds a valid spec")
    }

    /// The `spec` field of a preset file written by `vqlab calibrate`.
    pub fn from_preset_json(text: &str) -> std::result::Result<Self, String> {
        #[derive(Deserialize)]
        struct Preset {
            spec: SyntheticSpec,
        }
        let preset: Preset = serde_json::from_str(text).map_err(|e| e.to_string())?;
        preset.spec.validate().map_err(|e| e.to_string())?;
        Ok(preset.spec)
    }

    /// The rank r of the signal.
    pub fn rank(&self) -> usize {
        self.spectrum.len()
    }

    /// Checks every field once; one error per bad field.
    pub fn validate(&self) -> Result<()> {
        if self.dim == 0 {
            return Err(invalid("dim", self.dim, "at least 1"));
        }
        if self.spectrum.is_empty() {
            return Err(invalid("spectrum", "[]", "at least one value (the rank)"));
        }
        if self.rank() > self.dim {
            return Err(invalid(
                "rank",
                self.rank(),
                format!("at most the dimension D = {}", self.dim),
            ));
        }
        if let Some(bad) = self.spectrum.iter().find(|s| !s.is_finite() || **s < 0.0) {
            return Err(invalid("spectrum", bad, "finite, non-negative values"));
        }
        if !self.noise_sigma.is_finite() || self.noise_sigma < 0.0 {
            return Err(invalid(
                "noise_sigma",
                self.noise_sigma,
                "a finite value ≥ 0",
            ));
        }
        Ok(())
    }

    /// The eigenvalues of the population covariance, largest first:
    /// s_i² + σ² for the r planted directions, σ² for the other D − r.
    pub fn population_eigenvalues(&self) -> Vec<f64> {
        let noise = self.noise_sigma * self.noise_sigma;
        let mut ev: Vec<f64> = self.spectrum.iter().map(|s| s * s + noise).collect();
        ev.resize(self.dim, noise);
        ev.sort_by(|a, b| b.total_cmp(a));
        ev
    }
}

/// A generator with its planted subspace drawn.
#[derive(Debug, Clone)]
pub struct SyntheticGenerator {
    /// U: D × r, orthonormal columns.
    pub basis: Array2<f64>,
    spectrum: Array1<f64>,
    noise_sigma: f64,
}

impl SyntheticGenerator {
    /// Draws the planted subspace U from `rng`.
    pub fn new<R: Rng + ?Sized>(spec: &SyntheticSpec, rng: &mut R) -> Result<Self> {
        spec.validate()?;
        Ok(SyntheticGenerator {
            basis: random_stiefel(spec.dim, spec.rank(), rng)?,
            spectrum: Array1::from(spec.spectrum.clone()),
            noise_sigma: spec.noise_sigma,
        })
    }

    /// Draws `n` samples as the rows of an n × D matrix.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Array2<f64> {
        let (dim, rank) = self.basis.dim();
        let mut g = gaussian_matrix(n, rank, rng);
        g *= &self.spectrum; // scale column i by s_i
        let mut x = g.dot(&self.basis.t());
        let noise = gaussian_matrix(n, dim, rng);
        x.scaled_add(self.noise_sigma, &noise);
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{rng_for, Stream};

    #[test]
    fn sample_covariance_matches_the_population() {
        let spec = SyntheticSpec {
            dim: 8,
            spectrum: vec![2.0, 1.0],
            noise_sigma: 0.1,
        };
        let generator = SyntheticGenerator::new(&spec, &mut rng_for(0, Stream::Subspace)).unwrap();
        let x = generator.sample(200_000, &mut rng_for(0, Stream::TrainData));
        let total: f64 = x.iter().map(|v| v * v).sum::<f64>() / x.nrows() as f64;
        let expected: f64 = spec.population_eigenvalues().iter().sum();
        assert!(
            (total - expected).abs() / expected < 0.01,
            "{total} vs {expected}"
        );
        // Energy along the planted directions: s_i² + σ².
        let proj = x.dot(&generator.basis);
        let var0 = proj.column(0).iter().map(|v| v * v).sum::<f64>() / x.nrows() as f64;
        assert!((var0 - 4.01).abs() < 0.05, "{var0}");
    }

    #[test]
    fn bad_specs_are_refused_by_field() {
        let mut spec = SyntheticSpec::report_default();
        spec.spectrum = vec![1.0; 65];
        assert!(spec.validate().unwrap_err().to_string().contains("rank"));
        let mut spec = SyntheticSpec::report_default();
        spec.noise_sigma = f64::NAN;
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("noise_sigma"));
        let mut spec = SyntheticSpec::report_default();
        spec.spectrum[2] = -1.0;
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("spectrum"));
    }
}
