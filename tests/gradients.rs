//! `vqlab gradients --quick`: the study runs end to end, judges G1 and G3,
//! writes GRADIENTS.md and gradients.json, and a rerun reuses every unit.
mod common;
use common::*;

#[test]
fn the_quick_study_judges_its_hypotheses_and_reuses_its_units() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = || {
        vqlab()
            .args(["gradients", "--quick", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = run();
    assert_success(&first);
    let md = std::fs::read_to_string(out.join("GRADIENTS.md")).unwrap();
    for needle in [
        "### G1 — ",
        "### G3 — ",
        "--quick",
        "### tied",
        "### untied",
        "### mlp",
        "| 20 | rotation-trick |",
    ] {
        assert!(md.contains(needle), "{needle:?} not in GRADIENTS.md");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("gradients.json")).unwrap())
            .unwrap();
    assert_eq!(json["units"], 6);
    let claims = json["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 2);
    for c in claims {
        // Every model at every point: each part with its two seeds'
        // values, or not judged (∇J not resolved) and saying so.
        let parts = c["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 9, "{}", c["id"]);
        for p in parts {
            match p["values"].as_array() {
                Some(values) => assert_eq!(values.len(), 2, "{p}"),
                None => {
                    assert_eq!(p["verdict"], "not_run", "{p}");
                    assert!(
                        p["flags"][0].as_str().unwrap().contains("not judged"),
                        "{p}"
                    );
                }
            }
        }
    }
    let again = run();
    assert_success(&again);
    let line = String::from_utf8_lossy(&again.stdout);
    assert!(line.contains("(0 computed, 6 reused)"), "{line}");
    assert_eq!(
        std::fs::read_to_string(out.join("GRADIENTS.md")).unwrap(),
        md,
        "the rerun renders the same report"
    );
}

#[test]
fn one_seed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = vqlab()
        .args(["gradients", "--quick", "--seeds", "1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("seeds = 1"), "{err}");
    assert!(!out.exists());
}
