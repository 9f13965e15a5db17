//! The hypotheses of the gradient-quality study and their verdicts, under
//! the shared rules (`study::claim`): per model and point of the run, the
//! per-seed difference of two estimators' measures at the same parameters,
//! judged by "at least δ" on its interval (Student-t over seeds, the level
//! Bonferroni-corrected over the claim's parts).
use super::arms::ArmGains;
use super::{encoder_group, on, GradientsResult, Role};
use crate::model::Estimator;
use crate::studies::future::analysis::label;
use crate::studies::gradquality::measure::EstimatorQuality;
use crate::study::claim::{Claim, Part, Statement};
use crate::study::rules::Combine;
use crate::study::stats::Rule;

/// δ of G1, in cosine.
pub const COSINE_MARGIN: f64 = 0.02;
/// δ of G2, G3 and G4's bias part, in relative bias (‖E ĝ − ∇J‖/‖∇J‖).
pub const BIAS_MARGIN: f64 = 0.05;
/// δ of G4's variance part: ln of the ratio of variances.
pub const VARIANCE_MARGIN: f64 = 0.223_143_551_314_209_7; // ln 1.25
/// δ of G5, in Spearman's ρ.
pub const RANK_MARGIN: f64 = 0.3;

fn measures(result: &GradientsResult, point: usize, estimator: Estimator) -> &EstimatorQuality {
    result.report.points[point]
        .estimators
        .iter()
        .find(|e| e.estimator == estimator)
        .expect("every estimator is measured")
}

/// Above this noise (ḡ − ∇J's, relative to ‖∇J‖) on the group a part is
/// measured on, for either estimator on any seed, the part is not judged:
/// ∇J is not resolved there, and noise pulls both cosines toward 0 (by
/// about 1/√(1 + ν²)), so their difference would lean toward "no effect".
pub const NOISE_LIMIT: f64 = 0.5;

/// Why [`COSINE_MARGIN`] is what it is.
pub const COSINE_MARGIN_WHY: &str = "the first-order drop of J per unit step along an update is ‖∇J‖ cos: δ is 2 % of the drop a step along −∇J itself would give";

/// Why [`VARIANCE_MARGIN`] is what it is.
pub const VARIANCE_MARGIN_WHY: &str = "a variance 25 % larger is what a batch 20 % smaller gives";

/// Why [`RANK_MARGIN`] is what it is.
pub const RANK_MARGIN_WHY: &str = "a rank correlation below 0.3 accounts for under a tenth of the ranks' variance: no use for choosing an estimator";

/// Why [`BIAS_MARGIN`] is what it is (G3's and G4's; G2 says how it
/// applies to a bin).
pub const BIAS_MARGIN_WHY: &str = "5 % of ‖∇J‖, the size of the update's error that matters";

/// Per data set of `data`, model and point, the per-seed values of
/// `value(result, point)` (seed order), as interval parts under `rule`; not
/// judged (no values, so "not run", with the reason) where
/// `noise(result, point)` passes [`NOISE_LIMIT`] on any seed.
fn parts(
    results: &[GradientsResult],
    data: &[&str],
    what: &str,
    rule: Rule,
    value: impl Fn(&GradientsResult, usize) -> f64,
    noise: impl Fn(&GradientsResult, usize) -> f64,
) -> Vec<Part> {
    let mut out = Vec::new();
    for (set, model) in data
        .iter()
        .flat_map(|&d| super::MODELS.map(move |m| (d, m)))
    {
        let runs = super::runs(results, set, model);
        let Some(first) = runs.first() else { continue };
        for (point, p) in first.report.points.iter().enumerate() {
            let noises: Vec<f64> = runs.iter().map(|r| noise(r, point)).collect();
            // A zero ∇J (no row near a boundary) gives a non-finite noise.
            let worst = noises.iter().fold(0.0f64, |a, &v| {
                if v.is_finite() {
                    a.max(v)
                } else {
                    f64::INFINITY
                }
            });
            let (values, flags) = if worst > NOISE_LIMIT {
                let why = if worst.is_finite() {
                    format!("noise up to {worst:.2} of ‖∇J‖ > {NOISE_LIMIT}")
                } else {
                    "∇J zero on some seed's rows: no row near a boundary".to_string()
                };
                (
                    Vec::new(),
                    vec![format!("not judged: ∇J not resolved ({why})")],
                )
            } else {
                (runs.iter().map(|r| value(r, point)).collect(), Vec::new())
            };
            out.push(Part::Interval {
                what: format!("{set} {}, step {}: {what}", model.name(), p.step),
                rule,
                values,
                flags,
            });
        }
    }
    out
}

