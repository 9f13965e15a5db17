//! The C2 study's analysis: the gain under every condition, the bound, the
//! joint fit and the verdict sentence.
#[allow(unused_imports)]
use super::*;

/// One row of the conditions table.
#[derive(Debug, Clone, Serialize)]
pub struct ConditionRow {
    /// What moved: `baseline`, `training`, `data`, `evaluation`.
    pub group: String,
    /// The setting.
    pub label: String,
    /// Baseline recon, mean over seeds.
    pub baseline_recon: Option<Estimate>,
    /// Trained model recon.
    pub method_recon: Option<Estimate>,
    /// Gain, % of baseline recon, paired by seed, its interval at the
    /// study's corrected level.
    pub gain_pct: Option<Estimate>,
    /// The per-seed gains behind it.
    pub gains: Vec<f64>,
    /// Seeds whose trained recon ends above [`UNSTABLE_FACTOR`] × their
    /// baseline recon: the training blew up there (a gain interval over
    /// them says nothing about the band).
    pub unstable_seeds: usize,
    /// The gain against the report's band [1.3, 1.7] (reproduced = the
    /// interval lies inside the band; overlapping it = not significant).
    pub verdict: Verdict,
}

/// One row of the bound table.
#[derive(Debug, Clone, Serialize)]
pub struct BoundRow {
    /// The data variant.
    pub data: String,
    /// Eval in-sub distortion: standard baseline, trained (manual STE),
    /// bound (PCA W, best k-means).
    pub baseline_insub: Option<Estimate>,
    /// Trained model's in-sub.
    pub method_insub: Option<Estimate>,
    /// The bound's in-sub.
    pub bound_insub: Option<Estimate>,
    /// The bound's recon.
    pub bound_recon: Option<Estimate>,
    /// The bound's gain against the report's band (one 95 % interval):
    /// does converging k-means alone give the report's gain?
    pub bound_verdict: Verdict,
    /// The lowest eval in-sub over the bound's restarts (chosen on the
    /// evaluation set).
    pub lowest_eval_insub: Option<Estimate>,
    /// Gain of the bound's codebook over the standard baseline, % of
    /// baseline recon: what the best codebook k-means finds for the PCA W adds
    /// (an estimate of the most a codebook can add, not a proven bound).
    pub bound_gain_pct: Option<Estimate>,
    /// The calibration residual of the data's preset (max |rel|), if
    /// recalibrated.
    pub calibration_residual: Option<f64>,
}

/// The study's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct C2Study {
    /// Every condition with the gain under it.
    pub conditions: Vec<ConditionRow>,
    /// The bound per data variant.
    pub bounds: Vec<BoundRow>,
    /// The joint fit: data variants whose preset fits the baseline cells
    /// within [`JOINT_CELL_TOLERANCE`] and whose gain interval meets the
    /// band.
    pub joint: Vec<String>,
    /// The confidence level of each row's gain interval: Bonferroni over the
    /// rows, so that the table's family-wise error rate is 5 %.
    pub level: f64,
    /// The verdict sentence.
    pub verdict: String,
    /// Seeds.
    pub seeds: usize,
}

/// A training "blew up" on a seed when its recon ends above this multiple of
/// the baseline's.
pub const UNSTABLE_FACTOR: f64 = 1.5;

/// A preset "reproduces the baseline cells" when every fitted cell is within
/// this relative error (the reference preset's own fit is within 2.5 %).
pub const JOINT_CELL_TOLERANCE: f64 = 0.03;

