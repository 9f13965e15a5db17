//! Helpers shared by the end-to-end tests of the `vqlab` binary.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::{Command, Output};

/// The `vqlab` binary built for these tests.
pub fn vqlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vqlab"))
}

/// Fails the test with the command's stderr unless it succeeded.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON a successful command printed.
pub fn json_stdout(out: &Output) -> serde_json::Value {
    assert_success(out);
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// The JSON names of the metrics object.
pub const METRIC_FIELDS: [&str; 7] = [
    "recon_mse",
    "insub_distortion",
    "residual",
    "usage_entropy",
    "utilization",
    "perplexity",
    "dead_code_fraction",
];

/// Asserts that `metrics` has every metric field, each a finite number
/// (`residual` may be null: it is defined for the tied model only).
pub fn assert_finite_metrics(metrics: &serde_json::Value, what: &str) {
    for field in METRIC_FIELDS {
        if field == "residual" && metrics[field].is_null() {
            continue;
        }
        let v = metrics[field].as_f64().unwrap_or(f64::NAN);
        assert!(v.is_finite(), "{what}.{field} = {}", metrics[field]);
    }
}

/// The command behind tests/golden/train_m12.json (m = 12 > 8: the manual
/// methods take the GEMM path, not the fused kernel).
pub const GOLDEN_M12_ARGS: &[&str] = &[
    "--threads",
    "1",
    "train",
    "--method",
    "manual-ste,manual-rotation",
    "--init",
    "random",
    "--m",
    "12",
    "--k",
    "16",
    "--steps",
    "40",
    "--batch",
    "200",
    "--n-train",
    "3000",
    "--n-eval",
    "600",
    "--seed",
    "5",
    "--log-every",
    "0",
    "--json",
];

/// Runs `vqlab train` with `args` writing parameters under a fresh folder;
/// asserts status 2, every needle in stderr, and no folder.
pub fn refused_train(args: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("params");
    let out = vqlab()
        .arg("train")
        .args(args)
        .arg("--save-params")
        .arg(&out_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err}");
    }
    assert!(!out_dir.exists(), "{args:?} wrote results");
    assert!(out.stdout.is_empty(), "{args:?} printed results");
}
