//! The `vqlab baseline` command end to end.
mod common;
use common::*;

#[test]
fn baseline_json_has_the_metrics_and_config() {
    let out = vqlab()
        .args([
            "baseline",
            "--k",
            "8",
            "--n-train",
            "3000",
            "--n-eval",
            "1000",
            "--json",
            "--threads",
            "1",
        ])
        .output()
        .unwrap();
    let v = json_stdout(&out);
    let m = &v["metrics"];
    assert_finite_metrics(m, "metrics");
    let recon = m["recon_mse"].as_f64().unwrap();
    let insub = m["insub_distortion"].as_f64().unwrap();
    let residual = m["residual"].as_f64().unwrap();
    assert!((recon - insub - residual).abs() < 1e-12);
    assert!(insub > 0.0 && residual > 0.0);
    assert!(m["usage_entropy"].as_f64().unwrap() <= 8f64.ln() + 1e-12);
    assert_eq!(v["config"]["k"], 8);
    assert_eq!(v["config"]["n_train"], 3000);
    assert_eq!(v["config"]["data"]["kind"], "synthetic");
}

#[test]
fn baseline_is_deterministic_per_seed() {
    let run = |seed: &str| {
        vqlab()
            .args([
                "baseline",
                "--k",
                "16",
                "--n-train",
                "2000",
                "--n-eval",
                "500",
                "--json",
                "--seed",
                seed,
            ])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(run("5"), run("5"));
    assert_ne!(run("5"), run("6"));
}

#[test]
fn baseline_on_a_csv_file_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.csv");
    let mut text = String::from("a,b,c\n");
    for i in 0..200 {
        let t = i as f64 * 0.37;
        text.push_str(&format!(
            "{},{},{}\n",
            t.sin() * 3.0,
            t.cos(),
            (t * 1.7).sin() * 0.1 + 5.0
        ));
    }
    std::fs::write(&path, text).unwrap();
    let out = vqlab()
        .args([
            "baseline", "--k", "4", "--m", "2", "--n-eval", "50", "--json", "--data",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let v = json_stdout(&out);
    assert_eq!(v["config"]["n_train"], 150);
    assert_eq!(v["config"]["centered"], true);

    // K larger than the training set: exit 2 and a message naming the field.
    let out = vqlab()
        .args([
            "baseline", "--k", "151", "--m", "2", "--n-eval", "50", "--data",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("k = 151"), "{err}");

    // m larger than D.
    let out = vqlab()
        .args(["baseline", "--m", "5", "--n-eval", "50", "--data"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("m = 5"));
}
