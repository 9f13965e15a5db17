//! `vqlab check DIR`: which estimator, codebook form and loss wiring a
//! quantizer layer's probe matches (`model::layer_check`).
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::error::VqError;
use crate::model::layer_check::{identify, Probe};

/// Flags of `vqlab check`.
#[derive(Args, Debug)]
pub struct CheckCmd {
    /// A probe directory (docs/PROBE.md): z, codebook, output, assignments,
    /// aux_loss, upstream, grad_z [, grad_codebook, nsvq_directions,
    /// gumbel_noise] as .npy and probe.json; written by
    /// python/vqlab_probe.py or `vqlab gradcheck --dump`.
    pub dir: PathBuf,
    /// The largest relative error per tensor (max |observed − predicted| /
    /// max(max |observed|, max |predicted|)) a match allows. The default
    /// leaves room for float32 layers (rounding ~1e-7) and none for a 1 %
    /// change.
    #[arg(long, default_value_t = 1e-3)]
    pub tol: f64,
    /// Print the identification as JSON (every candidate, best first).
    #[arg(long)]
    pub json: bool,
    /// Candidates listed in the table.
    #[arg(long, default_value_t = 5)]
    pub show: usize,
}

fn exp(v: f64) -> String {
    format!("{v:.1e}")
}

/// Runs `vqlab check`: exit 0 on a match, 1 on none, 2 on a bad probe.
pub fn execute(cmd: CheckCmd) -> Result<()> {
    if !(cmd.tol.is_finite() && cmd.tol > 0.0) {
        return Err(crate::error::invalid("tol", cmd.tol, "a finite number > 0").into());
    }
    let probe = Probe::load(&cmd.dir)?;
    let id = identify(&probe, cmd.tol);
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(&id)?);
    } else {
        let meta = &probe.meta;
        println!(
            "probe: {} — {} {} {} {}; B = {} rows, m = {}, K = {}",
            cmd.dir.display(),
            meta.library,
            meta.version,
            meta.layer,
            meta.dtype,
            id.rows,
            id.width,
            id.codes
        );
        for f in &id.forward {
            println!(
                "forward ({}): {} of {} assignments are nearest codes; output vs the assigned code: error {} (scale {:.6})",
                format!("{:?}", f.form).to_lowercase(),
                f.nearest_rows,
                id.rows,
                exp(f.output_vs_code),
                f.output_scale
            );
        }
        println!();
        println!(
            "{:>3}  {:<20} {:<7} {:<17} {:>12} {:>12} {:>9} {:>9}",
            "#", "output path", "form", "wiring", "commitment", "codebook", "err ∂z", "err ∂E"
        );
        for (i, c) in id.candidates.iter().take(cmd.show).enumerate() {
            println!(
                "{:>3}  {:<20} {:<7} {:<17} {:>12.4} {:>12} {:>9} {:>9}",
                i + 1,
                c.path.name(),
                format!("{:?}", c.form).to_lowercase(),
                match c.wiring {
                    crate::model::layer_check::identify::Wiring::Separate => "separate",
                    crate::model::layer_check::identify::Wiring::Combined => "combined",
                    crate::model::layer_check::identify::Wiring::CodebookOutside =>
                        "codebook-outside",
                },
                c.commitment.mse_mean,
                c.codebook
                    .map_or("—".to_string(), |w| format!("{:.4}", w.mse_mean)),
                exp(c.err_grad_z),
                c.err_grad_codebook.map_or("—".to_string(), exp),
            );
        }
        println!(
            "(weights on a mean over all B·m entries, F.mse_loss; ÷ m = {} for per-row sums averaged over rows)",
            id.width
        );
        println!(
            "aux loss: returned {:.6}, the best fit's weights predict {:.6}",
            id.aux_loss_returned, id.aux_loss_predicted
        );
        let best = &id.candidates[0];
        if id.matched {
            println!(
                "match (every tensor within {}): {}",
                exp(cmd.tol),
                best.describe()
            );
            if let Some(second) = id.candidates.get(1) {
                println!(
                    "runner-up (error {}): {}",
                    exp(second.error),
                    second.describe()
                );
            }
        } else {
            println!(
                "no match within {}: the closest (error {}) is: {}",
                exp(cmd.tol),
                exp(best.error),
                best.describe()
            );
            for d in best.describe_departures() {
                println!("  {d}");
            }
        }
        for n in &id.notes {
            println!("note: {n}");
        }
    }
    if id.matched {
        Ok(())
    } else {
        let best = &id.candidates[0];
        Err(VqError::NoMatch {
            tolerance: cmd.tol,
            closest: format!("{} (error {})", best.describe(), exp(best.error)),
        }
        .into())
    }
}
