//! The synthetic family: x = U diag(s) g + σ n, with U a Haar-random
//! D×r Stiefel matrix, g ~ N(0, I_r) (or another latent law of unit
//! variance, [`Latent`]), n ~ N(0, I_D).
use ndarray::{Array1, Array2};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};
use crate::numerics::linalg::{gaussian_matrix, random_stiefel};

/// The preset file compiled into the binary.
pub const REPORT_PRESET: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/presets/report-calibrated.json"
));

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
    /// The law of the latent coordinates g (Gaussian unless stated; absent
    /// from the JSON when Gaussian, so older specs read unchanged).
    #[serde(default, skip_serializing_if = "Latent::is_gaussian")]
    pub latent: Latent,
}

/// The law of the latent coordinates g_i: independent, mean zero, unit
/// variance, so the spectrum gives the signal's variances whatever the law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Latent {
    /// g_i ~ N(0, 1).
    #[default]
    Gaussian,
    /// Laplace with scale 1/√2 (heavier tails, a peak at 0).
    Laplace,
    /// Uniform on [−√3, √3] (no tails).
    Uniform,
    /// Student-t with 3 degrees of freedom, divided by √3 (very heavy tails).
    StudentT3,
    /// A Gaussian mixture: g = √0.75 c_j + √0.25 n, with `clusters` centres
    /// c_j ~ N(0, I_r) drawn once per data set and j uniform (clustered
    /// data, variance 1 on average over the centres).
    Mixture {
        /// Number of clusters.
        clusters: usize,
    },
}

impl Latent {
    /// Whether this is the default Gaussian law.
    pub fn is_gaussian(&self) -> bool {
        *self == Latent::Gaussian
    }

    /// A short name: `gaussian`, `laplace`, `uniform`, `student-t3`,
    /// `mixture-4`.
    pub fn name(&self) -> String {
        match self {
            Latent::Gaussian => "gaussian".into(),
            Latent::Laplace => "laplace".into(),
            Latent::Uniform => "uniform".into(),
            Latent::StudentT3 => "student-t3".into(),
            Latent::Mixture { clusters } => format!("mixture-{clusters}"),
        }
    }

    /// Parses [`Latent::name`].
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim().to_ascii_lowercase();
        match t.as_str() {
            "gaussian" => Ok(Latent::Gaussian),
            "laplace" => Ok(Latent::Laplace),
            "uniform" => Ok(Latent::Uniform),
            "student-t3" => Ok(Latent::StudentT3),
            _ => match t.strip_prefix("mixture-").map(str::parse::<usize>) {
                Some(Ok(clusters)) if clusters >= 1 => Ok(Latent::Mixture { clusters }),
                _ => Err(invalid(
                    "latent",
                    text,
                    "gaussian, laplace, uniform, student-t3 or mixture-C (C ≥ 1 clusters)",
                )),
            },
        }
    }
}

impl std::str::FromStr for Latent {
    type Err = crate::error::VqError;
    fn from_str(s: &str) -> Result<Self> {
        Latent::parse(s)
    }
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
        if let Latent::Mixture { clusters: 0 } = self.latent {
            return Err(invalid("latent", "mixture-0", "at least one cluster"));
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
    latent: Latent,
    /// The mixture's centres (C × r), drawn with the subspace.
    centres: Option<Array2<f64>>,
}

impl SyntheticGenerator {
    /// Draws the planted subspace U (and a mixture's centres) from `rng`.
    pub fn new<R: Rng + ?Sized>(spec: &SyntheticSpec, rng: &mut R) -> Result<Self> {
        spec.validate()?;
        let basis = random_stiefel(spec.dim, spec.rank(), rng)?;
        let centres = match spec.latent {
            Latent::Mixture { clusters } => Some(gaussian_matrix(clusters, spec.rank(), rng)),
            _ => None,
        };
        Ok(SyntheticGenerator {
            basis,
            spectrum: Array1::from(spec.spectrum.clone()),
            noise_sigma: spec.noise_sigma,
            latent: spec.latent,
            centres,
        })
    }

    /// Draws `n` samples as the rows of an n × D matrix.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Array2<f64> {
        let (dim, rank) = self.basis.dim();
        let mut g = self.latent_matrix(n, rank, rng);
        g *= &self.spectrum; // scale column i by s_i
        let mut x = g.dot(&self.basis.t());
        let noise = gaussian_matrix(n, dim, rng);
        x.scaled_add(self.noise_sigma, &noise);
        x
    }

