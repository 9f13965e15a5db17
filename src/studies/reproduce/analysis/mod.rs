//! From stored units to the report's cells and claims: per-seed values,
//! estimates, the report's numbers beside them, and a verdict per claim.
use serde::Serialize;
use serde_json::Value;

use super::runs::{Experiment, UnitResult, Variant};
use crate::model::MethodKind;
use crate::numerics::metrics::Metrics;
use crate::study::stats::{percent_gain, Estimate, Rule, Verdict};
use std::collections::BTreeMap;

mod cells;
pub use cells::*;
mod claims;
pub use claims::*;
mod against_itself;
pub use against_itself::*;

/// The report's numbers (`reference/report_numbers.json`, provenance in
/// `reference/README.md`).
pub const REPORT_NUMBERS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/reference/report_numbers.json"
));

/// The report's numbers, parsed.
pub fn report_numbers() -> Value {
    serde_json::from_str(REPORT_NUMBERS).expect("reference/report_numbers.json is valid JSON")
}

/// A column of the report's tables: the baseline or a trained method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Source {
    /// PCA + Lloyd.
    Baseline,
    /// A trained method.
    Method(MethodKind),
}

impl Source {
    /// The name used in the report's tables.
    pub fn report_name(self) -> &'static str {
        match self {
            Source::Baseline => "PCA + Lloyd",
            Source::Method(MethodKind::AutogradSte) => "Autograd STE",
            Source::Method(MethodKind::ManualSte) => "Manual STE",
            Source::Method(MethodKind::Rotation) => "Rotation (report's, = residual projection)",
            Source::Method(MethodKind::ManualRotation) => "Manual rotation",
            Source::Method(MethodKind::RotationTrick) => {
                "Rotation trick (Fifty et al., not in report)"
            }
        }
    }

    fn from_report_key(key: &str) -> Option<Source> {
        Some(match key {
            "pca_lloyd" => Source::Baseline,
            "autograd_ste" => Source::Method(MethodKind::AutogradSte),
            "manual_ste" => Source::Method(MethodKind::ManualSte),
            "rotation" => Source::Method(MethodKind::Rotation),
            _ => return None,
        })
    }
}

/// Final eval metrics of `source` in `unit` (None for a failed run).
pub fn metrics_of(unit: &UnitResult, source: Source) -> Option<Metrics> {
    match source {
        Source::Baseline => unit.baseline,
        Source::Method(m) => unit.run(m).and_then(|r| r.final_metrics),
    }
}

/// A metric of a [`Metrics`] by its JSON name.
pub fn metric(m: &Metrics, name: &str) -> f64 {
    match name {
        "recon_mse" => m.recon_mse,
        "insub_distortion" => m.insub_distortion,
        "residual" => m.residual.unwrap_or(f64::NAN),
        "usage_entropy" => m.usage_entropy,
        "utilization" => m.utilization,
        "perplexity" => m.perplexity,
        "dead_code_fraction" => m.dead_code_fraction,
        other => panic!("unknown metric {other}"),
    }
}

/// The stored units, with selection helpers.
pub struct Results<'a> {
    /// Every unit.
    pub units: &'a [UnitResult],
}

