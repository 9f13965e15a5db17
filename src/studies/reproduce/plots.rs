//! SVG plots of the reproduction (plotters).
use std::path::Path;

use plotters::prelude::*;

use super::analysis::{metrics_of, report_numbers, Results, Source};
use super::runs::{Experiment, Variant};
use crate::error::{Result, VqError};
use crate::model::MethodKind;
use crate::study::stats::Estimate;

const COLOURS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

fn plot_err(path: &Path, e: impl std::fmt::Display) -> VqError {
    VqError::Data {
        path: path.to_path_buf(),
        message: format!("plotting failed: {e}"),
    }
}

/// One line (or set of markers) of a chart.
pub(crate) struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    markers_only: bool,
}

impl Series {
    /// Our measurements: a line with dots.
    pub(crate) fn line(name: String, points: Vec<(f64, f64)>) -> Self {
        Series {
            name,
            points,
            markers_only: false,
        }
    }

    /// The report's numbers: crosses only.
    fn markers(name: String, points: Vec<(f64, f64)>) -> Self {
        Series {
            name,
            points,
            markers_only: true,
        }
    }
}

/// The colours of charts with many lines (the reproduction's charts keep
/// their five).
pub(crate) const MANY_COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    log_x: bool,
    series: &[Series],
    hline: Option<(&str, f64)>,
) -> Result<()> {
    line_chart_in(
        &COLOURS,
        path,
        title,
        x_label,
        "eval recon MSE",
        log_x,
        series,
        hline,
    )
}

/// A line chart of `series` in `colours` (cycled), with an optional
/// horizontal reference line; the x axis in log2 when `log_x`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn line_chart_in(
    colours: &[RGBColor],
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    log_x: bool,
    series: &[Series],
    hline: Option<(&str, f64)>,
) -> Result<()> {
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .chain(hline.map(|h| (f64::NAN, h.1)))
        .collect();
    let xs: Vec<f64> = all.iter().map(|p| p.0).filter(|v| v.is_finite()).collect();
    let ys: Vec<f64> = all.iter().map(|p| p.1).filter(|v| v.is_finite()).collect();
    if xs.is_empty() || ys.is_empty() {
        return Ok(());
    }
    let tx = |x: f64| if log_x { x.log2() } else { x };
    let (x0, x1) = (
        xs.iter().copied().map(tx).fold(f64::INFINITY, f64::min),
        xs.iter().copied().map(tx).fold(f64::NEG_INFINITY, f64::max),
    );
    let (y0, y1) = (
        ys.iter().copied().fold(f64::INFINITY, f64::min),
        ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let pad_y = ((y1 - y0) * 0.08).max(1e-6);
    let pad_x = ((x1 - x0) * 0.03).max(1e-6);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((x0 - pad_x)..(x1 + pad_x), (y0 - pad_y)..(y1 + pad_y))
        .map_err(|e| plot_err(path, e))?;
    chart
        .configure_mesh()
        .x_desc(if log_x {
            format!("{x_label} (log2)")
        } else {
            x_label.to_string()
        })
        .y_desc(y_label)
        .x_label_formatter(&|x| {
            if log_x {
                format!("{:.0}", 2f64.powf(*x))
            } else {
                format!("{x}")
            }
        })
        .draw()
        .map_err(|e| plot_err(path, e))?;
    for (i, s) in series.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let pts: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (tx(x), y)).collect();
        if s.markers_only {
            chart
                .draw_series(
                    pts.iter()
                        .map(|&p| Cross::new(p, 6, colour.stroke_width(2))),
                )
                .map_err(|e| plot_err(path, e))?
                .label(s.name.clone())
                .legend(move |(x, y)| Cross::new((x + 10, y), 5, colour.stroke_width(2)));
        } else {
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
                .map_err(|e| plot_err(path, e))?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(|e| plot_err(path, e))?;
        }
    }
    if let Some((name, y)) = hline {
        chart
            .draw_series(LineSeries::new(
                vec![(x0, y), (x1, y)],
                BLACK.stroke_width(1),
            ))
            .map_err(|e| plot_err(path, e))?
            .label(name.to_string())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| plot_err(path, e))?;
    root.present().map_err(|e| plot_err(path, e))?;
    Ok(())
}

fn mean(v: &[f64]) -> Option<f64> {
    Estimate::of(v).map(|e| e.mean)
}

