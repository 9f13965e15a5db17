//! Bringing your own data: scales, splits, formats, memory, saved
//! parameters used on new data, and the warnings a run gives.
mod common;
use common::*;

use ndarray::Array2;
use ndarray_npy::WriteNpyExt;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// A 32-D mixture of 10 Gaussians in pixel range (0–255), as uint8.
fn pixel_mixture(dir: &Path, rows: usize) -> PathBuf {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let centres: Vec<Vec<f64>> = (0..10)
        .map(|_| (0..32).map(|_| rng.gen_range(40.0..215.0)).collect())
        .collect();
    let data = Array2::from_shape_fn((rows, 32), |(r, c)| {
        let noise: f64 = rng.sample(rand_distr::StandardNormal);
        (centres[r % 10][c] + 20.0 * noise).clamp(0.0, 255.0) as u8
    });
    let path = dir.join("pixels.npy");
    data.write_npy(std::fs::File::create(&path).unwrap())
        .unwrap();
    path
}

fn train_json(args: &[&str]) -> serde_json::Value {
    let out = vqlab()
        .args(["--threads", "1", "train", "--json", "--steps", "60"])
        .args(args)
        .output()
        .unwrap();
    json_stdout(&out)
}

#[test]
fn pixel_range_data_train_with_default_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = pixel_mixture(dir.path(), 6_000);
    let v = train_json(&["--data", path.to_str().unwrap(), "--k", "16"]);
    let data = &v["data"];
    assert_eq!(data["scaling"], "unit-variance");
    // The default on a data file chooses the rates on validation rows
    // carved from the 4800 training rows.
    let val_rows = v["rates"]["val_rows"].as_u64().unwrap();
    assert_eq!(val_rows, 600);
    assert_eq!(
        (data["n_train"].as_u64(), data["n_eval"].as_u64()),
        (Some(4800 - val_rows), Some(1200))
    );
    assert!(
        data["scale"].as_f64().unwrap() > 10.0,
        "pixel data are scaled down"
    );
    // Metrics are in the data's own units, and the run does not diverge: it
    // ends no worse than it started, or says so.
    let (start, end) = (
        v["initial"]["recon_mse"].as_f64().unwrap(),
        v["final"]["recon_mse"].as_f64().unwrap(),
    );
    assert!(start > 1000.0, "{start}");
    assert!(end < 1.05 * start, "{start} → {end}");
    if end > 1.0005 * start {
        assert!(v["warnings"][0].as_str().unwrap().contains("rose"));
    }
    // Unscaled, the default rate follows the spectrum in the data's own
    // units and stays in range too; the report's rates there blow up (the
    // case the scaling and the spectrum rule fix) and the run says so.
    let unscaled = |extra: &[&str]| {
        let mut args = vec![
            "--data",
            path.to_str().unwrap(),
            "--k",
            "16",
            "--scale",
            "none",
        ];
        args.extend_from_slice(extra);
        train_json(&args)
    };
    let own = unscaled(&[]);
    let own_end = own["final"]["recon_mse"].as_f64().unwrap();
    assert!(own_end < 1.05 * start, "{start} → {own_end} unscaled");
    let raw = unscaled(&["--lr-w", "0.08", "--lr-e", "0.2"]);
    let raw_end = raw["final"]["recon_mse"].as_f64().unwrap();
    assert!(raw_end > 1.2 * end, "{end} scaled vs {raw_end} unscaled");
    assert!(raw["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("rose")));
}

#[test]
fn a_3001_row_semicolon_file_works_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let text: String = (0..3001)
        .map(|_| {
            (0..6)
                .map(|_| format!("{:.3}", rng.gen_range(0.0..16.0)))
                .collect::<Vec<_>>()
                .join(";")
                + "\n"
        })
        .collect();
    let path = dir.path().join("semi.csv");
    std::fs::write(&path, text).unwrap();
    let v = train_json(&["--data", path.to_str().unwrap(), "--k", "8", "--m", "2"]);
    assert_eq!(v["data"]["n_eval"], 600);
    let val_rows = v["rates"]["val_rows"].as_u64().unwrap();
    assert_eq!(v["data"]["n_train"].as_u64(), Some(2401 - val_rows));
}

