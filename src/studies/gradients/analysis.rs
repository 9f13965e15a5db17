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

/// Above this noise (ḡ − ∇J's, relative to ‖∇J‖) on the group a part is
/// measured on, for either estimator on any seed, the part is not judged:
/// ∇J is not resolved there, and noise pulls both cosines toward 0 (by
/// about 1/√(1 + ν²)), so their difference would lean toward "no effect".
pub const NOISE_LIMIT: f64 = 0.5;

/// Why [`COSINE_MARGIN`] is what it is.
pub const COSINE_MARGIN_WHY: &str = "the first-order drop of J per unit step along an update is ‖∇J‖ cos: δ is 2 % of the drop a step along −∇J itself would give";

/// Why [`BIAS_MARGIN`] is what it is.
pub const BIAS_MARGIN_WHY: &str = "5 % of ‖∇J‖, the size of the update's error that matters";

/// Per model and point, the per-seed values of `value(result, point)`
/// (seed order), as interval parts under `rule`; not judged (no values,
/// so "not run", with the reason) where `noise(result, point)` passes
/// [`NOISE_LIMIT`] on any seed.
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
            let worst = runs.iter().map(|r| noise(r, point)).fold(0.0f64, f64::max);
            let (values, flags) = if worst > NOISE_LIMIT {
                (
                    Vec::new(),
                    vec![format!(
                        "not judged: ∇J not resolved (noise up to {worst:.2} of ‖∇J‖ > {NOISE_LIMIT})"
                    )],
                )
            } else {
                (runs.iter().map(|r| value(r, point)).collect(), Vec::new())
            };
            out.push(Part::Interval {
                what: format!("{}, step {}: {what}", model.name(), p.step),
                rule,
                values,
                flags,
            });
        }
    }
    out
}

/// What every hypothesis of this study shares, in words.
const SCOPE: &str = "Measured on the trajectory of one STE run per seed (exp-1 settings on the calibrated generator, 200 steps): after step 0 this asks what switching the estimator at that point would give, not how each estimator's own training sees its gradient. Parts where ∇J is not resolved are not judged. Five seeds give little power: an effect near δ is usually \"not significant\"";

/// G1 and G3, judged on `results`.
pub fn claims(results: &[GradientsResult]) -> Vec<Claim> {
    let group = |r: &GradientsResult, point: usize, estimator: Estimator| {
        on(measures(r, point, estimator), encoder_group(r.spec.model)).clone()
    };
    let noise = |a: Estimator, b: Estimator| {
        move |r: &GradientsResult, p: usize| group(r, p, a).noise.max(group(r, p, b).noise)
    };
    let g1 = Statement {
        id: "G1".into(),
        text: "Our reading of the rotation trick's promise (Fifty et al. 2024, \"Restructuring vector quantization with the rotation trick\", which carries the angle between z and q into the encoder's gradient and reports downstream gains, not this measure): its encoder update points closer to the true gradient ∇J than STE's".into(),
        rule: format!(
            "cos(ḡ_rotation, ∇J) − cos(ḡ_STE, ∇J) on the encoder's parameters (the tied W), paired by seed, ≥ δ = {COSINE_MARGIN} at every model and point ({COSINE_MARGIN_WHY}; δ was fixed with the first single-seed measurements of docs/TRUE-GRADIENT.md in view, not before any data)"
        ),
        combine: Combine::All,
        same_effect: true,
        note: SCOPE.into(),
    }
    .judge(
        parts(
            results,
            "cos(rotation trick) − cos(STE), encoder",
            Rule::AtLeast {
                delta: COSINE_MARGIN,
            },
            |r, p| {
                group(r, p, Estimator::RotationTrick).cosine.unwrap_or(f64::NAN)
                    - group(r, p, Estimator::Ste).cosine.unwrap_or(f64::NAN)
            },
            noise(Estimator::RotationTrick, Estimator::Ste),
        ),
        label,
    );
    let g3 = Statement {
        id: "G3".into(),
        text: "Our reading of NSVQ's claim (Vali & Bäckström 2022, \"NSVQ: noise substitution in vector quantization for machine learning\", a substitute for STE's gradient through the quantizer): the reconstruction part of NSVQ's update reaching the encoder is less biased than STE's".into(),
        rule: format!(
            "relative bias ‖E ĝ_recon − ∇J‖/‖∇J‖ on the encoder's parameters (the tied W; the reconstruction part of the update, α = β = 0), STE's minus NSVQ's, paired by seed, ≥ δ = {BIAS_MARGIN} at every model and point ({BIAS_MARGIN_WHY}; fixed with the first single-seed measurements in view)"
        ),
        combine: Combine::All,
        same_effect: true,
        note: format!("{SCOPE}. The whole update (aux terms, decoder and codebook included) is in the tables below: there NSVQ's decoder update, which decodes the noisy substitute, dominates"),
    }
    .judge(
        parts(
            results,
            "bias(STE) − bias(NSVQ), reconstruction part, encoder",
            Rule::AtLeast { delta: BIAS_MARGIN },
            |r, p| {
                group(r, p, Estimator::Ste).recon_relative_bias
                    - group(r, p, Estimator::Nsvq).recon_relative_bias
            },
            noise(Estimator::Nsvq, Estimator::Ste),
        ),
        label,
    );
    vec![g1, g3]
}
