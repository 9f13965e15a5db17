//! `vqlab train` on a user's data: learning rates from the spectrum and
//! chosen on validation rows, divergence per method, Ctrl-C, provenance,
//! curves, and the loader's hints.
mod common;
use common::*;

use std::path::{Path, PathBuf};

/// Writes `rows` generated pixel-scale patches (integers 0–255) to `dir`.
fn patches(dir: &Path, rows: usize) -> PathBuf {
    let path = dir.join("patches.csv");
    let out = vqlab()
        .args(["data", "patches", "--rows", &rows.to_string(), "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert_success(&out);
    path
}

fn runs(v: &serde_json::Value) -> Vec<serde_json::Value> {
    match v {
        serde_json::Value::Array(a) => a.clone(),
        one => vec![one.clone()],
    }
}

#[test]
fn the_fixed_rate_follows_the_spectrum_on_pixel_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = patches(dir.path(), 3000);
    let train = |extra: &[&str]| {
        let out = vqlab()
            .args(["train", "--estimator", "ste,rotation-trick", "--json"])
            .args([
                "--steps", "100", "--batch", "256", "--lr", "fixed", "--data",
            ])
            .arg(&data)
            .args(extra)
            .output()
            .unwrap();
        runs(&json_stdout(&out))
    };
    for run in train(&[]) {
        // λ₁ of unit-variance patches is about ten times the generator's:
        // the rate is about a tenth of the report's, and recorded.
        let lr_w = run["config"]["lr_w"].as_f64().unwrap();
        assert!((0.004..0.012).contains(&lr_w), "{lr_w}");
        assert_eq!(run["rates"]["from"], "spectrum");
        let top = run["rates"]["top_eigenvalue"].as_f64().unwrap();
        assert!((30.0..70.0).contains(&top), "{top}");
        let (start, end) = (
            run["initial"]["recon_mse"].as_f64().unwrap(),
            run["final"]["recon_mse"].as_f64().unwrap(),
        );
        assert!(end < 1.01 * start, "{} {start} → {end}", run["method"]);
        // Provenance and the full configuration travel with the numbers.
        assert!(run["provenance"]["vqlab"]
            .as_str()
            .unwrap()
            .starts_with("vqlab "));
        assert_eq!(run["provenance"]["code"].as_str().unwrap().len(), 16);
    }
    // The report's rates on the same pixels (the old default) blow up the
    // recon: the control that the new default is what keeps it in range.
    for run in train(&["--lr-w", "0.08", "--lr-e", "0.2"]) {
        let (start, end) = (
            run["initial"]["recon_mse"].as_f64().unwrap(),
            run["final"]["recon_mse"].as_f64().unwrap(),
        );
        assert!(end > 1.5 * start, "{start} → {end}");
        assert_eq!(run["rates"]["from"], "given");
    }
}

#[test]
fn adam_gets_its_own_default_rates() {
    let out = vqlab()
        .args(["train", "--optimizer", "adam", "--steps", "5", "--json"])
        .args(["--n-train", "600", "--n-eval", "100", "--batch", "64"])
        .output()
        .unwrap();
    let run = json_stdout(&out);
    assert_eq!(run["config"]["lr_w"].as_f64(), Some(1e-3));
    assert_eq!(run["config"]["lr_e"].as_f64(), Some(1e-3));
    assert_eq!(run["rates"]["from"], "adam");
}

#[test]
fn on_a_data_file_the_rates_are_chosen_by_default_and_the_grid_printed() {
    let dir = tempfile::tempdir().unwrap();
    let data = patches(dir.path(), 1600);
    let out = vqlab()
        .args(["train", "--steps", "40", "--batch", "128"])
        .args(["--json", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let run = json_stdout(&out);
    let rates = &run["rates"];
    assert_eq!(rates["from"], "validation");
    assert_eq!(rates["base"]["from"], "spectrum");
    // 1600 rows: 320 held out for evaluation, 160 of the rest for validation.
    assert_eq!(rates["val_rows"], 160);
    assert_eq!(run["data"]["n_train"], 1120);
    let grid = rates["grid"].as_array().unwrap();
    assert!(grid.len() >= 3, "{grid:?}");
    let chosen = rates["chosen"].as_u64().unwrap() as usize;
    let best = grid
        .iter()
        .map(|p| p["val_recon"].as_f64().unwrap_or(f64::INFINITY))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(grid[chosen]["val_recon"].as_f64(), Some(best));
    assert_eq!(run["config"]["lr_w"], grid[chosen]["lr_w"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("val recon_mse"), "{stderr}");
}

#[test]
fn one_diverging_method_leaves_the_others_written_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("params");
    // Untied at η_W = 0.5, η_E = 5: STE finishes, NSVQ's loss overflows.
    let out = vqlab()
        .args(["train", "--model", "untied", "--estimator", "ste,nsvq"])
        .args(["--lr-w", "0.5", "--lr-e", "5", "--steps", "60"])
        .args(["--n-train", "2000", "--n-eval", "500", "--log-every", "20"])
        .args(["--json", "--save-params"])
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert!(records[0]["diverged"].is_null());
    assert_finite_metrics(&records[0]["final"], "ste");
    // The untied model's configuration lists its own fields only.
    assert_eq!(
        records[0]["config"]["model"],
        serde_json::json!({"kind": "untied"})
    );
    assert_eq!(records[1]["method"], "untied/nsvq/manual");
    let step = records[1]["diverged"]["step"].as_u64().unwrap();
    assert!(step > 0 && step < 60, "{step}");
    // It stopped there, and keeps what it had: the curve up to that step
    // and the metrics there (which may have overflowed: null in JSON).
    assert!(records[1]["final"].is_object());
    assert_finite_metrics(&records[1]["initial"], "nsvq");
    let curve = records[1]["curve"].as_array().unwrap();
    assert_eq!(curve.last().unwrap()["step"].as_u64(), Some(step));
    assert!(curve.iter().all(|p| p["step"].as_u64().unwrap() <= step));
    // The finished method's parameters are saved; the diverged one's are not.
    assert!(saved.join("untied-ste-manual/params.json").exists());
    assert!(!saved.join("untied-nsvq-manual").exists());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 of 2 method(s) diverged"), "{stderr}");
    // evaluate on the multi-method folder names its subfolders.
    let data = patches(dir.path(), 50);
    let out = vqlab()
        .args(["evaluate", "--params"])
        .arg(&saved)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("untied-ste-manual"), "{stderr}");
}

#[test]
fn a_blow_up_is_divergence_and_prints_in_scientific_notation() {
    let out = vqlab()
        .args(["train", "--model", "untied", "--lr-w", "3", "--steps", "40"])
        .args(["--n-train", "1000", "--n-eval", "200", "--log-every", "10"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("diverged at step"), "{stdout}");
    // No number of 30 digits anywhere.
    assert!(
        !stdout
            .split(|c: char| !c.is_ascii_digit())
            .any(|w| w.len() > 20),
        "{stdout}"
    );
}

#[test]
fn ctrl_c_on_train_saves_loadable_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let data = patches(dir.path(), 400);
    let saved = dir.path().join("params");
    let mut child = vqlab()
        .args(["train", "--steps", "5000000", "--batch", "32", "--k", "8"])
        .args([
            "--lr",
            "fixed",
            "--log-every",
            "0",
            "--json",
            "--save-params",
        ])
        .arg(&saved)
        .arg("--data")
        .arg(&data)
        .env("VQLAB_PROGRESS_EVERY", "0.2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it reports training progress, then interrupt it.
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    use std::io::Read;
    while !String::from_utf8_lossy(&seen).contains("manual-ste:") {
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{rest}");
    let run: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let step = run["interrupted_at"].as_u64().unwrap();
    assert!(step > 0 && step < 5_000_000, "{step}");
    assert!(rest.contains("interrupted at step"), "{rest}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved.join("params.json")).unwrap()).unwrap();
    assert_eq!(manifest["interrupted_at"].as_u64(), Some(step));
    assert_eq!(manifest["config"]["optimizer"]["kind"], "sgd");
    // The tied model's manifest lists only its own fields.
    assert!(manifest["model"].get("hidden").is_none(), "{manifest}");
    let out = vqlab()
        .args(["evaluate", "--json", "--params"])
        .arg(&saved)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert_finite_metrics(&json_stdout(&out)["metrics"], "evaluate");
}

#[test]
fn curves_are_written_as_csv_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("curves.csv");
    let out = vqlab()
        .args(["train", "--estimator", "ste,nsvq", "--steps", "20"])
        .args(["--log-every", "5", "--n-train", "600", "--n-eval", "100"])
        .args(["--batch", "64", "--curves"])
        .arg(&csv)
        .output()
        .unwrap();
    assert_success(&out);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("method,step,batch_recon"));
    // Steps 0, 5, 10, 15, 20 for each of two methods.
    assert_eq!(lines.len(), 1 + 2 * 5, "{text}");
    let svg = std::fs::read_to_string(dir.path().join("curves.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("tied/nsvq/manual"));
    // The header names every setting.
    let stdout = String::from_utf8_lossy(&out.stdout);
    for word in [
        "optimizer=sgd",
        "schedule=constant",
        "codebook=grad",
        "restart_threshold=off",
        "restarts",
    ] {
        assert!(stdout.contains(word), "{word}: {stdout}");
    }
}

#[test]
fn a_pandas_index_column_is_named_and_baseline_defaults_to_train_k() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("indexed.csv");
    let rows: Vec<String> = (0..200)
        .map(|i| format!("{i},{},{},{}", (i * 7) % 13, (i * 3) % 5, (i * 11) % 17))
        .collect();
    std::fs::write(&path, rows.join("\n")).unwrap();
    let out = vqlab()
        .args(["baseline", "--json", "--m", "2", "--data"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the row numbers"), "{stderr}");
    let v = json_stdout(&out);
    assert_eq!(v["config"]["k"], 16, "{v}");
}

#[test]
fn an_ema_codebook_refuses_a_codebook_rate() {
    let out = vqlab()
        .args(["train", "--codebook", "ema", "--lr-e", "5", "--steps", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("lr_e") && stderr.contains("ema"),
        "{stderr}"
    );
}

#[test]
fn data_export_writes_the_prepared_split_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = patches(dir.path(), 500);
    let out_dir = dir.path().join("export");
    let out = vqlab()
        .args(["data", "export", "--out"])
        .arg(&out_dir)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert_success(&out);
    for f in ["train.npy", "eval.npy", "mean.npy", "data.json"] {
        assert!(out_dir.join(f).exists(), "{f}");
    }
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("data.json")).unwrap()).unwrap();
    assert_eq!(info["n_train"], 400);
    assert_eq!(info["n_eval"], 100);
    assert_eq!(info["scaling"], "unit-variance");
}