#[test]
fn saved_parameters_evaluate_and_encode_to_what_train_printed() {
    let dir = tempfile::tempdir().unwrap();
    let path = pixel_mixture(dir.path(), 2_000);
    let (train_path, eval_path) = (dir.path().join("train.npy"), dir.path().join("eval.npy"));
    let all = vqlab::data::load_matrix(&path).unwrap();
    let (a, b) = all.view().split_at(ndarray::Axis(0), 1_500);
    a.to_owned()
        .write_npy(std::fs::File::create(&train_path).unwrap())
        .unwrap();
    b.to_owned()
        .write_npy(std::fs::File::create(&eval_path).unwrap())
        .unwrap();
    let params = dir.path().join("params");
    for model in ["tied", "mlp"] {
        let v = train_json(&[
            "--data",
            train_path.to_str().unwrap(),
            "--eval-data",
            eval_path.to_str().unwrap(),
            "--k",
            "8",
            "--model",
            model,
            "--save-params",
            params.to_str().unwrap(),
        ]);
        let out = vqlab()
            .args(["evaluate", "--json", "--params", params.to_str().unwrap()])
            .args(["--data", eval_path.to_str().unwrap()])
            .output()
            .unwrap();
        let e = json_stdout(&out);
        assert_eq!(
            e["metrics"], v["final"],
            "{model}: the same metrics, bit for bit"
        );
        let enc = dir.path().join("enc");
        let out = vqlab()
            .args(["encode", "--params", params.to_str().unwrap()])
            .args([
                "--data",
                eval_path.to_str().unwrap(),
                "--out",
                enc.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_success(&out);
        let recon = vqlab::data::load_matrix(&enc.join("reconstruction.npy")).unwrap();
        assert_eq!(recon.dim(), (500, 32));
        // The reconstruction is in the data's units: its error is recon_mse.
        let mse = (&recon - &b).mapv(|v| v * v).sum() / 500.0;
        let want = v["final"]["recon_mse"].as_f64().unwrap();
        assert!((mse - want).abs() < 1e-9 * want, "{model}: {mse} vs {want}");
    }
}

#[test]
fn bad_data_requests_are_refused_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = pixel_mixture(dir.path(), 200);
    let narrow = dir.path().join("narrow.csv");
    std::fs::write(&narrow, "1,2\n3,4\n").unwrap();
    let p = path.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["train", "--data", p, "--eval-fraction", "1.5"],
            "eval_fraction = 1.5",
        ),
        (
            vec![
                "train",
                "--data",
                p,
                "--eval-data",
                narrow.to_str().unwrap(),
            ],
            "2 columns per row",
        ),
        (vec!["baseline", "--n-train", "100000000"], "GiB"),
        (vec!["baseline", "--dim", "100000"], "GiB"),
        (
            vec![
                "evaluate",
                "--params",
                dir.path().to_str().unwrap(),
                "--data",
                p,
            ],
            "params.json",
        ),
        (
            vec!["train", "--data", p, "--delimiter", "ab"],
            "--delimiter",
        ),
    ] {
        let out = vqlab().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
        // The OS error is printed once.
        assert!(err.matches("os error").count() <= 1, "{err}");
    }
    // A flag the data source does not use is named, not silently ignored.
    let out = vqlab()
        .args(["baseline", "--data", p, "--k", "4", "--spectrum", "1,2"])
        .output()
        .unwrap();
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--spectrum is ignored"));
}

#[test]
fn data_export_writes_the_synthetic_splits() {
    let dir = tempfile::tempdir().unwrap();
    let out = vqlab()
        .args([
            "data",
            "export",
            "--seed",
            "3",
            "--n-train",
            "50",
            "--n-eval",
            "7",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
    let train = vqlab::data::load_matrix(&dir.path().join("train.npy")).unwrap();
    let eval = vqlab::data::load_matrix(&dir.path().join("eval.npy")).unwrap();
    assert_eq!((train.dim(), eval.dim()), ((50, 64), (7, 64)));
    // The same as the data the library draws for that seed.
    let again =
        vqlab::data::Dataset::synthetic(&vqlab::data::SyntheticSpec::report_default(), 50, 7, 3)
            .unwrap();
    assert_eq!(train, again.train);
}

#[test]
fn progress_is_written_as_lines_when_stderr_is_not_a_terminal() {
    let out = vqlab()
        .env("VQLAB_PROGRESS_EVERY", "0")
        .args([
            "train",
            "--steps",
            "20",
            "--n-train",
            "2000",
            "--n-eval",
            "200",
        ])
        .output()
        .unwrap();
    assert_success(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("manual-ste: 20/20 (100 %)"), "{err}");
    assert!(err.contains("s left"), "{err}");
}

#[test]
fn bench_takes_any_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = vqlab()
        .args([
            "bench",
            "--config",
            "d=16,m=2,k=4,b=32",
            "--thread-settings",
            "1",
        ])
        .args([
            "--steps",
            "3",
            "--warmup",
            "1",
            "--method",
            "manual-ste",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
    let md = std::fs::read_to_string(dir.path().join("BENCH.md")).unwrap();
    assert!(md.contains("D = 16, m = 2, K = 4, B = 32"), "{md}");
    let bad = vqlab()
        .args(["bench", "--config", "d=4,m=8,k=4,b=32"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("m ≤ D"));
}
