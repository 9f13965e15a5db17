//! `vqlab gradquality`: a small run's JSON holds every point, estimator and
//! group; bad input is exit 2 naming the field, with nothing written.
mod common;
use common::*;

const SMALL: [&str; 4] = ["--n-train", "2000", "--steps", "20"];

#[test]
fn a_small_run_measures_every_estimator_at_every_point() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("gq.json");
    let out = vqlab()
        .arg("gradquality")
        .args(SMALL)
        .args(["--n-eval", "20000", "--batches", "20", "--at", "0,20"])
        .args([
            "--model",
            "untied",
            "--estimator",
            "ste,rotation-trick",
            "--tau",
            "2,0.5",
            "--out",
        ])
        .arg(&out_path)
        .output()
        .unwrap();
    assert_success(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("step 20: J ="), "{table}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    assert_eq!(report["rows"], 20000);
    let points = report["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    for point in points {
        let estimators = point["estimators"].as_array().unwrap();
        assert_eq!(estimators.len(), 2);
        for e in estimators {
            let groups: Vec<&str> = e["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["group"].as_str().unwrap())
                .collect();
            assert_eq!(groups, ["encoder", "decoder", "codebook", "all"]);
            let drop = &e["descent"]["estimator_drop"];
            assert!(drop["value"].as_f64().unwrap().is_finite(), "{drop}");
            assert!(drop["std_error"].as_f64().unwrap() > 0.0, "{drop}");
        }
        let taus: Vec<f64> = point["gumbel_by_tau"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tau"].as_f64().unwrap())
            .collect();
        assert_eq!(taus, [2.0, 0.5]);
        // Five bins of equal counts covering the rows, smallest ‖z − q‖
        // first.
        let bins = point["ste_bias_by_error"].as_array().unwrap();
        assert_eq!(bins.len(), 5);
        assert_eq!(
            bins.iter()
                .map(|b| b["rows"].as_u64().unwrap())
                .sum::<u64>(),
            20000
        );
        for pair in bins.windows(2) {
            assert!(pair[0]["high"].as_f64().unwrap() <= pair[1]["low"].as_f64().unwrap());
        }
    }
    assert!(table.contains("gumbel τ=0.5"), "{table}");
    assert!(table.contains("by ‖z − q‖"), "{table}");
}

#[test]
fn bad_input_is_refused_naming_the_field() {
    let cases: [(&[&str], &str); 10] = [
        (&["--tau", "1,0"], "tau = 0"),
        (&["--at", "0,21"], "at = 21"),
        (&["--batches", "1"], "batches = 1"),
        (&["--h", "0"], "h = 0"),
        (&["--h", "-0.01"], "h = -0.01"),
        (&["--estimator", "straight"], "straight"),
        (&["--run-estimator", "ste,nsvq"], "run-estimator"),
        (&["--codebook", "ema"], "codebook"),
        (&["--n-eval", "511"], "n-eval = 511"),
        (&["--k", "1"], "k = 1"),
    ];
    for (args, needle) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out_path = dir.path().join("gq.json");
        let out = vqlab()
            .arg("gradquality")
            .args(SMALL)
            .args(args)
            .args(if args[0] == "--n-eval" {
                &[][..]
            } else {
                &["--n-eval", "20000"][..]
            })
            .arg("--out")
            .arg(&out_path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {needle:?} not in {err}");
        assert!(!out_path.exists(), "{args:?} wrote a report");
    }
}