/// Builds the tables from the units.
pub fn analyse(units: &[C2Result], reference_residual: Option<f64>) -> C2Study {
    let mut conditions = Vec::new();
    let mut bounds = Vec::new();
    let by_data = |name: &str| -> Vec<&C2Result> {
        let mut v: Vec<&C2Result> = units.iter().filter(|u| u.spec.data_name == name).collect();
        v.sort_by_key(|u| u.spec.seed);
        v
    };
    let variants = units
        .iter()
        .find(|u| u.spec.trainings.len() > 1)
        .map(|u| data_variants(&u.spec.data))
        .unwrap_or_default();
    let mut names: Vec<String> = Vec::new();
    for u in units {
        if !names.contains(&u.spec.data_name) {
            names.push(u.spec.data_name.clone());
        }
    }
    // Rows are judged once every row is known (the level is corrected over
    // them).
    let row = |group: &str, label: String, pairs: Vec<(f64, f64)>| -> ConditionRow {
        let base: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let method: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        ConditionRow {
            group: group.into(),
            label,
            baseline_recon: Estimate::of(&base),
            method_recon: Estimate::of(&method),
            gains: pairs.iter().map(|p| gain(p.0, p.1)).collect(),
            unstable_seeds: pairs.iter().filter(|p| p.1 > UNSTABLE_FACTOR * p.0).count(),
            gain_pct: None,
            verdict: Verdict::NotRun,
        }
    };
    // The reference data: baselines, trainings, evaluation on the train set.
    if let Some(first) = names.first() {
        let reference = by_data(first);
        if let Some(u0) = reference.first() {
            let trained = |u: &C2Result, t: usize| u.trainings.get(t).copied().flatten();
            for (b, variant) in u0.spec.baselines.iter().enumerate() {
                let pairs = reference
                    .iter()
                    .filter_map(|u| {
                        Some((
                            u.baselines.get(b)?.eval.recon_mse,
                            trained(u, 0)?.eval.recon_mse,
                        ))
                    })
                    .collect();
                let standard = if b == 0 { " (standard)" } else { "" };
                conditions.push(row(
                    "baseline",
                    format!("{}{standard}", variant.label()),
                    pairs,
                ));
            }
            for (t, variant) in u0.spec.trainings.iter().enumerate().skip(1) {
                let pairs = reference
                    .iter()
                    .filter_map(|u| {
                        Some((u.baselines[0].eval.recon_mse, trained(u, t)?.eval.recon_mse))
                    })
                    .collect();
                conditions.push(row(
                    "training",
                    format!(
                        "{} steps, η_E = {}, batch {}",
                        variant.steps, variant.lr_e, variant.batch
                    ),
                    pairs,
                ));
            }
            let pairs = reference
                .iter()
                .filter_map(|u| {
                    Some((
                        u.baselines[0].train.recon_mse,
                        trained(u, 0)?.train.recon_mse,
                    ))
                })
                .collect();
            conditions.push(row(
                "evaluation",
                "training set instead of held-out".into(),
                pairs,
            ));
        }
    }
    for name in &names {
        let runs = by_data(name);
        let pairs = runs
            .iter()
            .filter_map(|u| {
                Some((
                    u.baselines[0].eval.recon_mse,
                    u.trainings.first().copied().flatten()?.eval.recon_mse,
                ))
            })
            .collect();
        if name != &names[0] {
            conditions.push(row("data", name.clone(), pairs));
        }
        let values = |f: &dyn Fn(&C2Result) -> Option<f64>| -> Option<Estimate> {
            Estimate::of(&runs.iter().filter_map(|u| f(u)).collect::<Vec<_>>())
        };
        let residual = if name == &names[0] {
            reference_residual
        } else {
            variants
                .iter()
                .find(|d| &d.name == name)
                .and_then(|d| d.calibration_residual)
        };
        bounds.push(BoundRow {
            data: name.clone(),
            baseline_insub: values(&|u| Some(u.baselines[0].eval.insub_distortion)),
            method_insub: values(&|u| {
                Some(
                    u.trainings
                        .first()
                        .copied()
                        .flatten()?
                        .eval
                        .insub_distortion,
                )
            }),
            bound_insub: values(&|u| Some(u.bound.eval.insub_distortion)),
            bound_recon: values(&|u| Some(u.bound.eval.recon_mse)),
            lowest_eval_insub: values(&|u| Some(u.bound_lowest_eval.insub_distortion)),
            bound_gain_pct: values(&|u| {
                Some(gain(u.baselines[0].eval.recon_mse, u.bound.eval.recon_mse))
            }),
            bound_verdict: Verdict::NotRun,
            calibration_residual: residual,
        });
    }
    let judged = conditions.iter().filter(|c| c.gains.len() >= 2).count();
    let level = bonferroni_level(judged);
    for c in &mut conditions {
        c.gain_pct = (c.gains.len() >= 2)
            .then(|| Estimate::at_level(&c.gains, level))
            .flatten();
        c.verdict = c.gain_pct.map_or(Verdict::NotRun, |e| BAND.judge(&e));
    }
    for b in &mut bounds {
        b.bound_verdict = b.bound_gain_pct.map_or(Verdict::NotRun, |e| BAND.judge(&e));
    }
    let joint: Vec<String> = bounds
        .iter()
        .filter(|b| {
            b.calibration_residual
                .is_some_and(|r| r <= JOINT_CELL_TOLERANCE)
        })
        .filter(|b| {
            conditions
                .iter()
                .find(|c| {
                    (c.group == "data" && c.label == b.data)
                        || (b.data == names[0] && c.label.ends_with("(standard)"))
                })
                .is_some_and(|c| {
                    c.unstable_seeds == 0
                        && matches!(c.verdict, Verdict::Reproduced | Verdict::NotSignificant)
                })
        })
        .map(|b| b.data.clone())
        .collect();
    let verdict = verdict_sentence(&conditions, &bounds, &joint, level);
    C2Study {
        conditions,
        bounds,
        joint,
        level,
        verdict,
        seeds: units
            .iter()
            .map(|u| u.spec.seed)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
    }
}