/// The data sets the claims are judged on: the generator, where ∇J is
/// taken on 200,000 fresh rows over five seeds. Digits and MNIST are in
/// the tables: their ∇J comes from their training rows (1,258 and 7,000),
/// too few to resolve the untied and mlp encoders' boundary parts, over
/// three seeds.
pub const JUDGED: [&str; 1] = ["generator"];

/// What every hypothesis of this study shares, in words.
const SCOPE: &str = "Judged on the calibrated generator, on the trajectory of one STE run per seed (exp-1's settings, 200 steps; digits and MNIST are measured in the tables below, not judged: their ∇J, from a few thousand training rows, resolves only the tied model, over three seeds): after step 0 this asks what switching the estimator at that point would give, not how each estimator's own training sees its gradient. Parts where ∇J is not resolved are not judged. Five seeds give little power: an effect near δ is usually \"not significant\"";

/// G1–G5, judged on `results` (G5 on FUTURE.md's arms `gains`, read from
/// `future`; not run without them).
pub fn claims(results: &[GradientsResult], gains: Option<&ArmGains>, future: &str) -> Vec<Claim> {
    let group = |r: &GradientsResult, point: usize, estimator: Estimator| {
        on(measures(r, point, estimator), encoder_group(r.spec.model)).clone()
    };
    let noise = |a: Estimator, b: Estimator| {
        move |r: &GradientsResult, p: usize| worst([group(r, p, a).noise, group(r, p, b).noise])
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
            &JUDGED,
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
            &JUDGED,
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
    let g2 = g2(results);
    let g4 = g4(results);
    let g5 = g5(results, gains, future);
    vec![g1, g2, g3, g4, g5]
}

/// G2: STE's bias in the top bin of ‖z − q‖ against the bottom one.
fn g2(results: &[GradientsResult]) -> Claim {
    let ste_noise = |r: &GradientsResult, p: usize| {
        on(measures(r, p, Estimator::Ste), encoder_group(r.spec.model)).truth_relative_error
    };
    let ends = |r: &GradientsResult, p: usize| {
        let bins = &r.report.points[p].ste_bias_by_error;
        (bins[0].clone(), bins[bins.len() - 1].clone())
    };
    Statement {
        id: "G2".into(),
        text: "Our reading, against ∇J, of the argument of Huh et al. 2023 (\"Straightening out the straight-through estimator\": STE's gradient is taken at q, not at z, so its error grows with their distance; also the rotation trick's motivation): STE's error against the true gradient sits in the rows far from their code".into(),
        rule: format!(
            "per bin of ‖z − q‖ (five of equal counts), ‖mean of (∂z/∂θ)ᵀ(u − S)‖/‖∇J‖ on the encoder's parameters (the reconstruction part of STE's update minus ∇J, restricted to the bin's rows; docs/TRUE-GRADIENT.md), the largest-error bin's minus the smallest's, paired by seed, ≥ δ = {BIAS_MARGIN} at every model and point ({BIAS_MARGIN_WHY}, here on the mean over a bin's rows: the bin's share of the update's error is a fifth of it)"
        ),
        combine: Combine::All,
        same_effect: true,
        note: format!("{SCOPE}. The bins' bias is exact in u (taken on every row) and noisy only through S. Huh et al.'s own gap is STE's gradient at q against the unquantized loss's at z; this is the error against ∇J, which is zero away from the boundaries, so in the untied and mlp models a bin's bias is mostly its mean of what STE hands z. Every bin is scaled by the same ‖∇J‖"),
    }
    .judge(
        parts(
            results,
            &JUDGED,
            "bias(largest ‖z − q‖) − bias(smallest), STE, encoder",
            Rule::AtLeast { delta: BIAS_MARGIN },
            |r, p| {
                let (low, high) = ends(r, p);
                high.relative_bias - low.relative_bias
            },
            |r, p| {
                let (low, high) = ends(r, p);
                worst([low.noise, high.noise, ste_noise(r, p)])
            },
        ),
        label,
    )
}

/// G4: Gumbel-Softmax at the highest and the lowest τ of the sweep.
fn g4(results: &[GradientsResult]) -> Claim {
    let at = |r: &GradientsResult, p: usize, last: bool| {
        let sweep = &r.report.points[p].gumbel_by_tau;
        let t = if last {
            &sweep[sweep.len() - 1]
        } else {
            &sweep[0]
        };
        (t.tau, on(&t.quality, encoder_group(r.spec.model)).clone())
    };
    // The bias is taken with ḡ's noise removed, so only ∇J's resolution
    // gates it (ḡ's noise at low τ grows with the very variance tested).
    let noise = move |r: &GradientsResult, p: usize| {
        worst([
            at(r, p, false).1.truth_relative_error,
            at(r, p, true).1.truth_relative_error,
        ])
    };
    let (hi, lo) = (super::TAUS[0], super::TAUS[super::TAUS.len() - 1]);
    let mut all = parts(
        results,
        &JUDGED,
        &format!("bias(τ = {hi}) − bias(τ = {lo}), Gumbel-Softmax, encoder"),
        Rule::AtLeast { delta: BIAS_MARGIN },
        |r, p| at(r, p, false).1.relative_bias - at(r, p, true).1.relative_bias,
        noise,
    );
    all.extend(parts(
        results,
        &JUDGED,
        &format!("ln(var(τ = {lo}) / var(τ = {hi})), Gumbel-Softmax, encoder"),
        Rule::AtLeast {
            delta: VARIANCE_MARGIN,
        },
        |r, p| (at(r, p, true).1.variance / at(r, p, false).1.variance).ln(),
        // No ∇J in the ratio: judged wherever ∇J is resolved or not.
        |_, _| 0.0,
    ));
    Statement {
        id: "G4".into(),
        text: "Our reading, against J's gradient, of Jang et al. 2017 (\"Categorical reparameterization with Gumbel-Softmax\": low temperatures give samples close to one-hot but gradients of large variance, high ones smooth samples with small variance): as τ falls, Gumbel-Softmax's update loses bias and gains variance".into(),
        rule: format!(
            "on the encoder's parameters (the tied W), the whole update of soft Gumbel-Softmax at τ = {hi} and at τ = {lo} (the same batches and draws): its relative bias against ∇J falls by ≥ δ = {BIAS_MARGIN} ({BIAS_MARGIN_WHY}; judged where ∇J's boundary part is resolved) and ln of its variance E‖ĝ − ḡ‖² rises by ≥ δ = ln 1.25 ({VARIANCE_MARGIN_WHY}; judged everywhere, no ∇J in it), paired by seed, at every model and point"
        ),
        combine: Combine::All,
        same_effect: false,
        note: format!("{SCOPE}. The bias is against ∇J of the nearest-code objective J; Gumbel-Softmax samples its code from softmax(−‖z − e‖²), whatever τ, so even as τ → 0 it estimates the gradient of the sampled objective E_k L(x, k), not of J: Jang et al.'s statement is about that objective, and a negative verdict on the bias part here does not refute it. The whole sweep is in the table below"),
    }
    .judge(all, label)
}

/// One of FUTURE.md's arms beside its start's measures, seed by seed
/// (seeds where either is missing left out).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArmRow {
    /// `model/estimator`.
    pub arm: String,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// cos(ḡ, ∇J) on the encoder's parameters at the arm's start.
    pub start_cosine: Vec<f64>,
    /// The noise of that comparison (relative to ‖∇J‖).
    pub start_noise: Vec<f64>,
    /// The arm's final gain over PCA + Lloyd (20 iterations), %.
    pub gain: Vec<f64>,
}

