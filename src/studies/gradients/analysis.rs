//! The hypotheses of the gradient-quality study and their verdicts, under
//! the shared rules (`study::claim`): per model and point of the run, the
//! per-seed difference of two estimators' measures at the same parameters,
//! judged by "at least δ" on its interval (Student-t over seeds, the level
//! Bonferroni-corrected over the claim's parts).
use super::GradientsResult;
use crate::model::{Estimator, ModelKind};
use crate::studies::future::analysis::label;
use crate::studies::gradquality::measure::{EstimatorQuality, Group, GroupQuality};
use crate::study::claim::{Claim, Part, Statement};
use crate::study::rules::Combine;
use crate::study::stats::Rule;

/// δ of G1, in cosine.
pub const COSINE_MARGIN: f64 = 0.02;
/// δ of G3, in relative bias (‖E ĝ − ∇J‖/‖∇J‖).
pub const BIAS_MARGIN: f64 = 0.05;

/// The group a model's encoder update is measured on (the tied W is both
/// encoder and decoder).
fn encoder_group(model: ModelKind) -> Group {
    match model {
        ModelKind::Tied => Group::EncoderDecoder,
        _ => Group::Encoder,
    }
}

fn measures(result: &GradientsResult, point: usize, estimator: Estimator) -> &EstimatorQuality {
    result.report.points[point]
        .estimators
        .iter()
        .find(|e| e.estimator == estimator)
        .expect("every estimator is measured")
}

fn on(e: &EstimatorQuality, group: Group) -> &GroupQuality {
    e.groups
        .iter()
        .find(|g| g.group == group)
        .expect("the model's groups")
}

/// Above this mean noise (ḡ − ∇J's, relative to ‖∇J‖) on the group a
/// part is measured on, the part is flagged: ∇J is not resolved there, and
/// the measures compare with noise (cosines pulled toward 0).
pub const NOISE_FLAG: f64 = 0.5;

/// Per model and point, the per-seed values of `value(result, point)`
/// (seed order), as interval parts under `rule`; flagged where the mean
/// `noise(result, point)` passes [`NOISE_FLAG`].
fn parts(
    results: &[GradientsResult],
    what: &str,
    rule: Rule,
    value: impl Fn(&GradientsResult, usize) -> f64,
    noise: impl Fn(&GradientsResult, usize) -> f64,
) -> Vec<Part> {
    let mut out = Vec::new();
    for model in super::MODELS {
        let mut runs: Vec<&GradientsResult> =
            results.iter().filter(|r| r.spec.model == model).collect();
        runs.sort_by_key(|r| r.spec.seed);
        let Some(first) = runs.first() else { continue };
        for (point, p) in first.report.points.iter().enumerate() {
            let mean_noise = runs.iter().map(|r| noise(r, point)).sum::<f64>() / runs.len() as f64;
            let flags = if mean_noise > NOISE_FLAG {
                vec![format!(
                    "∇J not resolved here (noise {mean_noise:.2} of ‖∇J‖): the measures compare with noise"
                )]
            } else {
                Vec::new()
            };
            out.push(Part::Interval {
                what: format!("{}, step {}: {what}", model.name(), p.step),
                rule,
                values: runs.iter().map(|r| value(r, point)).collect(),
                flags,
            });
        }
    }
    out
}

/// G1 and G3, judged on `results`.
pub fn claims(results: &[GradientsResult]) -> Vec<Claim> {
    let cosine = |r: &GradientsResult, point: usize, estimator: Estimator| {
        let group = encoder_group(r.spec.model);
        on(measures(r, point, estimator), group)
            .cosine
            .unwrap_or(f64::NAN)
    };
    let g1 = Statement {
        id: "G1".into(),
        text: "The rotation trick's encoder update points closer to the true gradient than STE's (Fifty et al. 2024, \"Restructuring vector quantization with the rotation trick\": it carries the angle between z and q into the encoder's gradient)".into(),
        rule: format!(
            "cos(ḡ_rotation, ∇J) − cos(ḡ_STE, ∇J) on the encoder's parameters (the tied W), paired by seed, ≥ δ = {COSINE_MARGIN} at every model and point; δ, set before the data, is the smallest difference of interest"
        ),
        combine: Combine::All,
        same_effect: true,
        note: "both estimators measured at the same parameters of the same STE run, on the same batches' rows".into(),
    }
    .judge(
        parts(
            results,
            "cos(rotation trick) − cos(STE), encoder",
            Rule::AtLeast {
                delta: COSINE_MARGIN,
            },
            |r, p| cosine(r, p, Estimator::RotationTrick) - cosine(r, p, Estimator::Ste),
            |r, p| on(measures(r, p, Estimator::Ste), encoder_group(r.spec.model)).noise,
        ),
        label,
    );
    let bias = |r: &GradientsResult, point: usize, estimator: Estimator| {
        on(measures(r, point, estimator), Group::All).relative_bias
    };
    let g3 = Statement {
        id: "G3".into(),
        text: "NSVQ's update is less biased than STE's (Vali & Bäckström 2022, \"NSVQ: noise substitution in vector quantization for machine learning\": a substitute for STE whose gradient is not an approximation)".into(),
        rule: format!(
            "relative bias ‖E ĝ − ∇J‖/‖∇J‖ over all parameters, STE's minus NSVQ's, paired by seed, ≥ δ = {BIAS_MARGIN} at every model and point; δ, set before the data, is the smallest difference of interest"
        ),
        combine: Combine::All,
        same_effect: true,
        note: "the whole update, aux terms included; `vqlab gradquality` gives the reconstruction part alone".into(),
    }
    .judge(
        parts(
            results,
            "bias(STE) − bias(NSVQ), all parameters",
            Rule::AtLeast { delta: BIAS_MARGIN },
            |r, p| bias(r, p, Estimator::Ste) - bias(r, p, Estimator::Nsvq),
            |r, p| on(measures(r, p, Estimator::Ste), Group::All).noise,
        ),
        label,
    );
    vec![g1, g3]
}
