//! What `vqlab train` prints and writes: the header naming every setting,
//! the table (diverged and interrupted runs marked), the per-method JSON
//! records, the curves as CSV and SVG.
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::infra::provenance::Provenance;
use crate::model::MethodSpec;
use crate::train::{readable, Divergence, TrainConfig, TrainResult};

/// One method's outcome in `train`'s output.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Record {
    /// It trained (possibly blowing up, `diverged` set, or interrupted).
    Finished(Box<TrainResult>),
    /// It stopped on a non-finite value.
    Diverged(Box<DivergedRun>),
}

/// A method that stopped on a non-finite value: what is known of it.
#[derive(Serialize)]
pub struct DivergedRun {
    /// The method.
    pub method: MethodSpec,
    /// Its configuration.
    pub config: TrainConfig,
    /// Where and what.
    pub diverged: Divergence,
    /// The vqlab version and code fingerprint.
    pub provenance: Provenance,
}

impl Record {
    /// Whether the method diverged (non-finite or blown up).
    pub fn diverged(&self) -> bool {
        match self {
            Record::Finished(r) => r.diverged.is_some(),
            Record::Diverged(_) => true,
        }
    }
}

fn value_name<T: clap::ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

/// Every setting of `c`, as `name=value` words (the optimizer's, the
/// schedule's and the codebook's own settings only when they apply).
pub fn settings(c: &TrainConfig, gumbel: bool, auto: bool) -> Vec<String> {
    let mut s = vec![
        format!("model={}", c.model.describe()),
        format!("K={}", c.k),
        format!("m={}", c.m),
        format!("steps={}", c.steps),
        format!("batch={}", c.batch),
        format!("optimizer={}", value_name(&c.optimizer.kind)),
    ];
    if c.optimizer.kind == crate::optim::OptimizerKind::Adam {
        s.push(format!(
            "adam_beta1={} adam_beta2={} adam_eps={}",
            c.optimizer.beta1, c.optimizer.beta2, c.optimizer.eps
        ));
    }
    s.push(format!("schedule={}", value_name(&c.schedule.kind)));
    if c.schedule.kind == crate::optim::ScheduleKind::Cosine {
        s.push(format!(
            "lr_final_w={} lr_final_e={}",
            c.schedule.lr_final_w, c.schedule.lr_final_e
        ));
    }
    if auto {
        // Each method's own rates are on the `learning rates:` lines.
        s.push(format!("lr=auto (around lr_w={} lr_e={})", c.lr_w, c.lr_e));
    } else {
        s.push(format!("lr_w={}", c.lr_w));
        if c.codebook.by_gradient() {
            s.push(format!("lr_e={}", c.lr_e));
        }
    }
    s.push(format!("alpha={} beta={}", c.alpha, c.beta));
    s.push(format!("codebook={}", value_name(&c.codebook.update)));
    if !c.codebook.by_gradient() {
        s.push(format!(
            "ema_gamma={} ema_eps={}",
            c.codebook.gamma, c.codebook.eps
        ));
    }
    s.push(format!(
        "restart_threshold={}",
        c.codebook
            .dead_code_threshold
            .map_or("off".to_string(), |t| t.to_string())
    ));
    if gumbel {
        s.push(format!(
            "gumbel_tau={} tau_min={} tau_rate={}",
            c.gumbel.tau, c.gumbel.tau_min, c.gumbel.tau_rate
        ));
    }
    s.push(format!(
        "init={} kmeans_iters={} svd={} seed={}",
        c.init.name(),
        c.kmeans_iters,
        value_name(&c.svd),
        c.seed
    ));
    s
}

