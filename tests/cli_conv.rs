//! The conv model from the command line: image data in, bad image input
//! refused with exit 2 (nothing written), the PSNR and the PNG grid out.
mod common;
use common::*;
use std::path::{Path, PathBuf};

fn slice() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn refused(args: &[&str], needles: &[&str]) {
    refused_train(args, needles)
}

#[test]
fn bad_image_input_is_refused_by_field() {
    let dir = slice();
    let dir = dir.to_str().unwrap();
    let digits = ["--set", "digits", "--data-dir", dir, "--steps", "2"];
    let with = |extra: &[&'static str]| -> Vec<&str> {
        let mut args = vec!["--model", "conv"];
        args.extend_from_slice(&digits);
        args.extend_from_slice(extra);
        args
    };
    // Flat data: the generator has no image shape.
    refused(
        &["--model", "conv", "--steps", "2"],
        &["image_shape", "--image-shape"],
    );
    refused(&with(&["--channels", "0"]), &["channels = 0"]);
    refused(&with(&["--depth", "4"]), &["image_shape", "2^depth = 16"]);
    refused(&with(&["--kernel", "3"]), &["kernel = 3", "even"]);
    refused(&with(&["--hidden", "8"]), &["hidden", "--channels"]);
    refused(
        &["--model", "mlp", "--channels", "8", "--steps", "2"],
        &["channels", "only --model conv"],
    );
    refused(
        &["--model", "conv", "--image-shape", "1,8,7", "--steps", "2"],
        &["image_shape = 1x8x7", "64 values"],
    );
    refused(
        &["--model", "conv", "--image-shape", "1,4,16", "--depth", "3"],
        &["image_shape = 1x4x16", "2^depth = 8"],
    );
    // A built-in set knows its shape.
    refused(
        &with(&["--image-shape", "1,4,16"]),
        &["image_shape = 1x4x16", "own shape, 1x8x8"],
    );
}

#[test]
fn sgd_rates_for_conv_are_divided_by_the_positions_they_sum_over() {
    let out = vqlab()
        .args(["train", "--model", "conv", "--set", "digits", "--data-dir"])
        .arg(slice())
        .args([
            "--channels",
            "4",
            "--k",
            "8",
            "--m",
            "2",
            "--steps",
            "3",
            "--batch",
            "32",
        ])
        .args(["--lr", "fixed", "--json"])
        .output()
        .unwrap();
    let run = json_stdout(&out);
    // 8 × 8 digits: the first layer slides over 4 × 4 positions, the latent
    // grid is 2 × 2.
    let origin = &run["rates"];
    assert_eq!(origin["from"], "shared_weights", "{origin}");
    assert_eq!(origin["positions"], 16);
    assert_eq!(origin["latent"], 4);
    assert_eq!(origin["base"]["from"], "spectrum");
    let top = origin["base"]["top_eigenvalue"].as_f64().unwrap();
    let rule = vqlab::train::rates::spectrum_rates(top);
    let lr_w = run["config"]["lr_w"].as_f64().unwrap();
    let lr_e = run["config"]["lr_e"].as_f64().unwrap();
    assert!((lr_w - rule.0 / 16.0).abs() < 1e-15 * rule.0, "{lr_w}");
    assert!((lr_e - rule.1 / 4.0).abs() < 1e-15, "{lr_e}");
}