/// Writes the three plots (those whose experiments were run).
pub fn write_all(
    dir: &Path,
    results: &Results,
    chosen: &dyn Fn(Experiment) -> Variant,
) -> Result<()> {
    use MethodKind::*;
    let report = report_numbers();
    // Experiment 2 curves.
    let v2 = chosen(Experiment::Exp2);
    let units = results.select(Experiment::Exp2, v2, None, None);
    if !units.is_empty() {
        let mut series = Vec::new();
        for m in [AutogradSte, ManualSte, Rotation, RotationTrick] {
            let steps: Vec<usize> = units[0]
                .run(m)
                .map(|r| r.curve.iter().map(|p| p.step).collect())
                .unwrap_or_default();
            let points = steps
                .iter()
                .filter_map(|&s| {
                    let vals: Vec<f64> = units
                        .iter()
                        .filter_map(|u| {
                            u.run(m)?
                                .curve
                                .iter()
                                .find(|p| p.step == s)
                                .map(|p| p.eval.recon_mse)
                        })
                        .collect();
                    mean(&vals).map(|y| (s as f64, y))
                })
                .collect();
            series.push(Series::line(m.name().to_string(), points));
        }
        let base: Vec<f64> = units
            .iter()
            .filter_map(|u| metrics_of(u, Source::Baseline).map(|m| m.recon_mse))
            .collect();
        line_chart(
            &dir.join("exp2_curves.svg"),
            &format!(
                "Experiment 2 (K = 32, {}): eval recon MSE, mean over {} seeds",
                v2.label(),
                units.len()
            ),
            "step",
            false,
            &series,
            mean(&base).map(|b| ("PCA + Lloyd", b)),
        )?;
    }
    // Experiment 3: recon vs K.
    let v3 = chosen(Experiment::Exp3);
    if !results.select(Experiment::Exp3, v3, None, None).is_empty() {
        let mut series = Vec::new();
        for (name, source, key) in [
            ("PCA + Lloyd", Source::Baseline, "pca_lloyd"),
            ("manual-ste", Source::Method(ManualSte), "manual_ste"),
            ("rotation", Source::Method(Rotation), "rotation"),
        ] {
            let ours = [8usize, 16, 32, 64]
                .iter()
                .filter_map(|&k| {
                    mean(
                        &results
                            .values(Experiment::Exp3, v3, Some(k), None, |u| {
                                metrics_of(u, source).map(|m| m.recon_mse)
                            })
                            .0,
                    )
                    .map(|y| (k as f64, y))
                })
                .collect();
            series.push(Series::line(format!("{name} (vqlab)"), ours));
            let theirs = [8usize, 16, 32, 64]
                .iter()
                .filter_map(|&k| {
                    report["exp3_codebook_scaling"]["results"][k.to_string()][key]["recon_mse"]
                        .as_f64()
                        .map(|y| (k as f64, y))
                })
                .collect();
            series.push(Series::markers(format!("{name} (report)"), theirs));
        }
        line_chart(
            &dir.join("exp3_recon_vs_k.svg"),
            &format!("Experiment 3 ({}): recon MSE vs K", v3.label()),
            "K",
            true,
            &series,
            None,
        )?;
    }
    // Experiment 4: recon vs β.
    let v4 = chosen(Experiment::Exp4);
    if !results.select(Experiment::Exp4, v4, None, None).is_empty() {
        let betas = [0.0f64, 0.1, 0.25, 0.5, 1.0];
        let mut series = Vec::new();
        for (name, source, key) in [
            ("manual-ste", Source::Method(ManualSte), "manual_ste"),
            ("rotation", Source::Method(Rotation), "rotation"),
        ] {
            let ours = betas
                .iter()
                .filter_map(|&b| {
                    mean(
                        &results
                            .values(Experiment::Exp4, v4, None, Some(b), |u| {
                                metrics_of(u, source).map(|m| m.recon_mse)
                            })
                            .0,
                    )
                    .map(|y| (b, y))
                })
                .collect();
            series.push(Series::line(format!("{name} (vqlab)"), ours));
            let theirs = betas
                .iter()
                .zip(["0.0", "0.1", "0.25", "0.5", "1.0"])
                .filter_map(|(&b, k)| {
                    report["exp4_beta_ablation"]["results"][k][key]["recon_mse"]
                        .as_f64()
                        .map(|y| (b, y))
                })
                .collect();
            series.push(Series::markers(format!("{name} (report)"), theirs));
        }
        line_chart(
            &dir.join("exp4_recon_vs_beta.svg"),
            &format!("Experiment 4 (K = 32, {}): recon MSE vs β", v4.label()),
            "β",
            false,
            &series,
            None,
        )?;
    }
    Ok(())
}
