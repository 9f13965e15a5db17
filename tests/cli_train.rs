//! `vqlab train` and `vqlab gradcheck` end to end.
mod common;
use common::*;

const SMALL: [&str; 10] = [
    "--n-train",
    "2000",
    "--n-eval",
    "500",
    "--steps",
    "30",
    "--batch",
    "128",
    "--log-every",
    "10",
];

#[test]
fn train_json_schema() {
    let out = vqlab()
        .args(["train", "--method", "autograd-ste", "--json"])
        .args(SMALL)
        .output()
        .unwrap();
    let v = json_stdout(&out);
    assert_eq!(v["method"], "autograd-ste");
    for key in [
        "k",
        "m",
        "steps",
        "batch",
        "lr_w",
        "lr_e",
        "alpha",
        "beta",
        "init",
        "seed",
        "log_every",
    ] {
        assert!(!v["config"][key].is_null(), "config.{key}");
    }
    let curve = v["curve"].as_array().unwrap();
    let steps: Vec<u64> = curve.iter().map(|p| p["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, vec![0, 10, 20, 30]);
    for p in curve {
        for part in ["recon", "codebook", "commitment", "total"] {
            assert!(p["batch_loss"][part].as_f64().unwrap().is_finite());
        }
        assert!(p["eval"]["recon_mse"].as_f64().unwrap() > 0.0);
    }
    assert_finite_metrics(&v["final"], "final");
    assert_eq!(v["final"], curve.last().unwrap()["eval"]);
}

#[test]
fn train_all_methods_and_save_params() {
    let dir = tempfile::tempdir().unwrap();
    let out = vqlab()
        .args(["train", "--method", "all", "--json", "--save-params"])
        .arg(dir.path())
        .args(SMALL)
        .output()
        .unwrap();
    let v = json_stdout(&out);
    assert_eq!(v.as_array().unwrap().len(), 5);
    let w = vqlab::data::load_matrix(&dir.path().join("rotation-trick").join("W.npy")).unwrap();
    assert_eq!(w.dim(), (64, 4));
    // autograd-ste and manual-ste follow the same trajectory here.
    let a = v[0]["final"]["recon_mse"].as_f64().unwrap();
    let b = v[2]["final"]["recon_mse"].as_f64().unwrap();
    assert!((a - b).abs() / b < 1e-9, "{a} vs {b}");
}

#[test]
fn train_refuses_bad_values_by_field() {
    for (args, needle) in [
        (vec!["--method", "adam"], "method = adam"),
        (vec!["--lr-w", "-1"], "lr_w = -1"),
        (vec!["--batch", "0"], "batch = 0"),
        (vec!["--beta", "NaN"], "beta = NaN"),
        (vec!["--k", "0"], "k = 0"),
    ] {
        let out = vqlab()
            .arg("train")
            .args(&args)
            .args(&SMALL[..6])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn gradcheck_json_summary() {
    let out = vqlab()
        .args([
            "gradcheck",
            "--json",
            "--long-run-steps",
            "200",
            "--fd-states",
            "1",
            "--k",
            "8",
        ])
        .args(SMALL)
        .output()
        .unwrap();
    let v = json_stdout(&out);
    for key in [
        "max_rel_err_grad_w",
        "max_rel_err_grad_e",
        "max_abs_err_loss",
    ] {
        assert!(v[key].as_f64().unwrap() < 1e-12, "{key} = {}", v[key]);
    }
    assert_eq!(v["lockstep"][0]["steps"].as_array().unwrap().len(), 30);
    assert!(v["long_run"]["max_stiefel_defect"].as_f64().unwrap() < 1e-12);
}