#[test]
fn a_missing_or_broken_photo_folder_is_named() {
    let empty = tempfile::tempdir().unwrap();
    let args = |dir: &Path| -> Vec<String> {
        [
            "--model",
            "conv",
            "--set",
            "photos",
            "--steps",
            "2",
            "--data-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([dir.display().to_string()])
        .collect()
    };
    let owned = args(empty.path());
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    refused(&refs, &["photos", "data-setup.sh"]);
    // A training photograph that is not a picture.
    let bad = tempfile::tempdir().unwrap();
    for part in ["train", "eval"] {
        std::fs::create_dir_all(bad.path().join("photos").join(part)).unwrap();
    }
    std::fs::copy(
        slice().join("photos/eval/chelsea.png"),
        bad.path().join("photos/eval/chelsea.png"),
    )
    .unwrap();
    std::fs::write(
        bad.path().join("photos/train/torn.jpg"),
        b"\xff\xd8 half a jpeg",
    )
    .unwrap();
    let owned = args(bad.path());
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    refused(&refs, &["torn.jpg", "not a decodable"]);
}

#[test]
fn conv_trains_on_the_photos_and_draws_its_reconstructions() {
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("params");
    let out = vqlab()
        .args(["train", "--model", "conv", "--set", "photos", "--data-dir"])
        .arg(slice())
        .args(["--channels", "8", "--k", "16", "--m", "4", "--steps", "100"])
        .args(["--batch", "32", "--optimizer", "adam", "--lr-w", "0.003"])
        .args(["--lr-e", "0.003", "--json"])
        .arg("--save-params")
        .arg(&params)
        .output()
        .unwrap();
    let run = json_stdout(&out);
    // 400 training crops of the rocket, 100 of the held-out cat.
    assert_eq!(run["data"]["n_train"], 400);
    assert_eq!(run["data"]["n_eval"], 100);
    assert_eq!(run["data"]["image"]["channels"], 3);
    assert_eq!(run["config"]["model"]["image"]["height"], 32);
    let psnr = run["psnr_db"].as_f64().unwrap();
    let recon = run["final"]["recon_mse"].as_f64().unwrap();
    let peak = run["data"]["pixel_range"].as_f64().unwrap();
    assert!(peak > 0.5 && peak <= 1.0, "{peak}");
    assert!(
        (psnr - 10.0 * (peak * peak * 3072.0 / recon).log10()).abs() < 1e-9,
        "{psnr}"
    );
    assert!(
        run["final"]["recon_mse"].as_f64() < run["initial"]["recon_mse"].as_f64(),
        "no progress: {}",
        run["final"]
    );
    // Encode some crops and draw them.
    let rows =
        ndarray::Array2::from_shape_fn((5, 3072), |(i, j)| ((i * 7 + j) % 255) as f64 / 255.0);
    let data = dir.path().join("crops.npy");
    ndarray_npy::write_npy(&data, &rows).unwrap();
    // evaluate gives the PSNR of an image model, the rows' range as peak.
    let out = vqlab()
        .args(["evaluate", "--json", "--params"])
        .arg(&params)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    let scored = json_stdout(&out);
    let (lo, hi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let recon = scored["metrics"]["recon_mse"].as_f64().unwrap();
    let expected = 10.0 * ((hi - lo).powi(2) * 3072.0 / recon).log10();
    assert!((scored["psnr_db"].as_f64().unwrap() - expected).abs() < 1e-9);
    let grid = dir.path().join("grid.png");
    let out = vqlab()
        .args(["encode", "--params"])
        .arg(&params)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("codes"))
        .arg("--grid")
        .arg(&grid)
        .output()
        .unwrap();
    assert_success(&out);
    let png = std::fs::read(&grid).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // A shape other than the model's own, or a grid in a missing folder:
    // exit 2, nothing written.
    for (extra, needle) in [
        (
            vec!["--grid", "g.png", "--image-shape", "3,16,64"],
            "own shape is 3x32x32",
        ),
        (vec!["--grid", "/no/such/folder/g.png"], "does not exist"),
    ] {
        let target = dir.path().join("refused");
        let out = vqlab()
            .args(["encode", "--params"])
            .arg(&params)
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&target)
            .args(&extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{err}");
        assert!(!target.exists(), "{extra:?} wrote codes");
    }
    let codes: ndarray::Array2<i64> =
        ndarray_npy::read_npy(dir.path().join("codes/codes.npy")).unwrap();
    // One code per latent vector: an 8 × 8 grid per crop.
    assert_eq!(codes.dim(), (5, 64));
    assert!(codes.iter().all(|&c| (0..16).contains(&c)));
}