/// FUTURE.md's arms in `gains` with their starts' measures in `results`,
/// matched by seed.
pub fn arm_rows(results: &[GradientsResult], gains: &ArmGains) -> Vec<ArmRow> {
    gains
        .arms
        .iter()
        .map(|arm| {
            let mut row = ArmRow {
                arm: format!("{}/{}", arm.model.name(), arm.estimator.name()),
                seeds: Vec::new(),
                start_cosine: Vec::new(),
                start_noise: Vec::new(),
                gain: Vec::new(),
            };
            let mut starts: Vec<&GradientsResult> = results
                .iter()
                .filter(|r| r.spec.role == Role::ArmStart && r.spec.model == arm.model)
                .collect();
            starts.sort_by_key(|r| r.spec.seed);
            for start in starts {
                let at = gains.seeds.iter().position(|&s| s == start.spec.seed);
                let Some(&gain) = at.and_then(|i| arm.gain.get(i)) else {
                    continue;
                };
                let q = on(measures(start, 0, arm.estimator), encoder_group(arm.model));
                row.seeds.push(start.spec.seed);
                row.start_cosine.push(q.cosine.unwrap_or(f64::NAN));
                row.start_noise.push(q.noise);
                row.gain.push(gain);
            }
            row
        })
        .collect()
}

