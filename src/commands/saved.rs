//! `vqlab evaluate` and `vqlab encode`: saved parameters on new data.
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::data::load_matrix_with;
use crate::numerics::metrics::Metrics;
use crate::train::saved::{load, Manifest};

/// Arguments of `vqlab evaluate`.
#[derive(Args)]
pub struct EvaluateCmd {
    /// A folder written by `vqlab train --save-params`.
    #[arg(long, value_name = "DIR")]
    pub params: PathBuf,
    /// Data to evaluate on (.npy or .csv, one sample per row, in the units
    /// of the training data: centring and scaling are applied as in
    /// training). Every row is used: to score the held-out rows of a
    /// `train --data FILE` (or --set) run, write them with `vqlab data export
    /// --data FILE` (same --seed) and give its eval_raw.npy (its eval.npy is
    /// already centred and scaled), or train with --eval-data.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// The CSV delimiter [default: detected].
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `vqlab encode`.
#[derive(Args)]
pub struct EncodeCmd {
    /// A folder written by `vqlab train --save-params`.
    #[arg(long, value_name = "DIR")]
    pub params: PathBuf,
    /// Data to encode (.npy or .csv, one sample per row).
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// The CSV delimiter [default: detected].
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Where to write codes.npy (int64: one code index per row; for the
    /// conv model one per latent vector, rows × grid positions in row-major
    /// grid order) and reconstruction.npy (the decoded nearest codes of
    /// every row, in the data's units).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also write a PNG picture of the first --grid-rows rows, each beside
    /// its reconstruction (grey for one channel, colour for three), to this
    /// file. Needs the rows' image shape: the conv model's own, or
    /// --image-shape.
    #[arg(long, value_name = "FILE.png")]
    pub grid: Option<PathBuf>,
    /// Rows in the --grid picture (eight pairs per line).
    #[arg(long, default_value_t = 16)]
    pub grid_rows: usize,
    /// The image shape of a row, C,H,W (e.g. 1,28,28), for --grid with a
    /// model that does not know it (the linear models, mlp).
    #[arg(long, value_name = "C,H,W")]
    pub image_shape: Option<crate::data::ImageShape>,
}

#[derive(Serialize)]
struct Evaluation<'a> {
    params: &'a Manifest,
    data: String,
    rows: usize,
    metrics: Metrics,
    recon_mse_per_coordinate: f64,
    /// Image models (conv) only: the PSNR in dB, the peak the range of the
    /// evaluated rows' values.
    #[serde(skip_serializing_if = "Option::is_none")]
    psnr_db: Option<f64>,
}

fn delimiter(c: Option<char>) -> Result<Option<u8>> {
    match c {
        None => Ok(None),
        Some(c) if c.is_ascii() => Ok(Some(c as u8)),
        Some(c) => anyhow::bail!("invalid delimiter = {c:?}: one ASCII character"),
    }
}

/// Runs `vqlab evaluate`.
pub fn execute_evaluate(cmd: EvaluateCmd) -> Result<()> {
    let model = load(&cmd.params)?;
    let x = load_matrix_with(&cmd.data, delimiter(cmd.delimiter)?)?;
    let metrics = model.evaluate(x.view(), &cmd.data)?;
    let peak = {
        let (lo, hi) = crate::numerics::metrics::value_range(x.iter());
        hi - lo
    };
    let out = Evaluation {
        params: &model.manifest,
        data: cmd.data.display().to_string(),
        rows: x.nrows(),
        metrics,
        recon_mse_per_coordinate: metrics.recon_mse / model.manifest.dim as f64,
        psnr_db: model.params.model.image.map(|_| {
            crate::numerics::metrics::psnr_db(metrics.recon_mse, model.manifest.dim, peak)
        }),
    };
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        use crate::train::significant as sig;
        println!(
            "{} on {} ({} rows): recon_mse {} (per coordinate {}), insub {}, entropy {}, utilization {:.1} %, dead codes {:.1} %",
            model.manifest.method,
            out.data,
            out.rows,
            sig(metrics.recon_mse),
            sig(out.recon_mse_per_coordinate),
            sig(metrics.insub_distortion),
            sig(metrics.usage_entropy),
            100.0 * metrics.utilization + 0.0,
            100.0 * metrics.dead_code_fraction + 0.0
        );
        if let Some(psnr) = out.psnr_db {
            println!("PSNR {psnr:.2} dB (peak: the rows' range, {})", sig(peak));
        }
    }
    Ok(())
}

/// Runs `vqlab encode`.
pub fn execute_encode(cmd: EncodeCmd) -> Result<()> {
    let model = load(&cmd.params)?;
    // Every check before anything is written.
    let own = model.params.model.image;
    if let (Some(given), Some(own)) = (cmd.image_shape, own) {
        if given != own {
            anyhow::bail!(
                "invalid image_shape = {given}: the model's own shape is {own} (leave --image-shape out)"
            );
        }
    }
    let grid_shape = match (&cmd.grid, cmd.image_shape.or(own)) {
        (None, _) => None,
        (Some(_), None) => anyhow::bail!(
            "invalid image_shape = none: --grid needs the rows' image shape (give --image-shape C,H,W)"
        ),
        (Some(_), Some(shape)) if shape.len() != model.manifest.dim => anyhow::bail!(
            "invalid image_shape = {shape}: a shape of {} values, the model's data dimension",
            model.manifest.dim
        ),
        (Some(_), Some(shape)) => Some(shape),
    };
    if let Some(path) = &cmd.grid {
        if cmd.grid_rows == 0 {
            anyhow::bail!("invalid grid_rows = 0: at least 1");
        }
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(folder) = folder.filter(|f| !f.is_dir()) {
            anyhow::bail!(
                "invalid grid = {}: the folder {} does not exist",
                path.display(),
                folder.display()
            );
        }
        if path.extension().and_then(|e| e.to_str()) != Some("png") {
            eprintln!(
                "warning: {} gets a PNG picture whatever its extension",
                path.display()
            );
        }
    }
    let x = load_matrix_with(&cmd.data, delimiter(cmd.delimiter)?)?;
    let (codes, recon) = model.encode(x.view(), &cmd.data)?;
    crate::infra::io::create_dir(&cmd.out)?;
    let per_row = model.params.latent_positions();
    let codes = ndarray::Array2::from_shape_fn((x.nrows(), per_row), |(i, j)| {
        codes[i * per_row + j] as i64
    });
    if per_row == 1 {
        let flat = codes.column(0).to_owned();
        crate::infra::io::write_npy(&cmd.out.join("codes.npy"), &flat)?;
    } else {
        crate::infra::io::write_npy(&cmd.out.join("codes.npy"), &codes)?;
    }
    crate::infra::io::write_npy(&cmd.out.join("reconstruction.npy"), &recon)?;
    println!(
        "wrote {} and {} ({} rows)",
        cmd.out.join("codes.npy").display(),
        cmd.out.join("reconstruction.npy").display(),
        x.nrows()
    );
    if let (Some(path), Some(shape)) = (&cmd.grid, grid_shape) {
        let n = cmd.grid_rows.min(x.nrows());
        let png = crate::data::grid_png(
            x.slice(ndarray::s![..n, ..]),
            recon.slice(ndarray::s![..n, ..]),
            shape,
        )?;
        crate::infra::io::write_atomic(path, &png)?;
        println!(
            "wrote {} ({n} rows beside their reconstructions)",
            path.display()
        );
    }
    Ok(())
}
