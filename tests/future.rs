//! `vqlab future --quick` end to end on the data slice in tests/data.
mod common;
use common::*;
use std::path::{Path, PathBuf};

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn slice() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

const HYPOTHESES: [&str; 11] = [
    "H1", "H1c", "H2a", "H2b", "H2c", "H3a", "H3b", "H4", "H5", "H5c", "H6",
];

#[test]
fn quick_studies_write_every_output_and_rerun_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let run = |extra: &[&str]| {
        vqlab()
            .args(["future", "--quick", "--data-dir"])
            .arg(slice())
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    assert_success(&first);
    for file in [
        "FUTURE.md",
        "future.json",
        "future_curves.csv",
        "f1_curves.svg",
        "f2_curves.svg",
        "f3_curves.svg",
        "f4_curves.svg",
        "f5_curves.svg",
        "f6_curves.svg",
        "f4_recon_vs_k.svg",
        "f6_gain_vs_noise.svg",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let summary = read_json(&out.join("future.json"));
    let ids: Vec<&str> = summary["hypotheses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, HYPOTHESES);
    for h in summary["hypotheses"].as_array().unwrap() {
        assert!([
            "supported",
            "real but below δ",
            "not supported",
            "not significant",
            "mixed"
        ]
        .contains(&h["label"].as_str().unwrap()));
        assert_eq!(h["seeds"], 2, "{}", h["id"]);
    }
    assert_eq!(summary["seeds"], serde_json::json!([0, 1]));
    let studies = summary["studies"].as_array().unwrap();
    assert_eq!(studies.len(), 6);
    for study in studies {
        for c in study["conditions"].as_array().unwrap() {
            let rows = c["rows"].as_array().unwrap();
            assert!(rows.len() >= 3, "{}", c["name"]);
            for r in rows {
                assert_eq!(r["runs"], 2, "{} {}", c["name"], r["name"]);
                // The per-seed values behind every row, in the seeds' order.
                assert_eq!(r["recon_per_seed"].as_array().unwrap().len(), 2);
                let mean = r["recon"]["mean"].as_f64().unwrap();
                assert!(mean.is_finite() && mean > 0.0);
                assert!(r["gain_converged"]["mean"].as_f64().unwrap().is_finite());
            }
            // Every arm's grid: each seed chose exactly one multiplier.
            for g in c["grids"].as_array().unwrap() {
                let chosen: u64 = g["chosen"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .sum();
                assert_eq!(chosen, 2, "{} {}", c["name"], g["arm"]);
            }
        }
        // The backends agree on every study's data.
        let parity = study["parity"].as_array().unwrap();
        assert!(!parity.is_empty());
        for p in parity {
            let err = p["max_rel_err_grad"].as_f64().unwrap();
            assert!(err < 1e-6, "{p}");
        }
    }
    // The image data at both quick K values beside the baseline.
    let f4: Vec<String> = studies[3]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert!(f4.contains(&"mnist K=16".to_string()) && f4.contains(&"mnist K=64".to_string()));
    let md = std::fs::read_to_string(out.join("FUTURE.md")).unwrap();
    assert!(md.contains("## Verdicts") && md.contains("Quick run"));
    for id in HYPOTHESES {
        assert!(
            md.contains(&format!("| {id} |")),
            "{id} missing from the verdict table"
        );
    }
    // One picture per condition on image data, each referenced where its
    // condition's table is, with a strip per arm: the conv conditions of
    // F1, F2 and F5 among them.
    let pictures: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("![").and_then(|l| l.split("](").nth(1)))
        .filter_map(|l| l.strip_suffix(')'))
        .filter(|f| f.ends_with(".png"))
        .collect();
    for study in ["f1", "f2", "f5"] {
        for data in ["mnist", "photos"] {
            let name = format!("{study}_{data}-conv-k-16.png");
            assert!(pictures.contains(&name.as_str()), "{name} not in FUTURE.md");
        }
    }
    for file in &pictures {
        let png = std::fs::read(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(&png[1..4], b"PNG", "{file}");
    }
    assert!(md.contains("strips top to bottom: originals, PCA + Lloyd (converged), conv/ste, conv/residual-projection"));
    let csv = std::fs::read_to_string(out.join("future_curves.csv")).unwrap();
    assert!(csv.starts_with("study,condition,method,step,eval_recon_mse_mean,seeds\n"));
    assert!(csv.lines().count() > 100);

    // Learning rates are chosen on the validation rows: every stored
    // training unit chose the multiplier with the lowest validation recon.
    let mut trained = 0;
    for entry in std::fs::read_dir(out.join(".runs")).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("future_train")
        {
            continue;
        }
        let unit = read_json(&path);
        let grid = unit["outcome"]["grid"].as_array().unwrap();
        let vals: Vec<f64> = grid
            .iter()
            .map(|p| p["val_recon"].as_f64().unwrap_or(f64::INFINITY))
            .collect();
        let best = (0..vals.len())
            .min_by(|&a, &b| vals[a].total_cmp(&vals[b]))
            .unwrap();
        assert_eq!(
            unit["outcome"]["chosen"].as_u64(),
            Some(best as u64),
            "{}",
            path.display()
        );
        trained += 1;
    }
    assert!(trained > 200, "{trained} training units");

    // A subset reruns from the store and writes only its study.
    let again = run(&["--only", "f2"]);
    assert_success(&again);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("(0 computed"), "{stdout}");
    let md = std::fs::read_to_string(out.join("FUTURE.md")).unwrap();
    assert!(md.contains("## F2 Nonlinear encoders") && !md.contains("## F1 Real data"));
}

#[test]
fn shards_compute_the_plan_once_and_the_render_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let store = dir.path().join("store");
    let base = |extra: &[&str]| {
        let mut c = vqlab();
        c.args([
            "future",
            "--quick",
            "--only",
            "F6",
            "--jobs",
            "1",
            "--data-dir",
        ])
        .arg(slice())
        .arg("--out")
        .arg(&out)
        .arg("--store")
        .arg(&store)
        .args(extra);
        c.output().unwrap()
    };
    let plan = base(&["--plan"]);
    assert_success(&plan);
    let planned = String::from_utf8_lossy(&plan.stdout).lines().count();
    assert!(planned > 20, "{planned} units");
    for shard in ["1/2", "2/2"] {
        let out = base(&["--shard", shard]);
        assert_success(&out);
    }
    assert!(!out.join("FUTURE.md").exists(), "shards render nothing");
    let stored = std::fs::read_dir(&store).unwrap().count();
    assert_eq!(stored, planned);
    let render = base(&[]);
    assert_success(&render);
    let stdout = String::from_utf8_lossy(&render.stdout);
    assert!(stdout.contains("(0 computed"), "{stdout}");
    assert!(out.join("FUTURE.md").exists());
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    for args in [
        vec!["--seeds", "1"],
        vec!["--only", "F9"],
        vec!["--jobs", "0"],
        vec!["--shard", "3/2"],
    ] {
        let o = vqlab()
            .args(["future", "--quick", "--data-dir"])
            .arg(slice())
            .arg("--out")
            .arg(&out)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    let o = vqlab()
        .args([
            "future",
            "--quick",
            "--data-dir",
            "/nonexistent/vqlab-data",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("data-setup.sh"), "{stderr}");
    assert!(!out.join("FUTURE.md").exists());
}