/// The largest of `values`, infinite if any is not finite (an unresolved
/// ∇J: a zero norm).
fn worst(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(0.0f64, |a, v| {
        if v.is_finite() {
            a.max(v)
        } else {
            f64::INFINITY
        }
    })
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// G5: Spearman's ρ across FUTURE.md's arms between the start cosine
/// (encoder, mean over seeds) and the final gain (mean over seeds); arms
/// whose start ∇J is not resolved are left out, arms with the same update
/// at the start counted once.
fn g5(results: &[GradientsResult], gains: Option<&ArmGains>, future: &str) -> Claim {
    let mut flags = Vec::new();
    let (mut cosines, mut gain) = (Vec::new(), Vec::new());
    match gains {
        None => flags.push(format!("not run: no {future} (run `vqlab future` first)")),
        Some(gains) => {
            let rows = arm_rows(results, gains);
            let mut kept: Vec<&ArmRow> = Vec::new();
            for row in &rows {
                let noise = worst(row.start_noise.iter().copied());
                let same = |a: &[f64], b: &[f64]| {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b)
                            .all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()))
                };
                if row.seeds.len() < 2 {
                    flags.push(format!("{} left out: fewer than two seeds", row.arm));
                } else if noise > NOISE_LIMIT {
                    flags.push(format!(
                        "{} left out: ∇J not resolved at its start (noise up to {noise:.2} of ‖∇J‖)",
                        row.arm
                    ));
                } else if let Some(first) = kept
                    .iter()
                    .find(|k| same(&k.start_cosine, &row.start_cosine))
                {
                    flags.push(format!(
                        "{} counted once with {} (the same update at the start)",
                        row.arm, first.arm
                    ));
                } else {
                    kept.push(row);
                }
            }
            cosines = kept.iter().map(|r| mean(&r.start_cosine)).collect();
            gain = kept.iter().map(|r| mean(&r.gain)).collect();
            flags.push(format!("{} arms from {}", kept.len(), gains.source));
        }
    }
    Statement {
        id: "G5".into(),
        text: "Across FUTURE.md's SGD arms on the calibrated generator, gradient quality at the start predicts the final gain: the arms whose encoder update at their start points closer to ∇J end with the larger recon gain (the premise behind judging estimators by their gradient, tested on these arms only)".into(),
        rule: format!(
            "Spearman's ρ across the arms (constant rates, gradient codebook; arms whose start ∇J is not resolved left out, arms with the same update counted once) between cos(ḡ, ∇J) on the encoder's parameters at the arm's own start (same data, sizes and initialisation, seed by seed; mean over seeds) and the arm's final gain over PCA + Lloyd (mean over seeds); its Fisher-z interval (standard error √((1 + ρ²/2)/(n − 3)), Bonett & Wright 2000; at least five arms) ≥ δ = {RANK_MARGIN} ({RANK_MARGIN_WHY})"
        ),
        combine: Combine::All,
        same_effect: true,
        note: "The arms, not the seeds, are the sample: with five arms only a perfect ordering (ρ = 1) has its interval above 0.3, and Fisher's interval is an approximation at so few. A rank correlation across arms is not a causal statement: the arms differ in more than their gradient".into(),
    }
    .judge(
        vec![Part::Correlation {
            what: "Spearman's ρ(start cosine, final gain) across arms".into(),
            rule: Rule::AtLeast { delta: RANK_MARGIN },
            first: cosines,
            second: gain,
            flags,
        }],
        label,
    )
}
