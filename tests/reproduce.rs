//! `vqlab reproduce --quick` end to end in a temporary folder.
use std::path::Path;
use std::process::Command;

fn vqlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vqlab"))
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

#[test]
fn quick_reproduction_writes_everything_and_reruns_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let run = || {
        vqlab()
            .args(["reproduce", "--quick", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    for file in [
        "REPORT.md",
        "summary.json",
        "exp1.json",
        "exp2.json",
        "exp3.json",
        "exp4.json",
        "exp2_curves.csv",
        "exp2_curves.svg",
        "exp3_recon_vs_k.svg",
        "exp4_recon_vs_beta.svg",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let summary = read_json(&out.join("summary.json"));
    let claims = summary["claims"].as_array().unwrap();
    let ids: Vec<&str> = claims.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, (1..=14).map(|i| format!("C{i}")).collect::<Vec<_>>());
    for c in claims {
        assert!(["reproduced", "not_reproduced", "not_significant"]
            .contains(&c["verdict"].as_str().unwrap()));
    }
    // Every report cell has a finite reproduction.
    let cells = summary["cells"].as_array().unwrap();
    assert!(cells.len() > 80, "{} cells", cells.len());
    for c in cells {
        let mean = c["estimate"]["mean"].as_f64().unwrap_or(f64::NAN);
        assert!(mean.is_finite(), "{c}");
    }
    // Sane metrics in the stored units: recon > insub > 0, entropy ≤ ln K.
    let exp3 = read_json(&out.join("exp3.json"));
    for unit in exp3["units"].as_array().unwrap() {
        let k = unit["spec"]["train"]["k"].as_f64().unwrap();
        for run in unit["runs"].as_array().unwrap() {
            let m = &run["final"];
            let (recon, insub) = (
                m["recon_mse"].as_f64().unwrap(),
                m["insub_distortion"].as_f64().unwrap(),
            );
            assert!(recon > insub && insub > 0.0 && recon < 10.0, "{m}");
            assert!(m["usage_entropy"].as_f64().unwrap() <= k.ln() + 1e-12);
        }
    }
    // The CSV has a header and rows for every exp-2 method.
    let csv = std::fs::read_to_string(out.join("exp2_curves.csv")).unwrap();
    assert!(csv.starts_with("init,batch,seed,method,step,"));
    for m in ["autograd-ste", "manual-ste", "rotation", "rotation-trick"] {
        assert!(csv.contains(&format!(",{m},")), "{m}");
    }
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(report.contains("## The report's claims") && report.contains("quick mode"));
    assert!(report.contains("| C14 |"));

    // A second run reuses every stored unit and gives the same tables.
    let second = run();
    assert!(second.status.success());
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(stdout.contains("(0 computed"), "{stdout}");
    let again = read_json(&out.join("summary.json"));
    assert!(
        again["cells"] == summary["cells"],
        "cells differ after reusing the store"
    );
    assert!(
        again["claims"] == summary["claims"],
        "claims differ after reusing the store"
    );
}

#[test]
fn reproduce_refuses_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let out = vqlab()
        .args(["reproduce", "--seeds", "0", "--out"])
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("seeds = 0"));
    assert!(
        !dir.path().join("r").exists(),
        "no result folder for a refused run"
    );
}