/// The "Verdict on C2" paragraph: every sentence states a test printed
/// beside it and follows from its outcome.
pub(crate) fn verdict_sentence(
    conditions: &[ConditionRow],
    bounds: &[BoundRow],
    joint: &[String],
    level: f64,
) -> String {
    let judged: Vec<&ConditionRow> = conditions.iter().filter(|c| c.gain_pct.is_some()).collect();
    let with = |v: Verdict| -> Vec<&ConditionRow> {
        judged.iter().copied().filter(|c| c.verdict == v).collect()
    };
    let (inside, undecided, outside) = (
        with(Verdict::Reproduced),
        with(Verdict::NotSignificant),
        with(Verdict::NotReproduced),
    );
    let unstable: Vec<&ConditionRow> = judged
        .iter()
        .copied()
        .filter(|c| c.unstable_seeds > 0)
        .collect();
    let largest = judged
        .iter()
        .max_by(|a, b| {
            a.gain_pct
                .map(|e| e.mean)
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&b.gain_pct.map(|e| e.mean).unwrap_or(f64::NEG_INFINITY))
        })
        .copied();
    let family = conditions.iter().filter(|c| c.gains.len() >= 2).count();
    let mut text = format!(
        "Of {} conditions (each gain interval at {:.2} %: Bonferroni over the {family} rows with data, family-wise error 5 %), the interval lies inside the report's 1.3–1.7 % band under {}{}; it overlaps the band without lying inside it (not significant: the seeds cannot tell) under {}{}; it is disjoint from the band (not reproduced) under {}.",
        judged.len(),
        100.0 * level,
        inside.len(),
        list(&inside),
        undecided.len(),
        list(&undecided),
        outside.len(),
    );
    if !unstable.is_empty() {
        text.push_str(&format!(
            " Training blew up (recon above {UNSTABLE_FACTOR}× the baseline's) on some seeds under {}{}: those intervals say nothing about the band.",
            unstable.len(),
            list(&unstable)
        ));
    }
    if let Some(c) = largest {
        let e = c.gain_pct.expect("judged");
        text.push_str(&format!(
            " The largest mean gain is {:+.3} % ({:.2} % interval [{:.3}, {:.3}]) with {} ({}).",
            e.mean,
            100.0 * e.level,
            e.ci_low,
            e.ci_high,
            c.label,
            c.group
        ));
    }
    if let Some(reference) = bounds.first() {
        if let Some(g) = reference.bound_gain_pct {
            let against_band = match reference.bound_verdict {
                Verdict::Reproduced => "inside the report's band: converging k-means alone gives what the report calls the gradient methods' gain".to_string(),
                Verdict::NotReproduced if g.ci_high < 1.3 => "below the band and disjoint from it (not reproduced): converging k-means alone gives less than the report's 1.3–1.7 %, so the best codebook k-means finds for the PCA encoder does not by itself give the report's gain".to_string(),
                Verdict::NotReproduced => "above the band and disjoint from it (not reproduced): converging k-means alone gives more than the report's 1.3–1.7 %".to_string(),
                _ => "overlapping the band without lying inside it (not significant): the seeds cannot tell whether converging k-means alone gives the report's gain".to_string(),
            };
            text.push_str(&format!(
                " On the reference data the bound (the PCA encoder with the best of many k-means restarts run to convergence, chosen on the training codes) gains {:+.3} % over the baseline (95 % interval [{:.3}, {:.3}], a separate test outside the table's family): {against_band}.",
                g.mean, g.ci_low, g.ci_high
            ));
        }
        if let (Some(base), Some(b), Some(low), Some(m)) = (
            reference.baseline_insub,
            reference.bound_insub,
            reference.lowest_eval_insub,
            reference.method_insub,
        ) {
            text.push_str(&format!(
                " Eval in-sub distortion: the baseline {:.4}, the trained model {:.4}, the bound {:.4}, the best of the bound's restarts chosen on the evaluation set itself {:.4}.",
                base.mean, m.mean, b.mean, low.mean
            ));
            let report = crate::studies::reproduce::analysis::report_numbers();
            let cells: Vec<f64> = ["autograd_ste", "manual_ste", "rotation"]
                .iter()
                .filter_map(|k| {
                    report["exp2_convergence"]["results"][k]["insub_distortion"].as_f64()
                })
                .collect();
            if let (Some(lo), Some(hi)) = (
                cells.iter().cloned().reduce(f64::min),
                cells.iter().cloned().reduce(f64::max),
            ) {
                // Where the report's cells sit in each range: all inside, all
                // outside, or some of each.
                let place = |range: (f64, f64)| {
                    let inside = cells
                        .iter()
                        .filter(|&&c| c >= range.0 && c <= range.1)
                        .count();
                    match inside {
                        0 => "outside",
                        n if n == cells.len() => "inside",
                        _ => "partly inside",
                    }
                };
                let (bound_range, base_range) =
                    (b.prediction_interval(), base.prediction_interval());
                let reading = match (place(bound_range), place(base_range)) {
                    ("inside", "inside") => "all inside both, so the one-run ranges cannot tell the report's runs from either codebook: this comparison does not discriminate".to_string(),
                    ("inside", "outside") => "all inside the bound's range and outside the baseline's: the report's runs are compatible with converged k-means, not with the standard baseline (this lab's, on this lab's data)".to_string(),
                    ("outside", "inside") => "all inside the baseline's range and outside the bound's: the report's runs are compatible with the standard baseline, not with converged k-means (this lab's, on this lab's data)".to_string(),
                    (bound, base) => format!("{bound} the bound's range and {base} the baseline's: no clear reading"),
                };
                text.push_str(&format!(
                    " The report's gradient methods give {lo:.4}–{hi:.4} against the 95 % one-run ranges of the bound [{:.4}, {:.4}] and of the standard baseline [{:.4}, {:.4}]: {reading}.",
                    bound_range.0, bound_range.1, base_range.0, base_range.1
                ));
            }
        }
    }
    if joint.is_empty() {
        text.push_str(&format!(
            " No recalibrated data variant fits the 8 baseline cells within {:.0} % and gives a gain interval compatible with the band (joint fit: none).",
            100.0 * JOINT_CELL_TOLERANCE
        ));
    } else {
        // The joint variants by their row's verdict: inside the band, or
        // only overlapping it.
        let row_of = |name: &str| {
            conditions
                .iter()
                .find(|c| c.group == "data" && c.label == name)
                .or_else(|| conditions.iter().find(|c| c.label.ends_with("(standard)")))
        };
        let (inside, overlapping): (Vec<&String>, Vec<&String>) = joint
            .iter()
            .partition(|name| row_of(name).is_some_and(|c| c.verdict == Verdict::Reproduced));
        let names = |v: &[&String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            }
        };
        text.push_str(&format!(
            " Data variants that fit the baseline cells within {:.0} %: with a gain interval inside the band (reproducing it), {}; overlapping it only (compatible, not significant), {}.",
            100.0 * JOINT_CELL_TOLERANCE,
            names(&inside),
            names(&overlapping)
        ));
    }
    text
}
