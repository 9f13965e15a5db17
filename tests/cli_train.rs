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

/// Each `(args, needle)` given to `train` (with the small sizes): exit 2,
/// the needle in stderr, nothing on stdout.
fn refused_train(cases: &[(Vec<&str>, &str)]) {
    for (args, needle) in cases {
        let out = vqlab()
            .arg("train")
            .args(args)
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
fn train_refuses_bad_values_by_field() {
    refused_train(&[
        (vec!["--method", "adam"], "method = adam"),
        (vec!["--lr-w", "-1"], "lr_w = -1"),
        (vec!["--batch", "0"], "batch = 0"),
        (vec!["--beta", "NaN"], "beta = NaN"),
        (vec!["--k", "0"], "k = 0"),
    ]);
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
    for key in ["max_rel_err_grad", "max_abs_err_loss"] {
        assert!(v[key].as_f64().unwrap() < 1e-12, "{key} = {}", v[key]);
    }
    assert_eq!(v["model"], "tied");
    assert_eq!(v["lockstep"].as_array().unwrap().len(), 6);
    assert_eq!(v["lockstep"][0]["steps"].as_array().unwrap().len(), 30);
    assert!(
        v["lockstep"][0]["max_rel_err_by_param"]["W"]
            .as_f64()
            .unwrap()
            < 1e-12
    );
    assert!(v["long_run"]["max_stiefel_defect"].as_f64().unwrap() < 1e-12);
}

/// `gradcheck --model untied|mlp --json`: parity over every parameter, and
/// the residual projection parting from STE.
#[test]
fn gradcheck_json_for_the_new_models() {
    for (model, params) in [
        ("untied", vec!["W", "V", "E"]),
        ("mlp", vec!["A1", "b2", "E"]),
    ] {
        let out = vqlab()
            .args(["gradcheck", "--json", "--model", model, "--fd-states", "1"])
            .args(["--long-run-steps", "100", "--k", "8"])
            .args(SMALL)
            .output()
            .unwrap();
        let v = json_stdout(&out);
        assert_eq!(v["model"], model);
        assert!(v["max_rel_err_grad"].as_f64().unwrap() < 1e-12, "{model}");
        assert!(v["max_rel_err_finite_differences"].as_f64().unwrap() < 1e-6);
        for p in params {
            assert!(
                !v["lockstep"][0]["max_rel_err_by_param"][p].is_null(),
                "{p}"
            );
        }
        assert_eq!(v["estimators"][0]["estimator"], "residual-projection");
        assert!(v["estimators"][0]["max_rel_diff_grad"].as_f64().unwrap() > 1e-3);
        // Only the linear models have a Stiefel parameter to check.
        assert_eq!(v["long_run"].is_null(), model == "mlp");
    }
}

/// Every model × estimator × backend trains from the command line and names
/// itself; `--save-params` writes every parameter.
#[test]
fn train_every_model_estimator_backend() {
    for (model, extra, names) in [
        ("untied", vec![], vec!["W", "V", "E"]),
        (
            "mlp",
            vec!["--hidden", "8"],
            vec!["A1", "a1", "A2", "a2", "B1", "b1", "B2", "b2", "E"],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = vqlab()
            .args(["train", "--json", "--model", model])
            .args(&extra)
            .args(["--estimator", "all", "--backend", "all", "--save-params"])
            .arg(dir.path())
            .args(SMALL)
            .output()
            .unwrap();
        let v = json_stdout(&out);
        let runs = v.as_array().unwrap();
        assert_eq!(runs.len(), 12, "6 estimators × 2 backends");
        assert_eq!(runs[0]["method"], format!("{model}/ste/manual"));
        assert_eq!(runs[0]["config"]["model"]["kind"], model);
        assert!(runs[0]["final"]["residual"].is_null());
        for r in runs {
            assert_finite_metrics(&r["final"], model);
        }
        // Manual and autograd twins follow the same trajectory.
        let (a, b) = (
            runs[0]["final"]["recon_mse"].as_f64().unwrap(),
            runs[1]["final"]["recon_mse"].as_f64().unwrap(),
        );
        assert!((a - b).abs() / b < 1e-9, "{model}: {a} vs {b}");
        for name in &names {
            let path = dir
                .path()
                .join(format!("{model}-ste-manual"))
                .join(format!("{name}.npy"));
            assert!(path.exists(), "{}", path.display());
        }
    }
}

/// Model flags given where they do not apply, unknown names, combinations
/// of the shorthand with the axes: exit 2, the field named, nothing printed.
#[test]
fn model_axes_refuse_bad_input() {
    refused_train(&[
        (vec!["--model", "cnn"], "--model"),
        (vec!["--estimator", "rebar"], "estimator = rebar"),
        (vec!["--backend", "jax"], "backend = jax"),
        (vec!["--model", "mlp", "--hidden", "0"], "hidden = 0"),
        (vec!["--hidden", "8"], "hidden = 8"),
        (
            vec!["--model", "untied", "--activation", "tanh"],
            "activation = tanh",
        ),
        (vec!["--model", "mlp", "--init", "pca"], "init = pca"),
        (vec!["--method", "manual-ste", "--model", "mlp"], "--model"),
    ]);
    // A model flag on a command that has no model: clap refuses it.
    let out = vqlab()
        .args(["baseline", "--model", "mlp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The update axes: codebook (grad/ema, dead-code restarts) × optimizer
/// (sgd/adam) × schedule, on any model; restarts counted per logged step; a
/// collapsed codebook finishes with a warning.
#[test]
fn codebook_optimizer_and_schedule_flags() {
    let out = vqlab()
        .args(["train", "--json", "--model", "mlp", "--hidden", "8"])
        .args([
            "--codebook",
            "ema",
            "--optimizer",
            "adam",
            "--lr-w",
            "0.003",
        ])
        .args(["--schedule", "cosine", "--lr-final-w", "0.001"])
        .args(["--backend", "all", "--dead-code-threshold", "40"])
        .args(SMALL)
        .output()
        .unwrap();
    let v = json_stdout(&out);
    let runs = v.as_array().unwrap();
    let config = &runs[0]["config"];
    assert_eq!(config["codebook"]["update"], "ema");
    assert_eq!(config["optimizer"]["kind"], "adam");
    assert_eq!(config["schedule"]["kind"], "cosine");
    // A threshold of 40 rows per batch of 128 over 16 codes restarts codes,
    // and the counts per logged step add up to the run's total.
    let total = runs[0]["restarts"].as_u64().unwrap();
    assert!(total > 0);
    let per_point: u64 = runs[0]["curve"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["restarts"].as_u64().unwrap())
        .sum();
    assert_eq!(per_point, total);
    // Both backends follow the same trajectory under Adam + EMA + restarts.
    let recon = |i: usize| runs[i]["final"]["recon_mse"].as_f64().unwrap();
    assert!((recon(0) - recon(1)).abs() < 1e-9 * recon(1));
    assert_eq!(runs[0]["restarts"], runs[1]["restarts"]);

    // The report's settings leave these fields out.
    let out = vqlab()
        .args(["train", "--json"])
        .args(SMALL)
        .output()
        .unwrap();
    let v = json_stdout(&out);
    for key in ["codebook", "optimizer", "schedule", "model"] {
        assert!(v["config"].get(key).is_none(), "{key}");
    }
    assert!(v.get("restarts").is_none());

    // A collapsing codebook still finishes and is written, and says so
    // (here its recon also passes 100 × the start's: exit status 3).
    let out = vqlab()
        .args(["train", "--json", "--lr-e", "50"])
        .args(SMALL)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 3)), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["warnings"][0].as_str().unwrap().contains("collapsed"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("collapsed"));
}

#[test]
fn update_flags_refuse_bad_values_by_field() {
    refused_train(&[
        (vec!["--ema-gamma", "1"], "ema_gamma = 1"),
        (vec!["--ema-eps", "0"], "ema_eps = 0"),
        (vec!["--adam-beta1", "-0.1"], "adam_beta1 = -0.1"),
        (vec!["--adam-beta2", "1.5"], "adam_beta2 = 1.5"),
        (vec!["--adam-eps", "0"], "adam_eps = 0"),
        (
            vec!["--dead-code-threshold", "-1"],
            "dead_code_threshold = -1",
        ),
        (
            vec!["--schedule", "cosine", "--lr-final-w", "1"],
            "lr_final_w = 1",
        ),
        (
            vec!["--lr-final-e", "0.1"],
            "only used by --schedule cosine",
        ),
        (vec!["--optimizer", "rmsprop"], "--optimizer"),
    ]);
}

/// The combination runs, and gradcheck checks NSVQ and Gumbel on
/// every model: manual equals autograd to rounding, finite differences agree.
#[test]
fn nsvq_and_gumbel_on_every_model() {
    let out = vqlab()
        .args([
            "train",
            "--json",
            "--model",
            "mlp",
            "--hidden",
            "8",
            "--estimator",
        ])
        .args([
            "gumbel",
            "--codebook",
            "ema",
            "--optimizer",
            "adam",
            "--lr-w",
            "0.003",
        ])
        .args([
            "--gumbel-tau",
            "2",
            "--gumbel-tau-rate",
            "0.05",
            "--gumbel-tau-min",
            "0.5",
        ])
        .args(SMALL)
        .output()
        .unwrap();
    let v = json_stdout(&out);
    assert_eq!(v["method"], "mlp/gumbel/manual");
    assert_eq!(v["config"]["gumbel"]["tau"], 2.0);
    assert_finite_metrics(&v["final"], "mlp gumbel");
    for model in ["tied", "untied", "mlp"] {
        let out = vqlab()
            .args(["gradcheck", "--json", "--model", model, "--estimator"])
            .args([
                "nsvq,gumbel,gumbel-hard",
                "--fd-states",
                "1",
                "--long-run-steps",
                "0",
            ])
            .args(["--k", "8"])
            .args(SMALL)
            .output()
            .unwrap();
        let v = json_stdout(&out);
        let names: Vec<&str> = v["lockstep"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["estimator"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["ste", "nsvq", "gumbel", "gumbel-hard"], "{model}");
        assert!(v["max_rel_err_grad"].as_f64().unwrap() < 1e-12, "{model}");
        assert!(
            v["max_rel_err_finite_differences"].as_f64().unwrap() < 1e-6,
            "{model}"
        );
    }
    refused_train(&[
        (
            vec!["--estimator", "gumbel", "--gumbel-tau", "0"],
            "gumbel_tau = 0",
        ),
        (
            vec!["--estimator", "gumbel", "--gumbel-tau-min", "2"],
            "gumbel_tau_min = 2",
        ),
        (
            vec!["--estimator", "gumbel", "--gumbel-tau-rate", "-1"],
            "gumbel_tau_rate = -1",
        ),
    ]);
}

#[test]
fn gradcheck_json_names_its_data() {
    let out = vqlab()
        .args([
            "gradcheck",
            "--json",
            "--long-run-steps",
            "0",
            "--fd-states",
            "0",
        ])
        .args(["--estimator", "ste", "--k", "8"])
        .args(SMALL)
        .output()
        .unwrap();
    let v = json_stdout(&out);
    assert_eq!(v["data"]["n_train"], 2000);
    assert_eq!(v["data"]["source"]["kind"], "synthetic");
}
