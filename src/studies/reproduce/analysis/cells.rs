//! The cells: every number the report gives beside our estimate over seeds,
//! with its one-run prediction interval.
#[allow(unused_imports)]
use super::*;

/// One published number beside its reproduction.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The experiment.
    pub experiment: Experiment,
    /// Where in the report's tables (K, β, column).
    pub label: String,
    /// The metric.
    pub metric: String,
    /// The report's value.
    pub report: f64,
    /// Over seeds, for the chosen variant.
    pub estimate: Option<Estimate>,
    /// The lowest seed's value.
    pub seed0: Option<f64>,
    /// (mean − report) / |report| (absolute difference where report = 0).
    pub rel_diff: Option<f64>,
    /// Whether rel_diff is absolute (report = 0).
    pub absolute: bool,
    /// The 95 % prediction interval for one new run (the report's numbers
    /// are single runs).
    pub prediction: Option<(f64, f64)>,
    /// (report − mean) / std: the report's distance from our mean in seed
    /// standard deviations (None without spread).
    pub seed_std: Option<f64>,
    /// One of the 8 calibrated cells (or the same numbers repeated in exp 2):
    /// fitted on the same seeds it is checked on (in-sample).
    pub fitted: bool,
    /// The report's value lies in our prediction interval (None: not run).
    pub agrees: Option<bool>,
    /// The other variants: (label, mean, agrees).
    pub alternatives: Vec<(String, f64, bool)>,
    /// Runs that failed and were left out.
    pub failed_runs: usize,
    /// Why it is outside the tolerance, measured.
    pub explanation: Option<String>,
}

pub(crate) type Extract = Box<dyn Fn(&UnitResult) -> Option<f64>>;