/// Prints the header and one row per method.
pub fn print_table(
    records: &[Record],
    config: &TrainConfig,
    rates: &str,
    (gumbel, auto): (bool, bool),
) {
    println!("train: {}", settings(config, gumbel, auto).join(" "));
    // Each method's rates: one line when they all share them.
    let per_method: Vec<(String, String)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Finished(r) => Some((
                r.method.name().to_string(),
                format!(
                    "lr_w={} lr_e={}, {}",
                    r.config.lr_w,
                    r.config.lr_e,
                    r.rates.as_ref().map_or(rates.to_string(), |o| o.describe())
                ),
            )),
            Record::Diverged(_) => None,
        })
        .collect();
    match per_method.first() {
        Some((_, first)) if per_method.iter().all(|(_, r)| r == first) => {
            println!("learning rates: {first}")
        }
        Some(_) => {
            println!("learning rates:");
            for (name, r) in &per_method {
                println!("  {name}: {r}");
            }
        }
        None => println!("learning rates: {rates}"),
    }
    let first = records.iter().find_map(|r| match r {
        Record::Finished(r) => Some(r),
        Record::Diverged(_) => None,
    });
    let diverged_line = |d: &DivergedRun| {
        println!(
            "{:<36} diverged at step {}: {}",
            d.method.name(),
            d.diverged.step,
            d.diverged.what
        )
    };
    let Some(first) = first else {
        for r in records {
            if let Record::Diverged(d) = r {
                diverged_line(d);
            }
        }
        return;
    };
    let dim = first.data.as_ref().map_or(1, |d| d.dim) as f64;
    if let Some(d) = &first.data {
        println!(
            "data: {} train / {} eval rows, D={}, centred={}, scaled by {} ({}); every number in the data's units",
            d.n_train, d.n_eval, d.dim, d.centered, readable(d.scale), d.scaling.name()
        );
    }
    let i = &first.initial;
    println!(
        "initial: recon_mse={} (per coordinate {}) insub={} entropy={}",
        readable(i.recon_mse),
        readable(i.recon_mse / dim),
        readable(i.insub_distortion),
        readable(i.usage_entropy)
    );
    // Image data: the PSNR beside the reconstruction error.
    let peak = first.data.as_ref().and_then(|d| d.pixel_range);
    if let Some(peak) = peak {
        println!(
            "PSNR: 10 log10(peak² / (recon_mse / D)) with the peak the training pixels' range, {}",
            readable(peak)
        );
    }
    let psnr_header = if peak.is_some() { "  PSNR dB" } else { "" };
    println!(
        "{:<36} {:>11} {:>11} {:>11} {:>9} {:>7} {:>6} {:>8} {:>10} {:>9}{psnr_header}",
        "method",
        "recon_mse",
        "recon/D",
        "insub",
        "entropy",
        "util",
        "dead",
        "restarts",
        "ms/step",
        "|WᵀW−I|"
    );
    for record in records {
        let r = match record {
            Record::Finished(r) => r,
            Record::Diverged(d) => {
                diverged_line(d);
                continue;
            }
        };
        let m = &r.final_metrics;
        let psnr = match (r.psnr_db, &r.diverged) {
            (Some(_), Some(_)) => format!(" {:>8}", "-"),
            (Some(p), None) => format!(" {p:>8.2}"),
            (None, _) => String::new(),
        };
        println!(
            "{:<36} {:>11} {:>11} {:>11} {:>9} {:>6.1}% {:>5.1}% {:>8} {:>10.4} {:>9}{psnr}",
            r.method.name(),
            readable(m.recon_mse),
            readable(m.recon_mse / dim),
            readable(m.insub_distortion),
            readable(m.usage_entropy),
            100.0 * m.utilization + 0.0,
            100.0 * m.dead_code_fraction + 0.0,
            r.restarts.map_or("-".to_string(), |n| n.to_string()),
            1e3 * r.timing.seconds_per_step,
            r.max_stiefel_defect
                .map_or("-".to_string(), |d| format!("{d:.1e}"))
        );
        if let Some(d) = &r.diverged {
            println!("{:<36} ↳ diverged at step {}: {}", "", d.step, d.what);
        }
        if let Some(step) = r.interrupted_at {
            println!(
                "{:<36} ↳ interrupted after step {step} of {}",
                "", r.config.steps
            );
        }
    }
}

/// The curves of every finished method as CSV: one row per logged point.
pub fn curves_csv(records: &[Record]) -> String {
    let mut out = String::from(
        "method,step,batch_recon,batch_codebook,batch_commitment,batch_total,eval_recon_mse,eval_insub_distortion,eval_usage_entropy,eval_utilization,eval_dead_code_fraction,restarts\n",
    );
    for record in records {
        let Record::Finished(r) = record else {
            continue;
        };
        for p in &r.curve {
            let (b, e) = (&p.batch_loss, &p.eval);
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                r.method.name(),
                p.step,
                b.recon,
                b.codebook,
                b.commitment,
                b.total,
                e.recon_mse,
                e.insub_distortion,
                e.usage_entropy,
                e.utilization,
                e.dead_code_fraction,
                p.restarts.map_or(String::new(), |n| n.to_string())
            ));
        }
    }
    out
}

/// Writes `path` (CSV) and the plot of eval recon along training beside it
/// (the same name with `.svg`).
pub fn write_curves(records: &[Record], path: &Path) -> Result<std::path::PathBuf> {
    use crate::studies::reproduce::plots::{line_chart_in, Series, MANY_COLOURS};
    crate::infra::io::write_atomic(path, curves_csv(records).as_bytes())?;
    let svg = path.with_extension("svg");
    let series: Vec<Series> = records
        .iter()
        .filter_map(|r| match r {
            Record::Finished(r) if r.diverged.is_none() => Some(Series::line(
                r.method.name(),
                r.curve
                    .iter()
                    .map(|p| (p.step as f64, p.eval.recon_mse))
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    let start = records.iter().find_map(|r| match r {
        Record::Finished(r) => Some(r.initial.recon_mse),
        Record::Diverged(_) => None,
    });
    line_chart_in(
        &MANY_COLOURS,
        &svg,
        "vqlab train: eval recon along training",
        "step",
        "eval recon MSE (data units)",
        false,
        &series,
        start.map(|s| ("start", s)),
    )?;
    Ok(svg)
}