    /// n × r latent coordinates of unit variance.
    fn latent_matrix<R: Rng + ?Sized>(&self, n: usize, rank: usize, rng: &mut R) -> Array2<f64> {
        use rand_distr::{Distribution, StudentT};
        match self.latent {
            // Exactly the draws of the report's generator.
            Latent::Gaussian => gaussian_matrix(n, rank, rng),
            Latent::Laplace => Array2::from_shape_simple_fn((n, rank), || {
                let u: f64 = rng.gen_range(-0.5..0.5);
                -u.signum() * (1.0 - 2.0 * u.abs()).ln() / std::f64::consts::SQRT_2
            }),
            Latent::Uniform => {
                let half = 3.0_f64.sqrt();
                Array2::from_shape_simple_fn((n, rank), || rng.gen_range(-half..half))
            }
            Latent::StudentT3 => {
                let t = StudentT::new(3.0).expect("3 degrees of freedom");
                Array2::from_shape_simple_fn((n, rank), || t.sample(rng) / 3.0_f64.sqrt())
            }
            Latent::Mixture { clusters } => {
                let centres = self.centres.as_ref().expect("mixture centres drawn");
                let mut g = gaussian_matrix(n, rank, rng);
                for mut row in g.outer_iter_mut() {
                    let c = centres.row(rng.gen_range(0..clusters));
                    row.zip_mut_with(&c, |v, &mu| *v = 0.75_f64.sqrt() * mu + 0.5 * *v);
                }
                g
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::rng::{rng_for, Stream};

    #[test]
    fn sample_covariance_matches_the_population() {
        let spec = SyntheticSpec {
            dim: 8,
            spectrum: vec![2.0, 1.0],
            noise_sigma: 0.1,
            latent: Latent::Gaussian,
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

#[cfg(test)]
mod latent_tests {
    use super::*;
    use crate::numerics::rng::{rng_for, Stream};

    #[test]
    fn every_latent_law_has_unit_variance_and_its_own_shape() {
        // Excess kurtosis: Laplace 3, uniform −1.2, Gaussian 0, t₃ infinite.
        for (latent, kurtosis) in [
            (Latent::Gaussian, Some(0.0)),
            (Latent::Laplace, Some(3.0)),
            (Latent::Uniform, Some(-1.2)),
            (Latent::StudentT3, None),
        ] {
            let spec = SyntheticSpec {
                dim: 3,
                spectrum: vec![1.0],
                noise_sigma: 0.0,
                latent,
            };
            let gen = SyntheticGenerator::new(&spec, &mut rng_for(1, Stream::Subspace)).unwrap();
            let g = gen.latent_matrix(400_000, 1, &mut rng_for(1, Stream::TrainData));
            let n = g.len() as f64;
            let var = g.iter().map(|v| v * v).sum::<f64>() / n;
            let tol = if latent == Latent::StudentT3 {
                0.1
            } else {
                0.01
            };
            assert!((var - 1.0).abs() < tol, "{latent:?}: variance {var}");
            if let Some(k) = kurtosis {
                let m4 = g.iter().map(|v| v.powi(4)).sum::<f64>() / n;
                assert!(
                    (m4 / (var * var) - 3.0 - k).abs() < 0.15,
                    "{latent:?}: {m4}"
                );
            }
        }
    }

    #[test]
    fn a_mixture_clusters_around_its_centres_and_parses() {
        let spec = SyntheticSpec {
            dim: 4,
            spectrum: vec![1.0, 1.0],
            noise_sigma: 0.0,
            latent: Latent::Mixture { clusters: 3 },
        };
        let gen = SyntheticGenerator::new(&spec, &mut rng_for(2, Stream::Subspace)).unwrap();
        let g = gen.latent_matrix(3_000, 2, &mut rng_for(2, Stream::TrainData));
        let centres = gen.centres.as_ref().unwrap();
        // Every point lies within 0.5·(a few σ) of some scaled centre.
        for row in g.outer_iter() {
            let near = centres.outer_iter().any(|c| {
                row.iter()
                    .zip(c.iter())
                    .map(|(v, mu)| (v - 0.75_f64.sqrt() * mu).powi(2))
                    .sum::<f64>()
                    < (0.5 * 5.0_f64).powi(2)
            });
            assert!(near);
        }
        for name in ["gaussian", "laplace", "uniform", "student-t3", "mixture-4"] {
            assert_eq!(Latent::parse(name).unwrap().name(), name);
        }
        assert!(Latent::parse("mixture-0").is_err() && Latent::parse("cauchy").is_err());
        // Gaussian specs serialize as before (no `latent` field).
        let plain = SyntheticSpec {
            latent: Latent::Gaussian,
            ..spec.clone()
        };
        assert!(!serde_json::to_string(&plain).unwrap().contains("latent"));
        assert!(serde_json::to_string(&spec).unwrap().contains("mixture"));
    }
}