pub(crate) fn extractor(source: Source, metric_name: &str) -> Extract {
    let name = metric_name.to_string();
    match name.as_str() {
        "dead_codes" => Box::new(move |u| {
            metrics_of(u, source).map(|m| m.dead_code_fraction * u.spec.train.k as f64)
        }),
        "vs_baseline_pct" => Box::new(move |u| {
            let (b, m) = (metrics_of(u, Source::Baseline)?, metrics_of(u, source)?);
            Some(100.0 * (m.recon_mse - b.recon_mse) / b.recon_mse)
        }),
        "recon_over_insub" => {
            Box::new(move |u| metrics_of(u, source).map(|m| m.recon_mse / m.insub_distortion))
        }
        _ => Box::new(move |u| metrics_of(u, source).map(|m| metric(&m, &name))),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn make_cell(
    results: &Results,
    chosen: &dyn Fn(Experiment) -> Variant,
    exp: Experiment,
    k: Option<usize>,
    beta: Option<f64>,
    label: String,
    metric_name: &str,
    report: f64,
    source: Source,
    fitted: bool,
) -> Cell {
    let f = extractor(source, metric_name);
    let variant = chosen(exp);
    let (vals, failed_runs) = results.values(exp, variant, k, beta, &f);
    let estimate = Estimate::of(&vals);
    let absolute = report == 0.0;
    let diff = |mean: f64| {
        if absolute {
            mean - report
        } else {
            (mean - report) / report.abs()
        }
    };
    let agrees_with = |e: &Estimate| {
        let (lo, hi) = e.prediction_interval();
        lo <= report && report <= hi
    };
    let rel_diff = estimate.map(|e| diff(e.mean));
    let agrees = estimate.as_ref().map(agrees_with);
    let mut alternatives = Vec::new();
    for other in results.variants(exp) {
        if other == variant {
            continue;
        }
        let (v, _) = results.values(exp, other, k, beta, &f);
        if let Some(e) = Estimate::of(&v) {
            alternatives.push((other.label(), e.mean, agrees_with(&e)));
        }
    }
    let explanation = match (agrees, estimate) {
        (Some(false), Some(e)) => {
            let (lo, hi) = e.prediction_interval();
            let mut text = match e.seed_std_from(report) {
                Some(z) => format!(
                    "report {:+.1} seed-std from our mean (std {:.4}, {} seeds; one-run 95 % range [{lo:.4}, {hi:.4}])",
                    z, e.std, e.n
                ),
                None => "no seed-to-seed spread at all in our runs".to_string(),
            };
            match alternatives.iter().find(|a| a.2) {
                Some(a) => text.push_str(&format!("; inside the range under {} ({:.4})", a.0, a.1)),
                None if !alternatives.is_empty() => {
                    text.push_str("; outside under every tested init/batch choice too")
                }
                None => {}
            }
            Some(text)
        }
        _ => None,
    };
    Cell {
        experiment: exp,
        label,
        metric: metric_name.to_string(),
        report,
        estimate,
        seed0: results.first_seed(exp, variant, k, beta, &f),
        rel_diff,
        absolute,
        prediction: estimate.map(|e| e.prediction_interval()),
        seed_std: estimate.and_then(|e| e.seed_std_from(report)),
        fitted,
        agrees,
        alternatives,
        failed_runs,
        explanation,
    }
}

/// Every number of the report with its reproduction, for the chosen variant
/// of each experiment.
pub fn cells(results: &Results, chosen: &dyn Fn(Experiment) -> Variant) -> Vec<Cell> {
    let report = report_numbers();
    let mut out = Vec::new();
    let mut table = |exp: Experiment,
                     k: Option<usize>,
                     beta: Option<f64>,
                     prefix: String,
                     block: &Value,
                     fitted_baseline: bool| {
        if let Some(obj) = block.as_object() {
            for (key, metrics) in obj {
                let Some(source) = Source::from_report_key(key) else {
                    continue;
                };
                for (metric_name, value) in metrics.as_object().into_iter().flatten() {
                    let Some(v) = value.as_f64() else { continue };
                    let fitted = fitted_baseline
                        && source == Source::Baseline
                        && (metric_name == "recon_mse" || metric_name == "insub_distortion");
                    let label = format!("{prefix}{}", source.report_name());
                    out.push(make_cell(
                        results,
                        chosen,
                        exp,
                        k,
                        beta,
                        label,
                        metric_name,
                        v,
                        source,
                        fitted,
                    ));
                }
            }
        }
    };
    table(
        Experiment::Exp1,
        Some(16),
        None,
        String::new(),
        &report["exp1_verification"]["results"],
        false,
    );
    table(
        Experiment::Exp2,
        Some(32),
        None,
        String::new(),
        &report["exp2_convergence"]["results"],
        true,
    );
    for k in [8usize, 16, 32, 64] {
        table(
            Experiment::Exp3,
            Some(k),
            None,
            format!("K={k} · "),
            &report["exp3_codebook_scaling"]["results"][k.to_string()],
            true,
        );
    }
    for (beta, key) in [
        (0.0f64, "0.0"),
        (0.1, "0.1"),
        (0.25, "0.25"),
        (0.5, "0.5"),
        (1.0, "1.0"),
    ] {
        table(
            Experiment::Exp4,
            Some(32),
            Some(beta),
            format!("β={key} · "),
            &report["exp4_beta_ablation"]["results"][key],
            false,
        );
    }
    // The recon / in-sub ratios of experiment 3.
    for k in [8usize, 16, 32, 64] {
        let pair =
            &report["exp3_codebook_scaling"]["claims"]["recon_over_insub_ratio"][k.to_string()];
        for (i, source) in [Source::Baseline, Source::Method(MethodKind::ManualSte)]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = pair[i].as_f64() {
                out.push(make_cell(
                    results,
                    chosen,
                    Experiment::Exp3,
                    Some(k),
                    None,
                    format!("K={k} · {} (ratio table)", source.report_name()),
                    "recon_over_insub",
                    v,
                    source,
                    false,
                ));
            }
        }
    }
    out
}