impl<'a> Results<'a> {
    /// Units of an experiment and variant (and K / β when given), by seed.
    pub fn select(
        &self,
        exp: Experiment,
        variant: Variant,
        k: Option<usize>,
        beta: Option<f64>,
    ) -> Vec<&'a UnitResult> {
        let mut out: Vec<_> = self
            .units
            .iter()
            .filter(|u| {
                u.spec.experiment == exp
                    && u.spec.variant == variant
                    && k.is_none_or(|k| u.spec.train.k == k)
                    && beta.is_none_or(|b| u.spec.train.beta == b)
            })
            .collect();
        out.sort_by_key(|u| u.spec.seed);
        out
    }

    /// `f` of every selected unit where it is defined (failed runs drop out),
    /// and the number that dropped out.
    pub fn values(
        &self,
        exp: Experiment,
        variant: Variant,
        k: Option<usize>,
        beta: Option<f64>,
        f: impl Fn(&UnitResult) -> Option<f64>,
    ) -> (Vec<f64>, usize) {
        let by_seed = self.by_seed(exp, variant, k, beta, f);
        let dropped = self.select(exp, variant, k, beta).len() - by_seed.len();
        (by_seed.into_values().collect(), dropped)
    }

    /// `f` of every selected unit where it is defined, keyed by seed: values
    /// of different selections are paired by seed id, never by position (a
    /// failed run drops its seed from the pair, not a neighbour's).
    pub fn by_seed(
        &self,
        exp: Experiment,
        variant: Variant,
        k: Option<usize>,
        beta: Option<f64>,
        f: impl Fn(&UnitResult) -> Option<f64>,
    ) -> BTreeMap<u64, f64> {
        self.select(exp, variant, k, beta)
            .into_iter()
            .filter_map(|u| f(u).filter(|v| v.is_finite()).map(|v| (u.spec.seed, v)))
            .collect()
    }

    /// The seed-0 (lowest seed) value of `f`.
    pub fn first_seed(
        &self,
        exp: Experiment,
        variant: Variant,
        k: Option<usize>,
        beta: Option<f64>,
        f: impl Fn(&UnitResult) -> Option<f64>,
    ) -> Option<f64> {
        self.select(exp, variant, k, beta)
            .first()
            .and_then(|u| f(u))
    }

    /// Variants present for an experiment.
    pub fn variants(&self, exp: Experiment) -> Vec<Variant> {
        let mut v: Vec<Variant> = Vec::new();
        for u in self.units.iter().filter(|u| u.spec.experiment == exp) {
            if !v.contains(&u.spec.variant) {
                v.push(u.spec.variant);
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn pairing_by_seed_survives_a_missing_run() {
        // Seed 1 failed in the second selection: its value must not pair
        // with seed 2's.
        let a: BTreeMap<u64, f64> = [(0, 10.0), (1, 11.0), (2, 12.0)].into_iter().collect();
        let b: BTreeMap<u64, f64> = [(0, 20.0), (2, 22.0)].into_iter().collect();
        assert_eq!(paired(&[a, b], |r| r[1] - r[0]), vec![10.0, 10.0]);
    }

    #[test]
    fn the_report_against_itself_is_computed_from_its_numbers() {
        let found = report_against_itself();
        let ids: Vec<&str> = found.iter().map(|c| c.claim.as_str()).collect();
        for id in ["C1", "C2", "C4", "C6", "C7", "C8", "C9"] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        let c1 = found.iter().find(|c| c.claim == "C1").unwrap();
        assert!(c1.tables.contains("0.57 %"), "{}", c1.tables);
        let c7 = found.iter().find(|c| c.claim == "C7").unwrap();
        assert!(c7.tables.contains("0.12 %"), "{}", c7.tables);
    }

    #[test]
    fn claims_and_cells_without_data_are_not_run() {
        let results = Results { units: &[] };
        let variant = |_| Variant {
            init: crate::train::Init::Pca,
            batch: 1024,
        };
        for c in claims(&results, &variant, "") {
            assert_eq!(c.verdict, Verdict::NotRun, "{}", c.id);
            assert_eq!(c.seeds, 0);
        }
        assert!(cells(&results, &variant).iter().all(|c| c.agrees.is_none()));
    }

    #[test]
    fn every_claim_has_a_small_definition() {
        let ids: Vec<&str> = CLAIMS.iter().map(|c| c.id).collect();
        let expected: Vec<String> = (1..=14)
            .flat_map(|i| match i {
                9 => vec!["C9a".to_string(), "C9b".to_string()],
                i => vec![format!("C{i}")],
            })
            .collect();
        assert_eq!(ids, expected);
        assert!(CLAIMS.iter().all(|c| !c.rule.is_empty()));
    }
}
