//! The charts of GRADIENTS.md (SVG), on the generator: per model, each
//! estimator's cosine and bias against the step of the run; STE's bias against ‖z − q‖;
//! Gumbel-Softmax's bias and variance against τ. Every point is a mean
//! over seeds.
use std::path::Path;

use super::{encoder_group, on, runs, GradientsSummary, MODELS};
use crate::error::Result;
use crate::model::Estimator;
use crate::studies::gradquality::bins::ErrorBin;
use crate::studies::gradquality::measure::GroupQuality;
use crate::studies::reproduce::plots::{line_chart_in, Series, MANY_COLOURS};

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The file names, in the order [`write_all`] writes them, with a caption.
pub fn files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for model in MODELS {
        for (what, caption) in [("cosine", "cos(ḡ, ∇J)"), ("bias", "relative bias")] {
            out.push((
                format!("gradients_{}_{what}.svg", model.name()),
                format!(
                    "{}: {caption} on the encoder against the step",
                    model.name()
                ),
            ));
        }
    }
    out.push((
        "gradients_bias_vs_error.svg".into(),
        "STE's bias on the encoder against ‖z − q‖".into(),
    ));
    out.push((
        "gradients_gumbel_tau.svg".into(),
        "Gumbel-Softmax's bias against τ (its variance is in the table)".into(),
    ));
    out
}

/// Writes every chart into `dir`.
pub fn write_all(summary: &GradientsSummary, dir: &Path) -> Result<()> {
    let names = files();
    let mut name = names.iter().map(|(f, _)| dir.join(f));
    for model in MODELS {
        let runs = runs(&summary.results, "generator", model);
        let Some(first) = runs.first() else {
            name.nth(1);
            continue;
        };
        let group = encoder_group(model);
        let measure = |pick: &dyn Fn(&GroupQuality) -> f64, estimator: Estimator| {
            let points = first
                .report
                .points
                .iter()
                .enumerate()
                .map(|(p, point)| {
                    let value = mean(runs.iter().map(|r| {
                        let e = r.report.points[p]
                            .estimators
                            .iter()
                            .find(|e| e.estimator == estimator)
                            .expect("every estimator");
                        pick(on(e, group))
                    }));
                    (point.step as f64, value)
                })
                .collect();
            Series::line(estimator.name().to_string(), points)
        };
        for (pick, y) in [
            (
                &(|g: &GroupQuality| g.cosine.unwrap_or(f64::NAN)) as &dyn Fn(&GroupQuality) -> f64,
                "cos(ḡ, ∇J), encoder",
            ),
            (
                &|g: &GroupQuality| g.relative_bias,
                "‖E ĝ − ∇J‖ / ‖∇J‖, encoder",
            ),
        ] {
            let series: Vec<Series> = Estimator::ALL.iter().map(|&e| measure(pick, e)).collect();
            line_chart_in(
                &MANY_COLOURS,
                &name.next().expect("a file per chart"),
                &format!(
                    "{}: each estimator's update against ∇J, mean over seeds",
                    model.name()
                ),
                "step of the STE run",
                y,
                false,
                &series,
                None,
            )?;
        }
    }
    let mut by_error = Vec::new();
    let mut by_tau = Vec::new();
    for model in MODELS {
        let runs = runs(&summary.results, "generator", model);
        let Some(first) = runs.first() else { continue };
        for (p, point) in first.report.points.iter().enumerate() {
            let label = format!("{} step {}", model.name(), point.step);
            let bins = point.ste_bias_by_error.len();
            by_error.push(Series::line(
                label.clone(),
                (0..bins)
                    .map(|b| {
                        let bin = |f: &dyn Fn(&ErrorBin) -> f64| {
                            mean(
                                runs.iter()
                                    .map(|r| f(&r.report.points[p].ste_bias_by_error[b])),
                            )
                        };
                        (bin(&|x| x.mean_error), bin(&|x| x.relative_bias))
                    })
                    .collect(),
            ));
            let group = encoder_group(model);
            by_tau.push(Series::line(
                label,
                point
                    .gumbel_by_tau
                    .iter()
                    .enumerate()
                    .map(|(t, at)| {
                        let bias = mean(runs.iter().map(|r| {
                            on(&r.report.points[p].gumbel_by_tau[t].quality, group).relative_bias
                        }));
                        (at.tau, bias)
                    })
                    .collect(),
            ));
        }
    }
    line_chart_in(
        &MANY_COLOURS,
        &name.next().expect("a file per chart"),
        "STE's reconstruction bias on the encoder by ‖z − q‖ (bins of equal counts), mean over seeds",
        "mean ‖z − q‖ of the bin",
        "bias of the bin / ‖∇J‖",
        false,
        &by_error,
        None,
    )?;
    line_chart_in(
        &MANY_COLOURS,
        &name.next().expect("a file per chart"),
        "Gumbel-Softmax (soft): relative bias on the encoder against τ, mean over seeds",
        "τ",
        "‖E ĝ − ∇J‖ / ‖∇J‖, encoder",
        false,
        &by_tau,
        None,
    )?;
    Ok(())
}
