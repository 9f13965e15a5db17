//! `vqlab gradients --quick`: the study runs end to end, judges G1–G5 (G5
//! on a future.json written here), writes GRADIENTS.md, gradients.json and
//! its charts, and a rerun reuses every unit.
mod common;
use common::*;

#[test]
fn the_quick_study_judges_its_hypotheses_and_reuses_its_units() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // FUTURE.md's arms as `vqlab future --quick` names them: the generator
    // condition at the quick K = 16, two seeds; one MNIST condition and one
    // Adam arm that G5 must leave out.
    std::fs::create_dir_all(&out).unwrap();
    let row =
        |name: &str, recon: [f64; 2]| serde_json::json!({ "name": name, "recon_per_seed": recon });
    let future = serde_json::json!({ "seeds": [0, 1], "studies": [{ "conditions": [
        { "data": "mnist", "sizes": { "k": 16 }, "rows": [
            row("PCA + Lloyd, 20 iterations (report)", [40.0, 41.0]),
            row("tied/gumbel", [39.0, 40.0]),
        ]},
        { "data": "synthetic D=64 σ=0.050", "sizes": { "k": 16 }, "rows": [
            row("PCA + Lloyd, 20 iterations (report)", [2.5, 2.6]),
            row("tied/ste", [2.49, 2.58]),
            row("tied/rotation-trick", [2.48, 2.57]),
            row("tied/nsvq", [2.47, 2.59]),
            row("untied/ste", [2.5, 2.61]),
            row("mlp/ste", [3.0, 3.1]),
            row("mlp/ste adam", [2.4, 2.5]),
        ]},
    ]}]});
    std::fs::write(out.join("future.json"), future.to_string()).unwrap();
    let run = || {
        vqlab()
            .args(["gradients", "--quick", "--data-dir"])
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = run();
    assert_success(&first);
    let md = std::fs::read_to_string(out.join("GRADIENTS.md")).unwrap();
    for needle in [
        "### G1 — ",
        "### G2 — ",
        "### G3 — ",
        "### G4 — ",
        "### G5 — ",
        "## STE's bias by ‖z − q‖ (G2)",
        "## Gumbel-Softmax by τ (G4)",
        "| tied/nsvq |",
        "| mlp/ste |",
        "arms from ",
        "(gradients_bias_vs_error.svg)",
        "--quick",
        "### generator, tied",
        "### digits, untied",
        "### mnist, mlp",
        "| 20 | rotation-trick |",
    ] {
        assert!(md.contains(needle), "{needle:?} not in GRADIENTS.md");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("gradients.json")).unwrap())
            .unwrap();
    assert!(!md.contains("| mlp/ste adam |") && !md.contains("| tied/gumbel |"));
    for (file, _) in vqlab::studies::gradients::plots::files() {
        let svg = std::fs::read_to_string(out.join(&file)).unwrap();
        assert!(svg.contains("<svg"), "{file}");
    }
    // Trajectories on the generator, digits and MNIST, and the arm
    // starts: 3 models × 2 seeds each.
    assert_eq!(json["units"], 24);
    let claims = json["claims"].as_array().unwrap();
    let ids: Vec<&str> = claims.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["G1", "G2", "G3", "G4", "G5"]);
    for c in claims {
        // Every model at every point (G4: twice, bias and variance; G5:
        // one part over the arms): each part with its two seeds' values,
        // or not judged (∇J not resolved) and saying so.
        let parts = c["parts"].as_array().unwrap();
        let expected = match c["id"].as_str().unwrap() {
            "G4" => 18,
            "G5" => 1,
            // Judged on the generator: three models × three points.
            _ => 9,
        };
        assert_eq!(parts.len(), expected, "{}", c["id"]);
        if c["id"] == "G5" {
            // The quick run's arms: some left out (their start ∇J not
            // resolved, or the same update), the rest counted, and the
            // file they came from named.
            let flags = parts[0]["flags"].to_string();
            assert!(flags.contains("arms from "), "{flags}");
            assert!(
                flags.contains("left out") || flags.contains("counted once"),
                "{flags}"
            );
            continue;
        }
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
    known_answers(&json);
    let again = run();
    assert_success(&again);
    let line = String::from_utf8_lossy(&again.stdout);
    assert!(line.contains("(0 computed, 24 reused)"), "{line}");
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

/// The rules on constructed measures whose right verdict is known: the
/// quick run's results with their numbers overwritten.
fn known_answers(json: &serde_json::Value) {
    use vqlab::model::{Estimator, ModelKind};
    use vqlab::studies::gradients::analysis::claims;
    use vqlab::studies::gradients::arms::{ArmGain, ArmGains};
    use vqlab::studies::gradients::{encoder_group, GradientsResult, Role};
    let template: Vec<GradientsResult> = serde_json::from_value(json["results"].clone()).unwrap();
    // G1 with the rotation trick's encoder cosine `shift(model)` above
    // STE's on every seed and point, every part resolved (noise 0.1).
    let g1 = |shift: &dyn Fn(ModelKind) -> f64| {
        let mut results = template.clone();
        for r in &mut results {
            let (model, seed) = (r.spec.model, r.spec.seed as f64);
            for point in &mut r.report.points {
                for e in &mut point.estimators {
                    let value = match e.estimator {
                        Estimator::Ste => 0.5 + 0.01 * seed,
                        Estimator::RotationTrick => 0.5 + 0.01 * seed + shift(model),
                        _ => continue,
                    };
                    for g in &mut e.groups {
                        if g.group == encoder_group(model) {
                            g.cosine = Some(value);
                            g.noise = 0.1;
                        }
                    }
                }
            }
        }
        let claims = claims(&results, None, "none");
        assert_eq!(claims[0].id, "G1");
        claims[0].label
    };
    assert_eq!(g1(&|_| 0.1), "supported");
    assert_eq!(g1(&|_| 0.01), "real but below δ");
    assert_eq!(g1(&|_| -0.1), "not supported");
    assert_eq!(
        g1(&|m| if m == ModelKind::Tied { 0.1 } else { -0.1 }),
        "mixed"
    );
    // G5 on arm starts whose tied estimators have start cosines 0.1 …
    // 0.5 (STE and residual projection the same update, as in the tied
    // model; a little seed-to-seed spread) and the untied STE arm's ∇J
    // unresolved: gains in the order of the cosines (ρ = 1), reversed
    // (ρ = −1), and shuffled.
    let tied = [
        (Estimator::Ste, 0.1),
        (Estimator::ResidualProjection, 0.1),
        (Estimator::RotationTrick, 0.2),
        (Estimator::Nsvq, 0.3),
        (Estimator::Gumbel, 0.4),
        (Estimator::GumbelHard, 0.5),
    ];
    let mut starts = template.clone();
    for r in &mut starts {
        if r.spec.role != Role::ArmStart {
            continue;
        }
        let (model, seed) = (r.spec.model, r.spec.seed as f64);
        for e in &mut r.report.points[0].estimators {
            let cosine = tied
                .iter()
                .find(|t| t.0 == e.estimator)
                .map_or(0.0, |t| t.1);
            for g in &mut e.groups {
                if g.group == encoder_group(model) {
                    g.cosine = Some(cosine + 0.001 * seed);
                    g.noise = if model == ModelKind::Tied { 0.1 } else { 13.0 };
                }
            }
        }
    }
    let g5 = |gain_of: &dyn Fn(f64) -> f64| {
        let mut arms: Vec<ArmGain> = tied
            .iter()
            .map(|&(estimator, cosine)| ArmGain {
                model: ModelKind::Tied,
                estimator,
                gain: vec![gain_of(cosine); 2],
            })
            .collect();
        arms.push(ArmGain {
            model: ModelKind::Untied,
            estimator: Estimator::Ste,
            gain: vec![5.0, 5.0],
        });
        let gains = ArmGains {
            source: "constructed".into(),
            seeds: vec![0, 1],
            arms,
        };
        let claim = claims(&starts, Some(&gains), "constructed").remove(4);
        let flags = claim.parts[0].flags.join("; ");
        assert!(flags.contains("untied/ste left out"), "{flags}");
        assert!(
            flags.contains("tied/residual-projection counted once with tied/ste"),
            "{flags}"
        );
        assert!(flags.contains("5 arms from constructed"), "{flags}");
        claim.label
    };
    assert_eq!(g5(&|c| c), "supported");
    assert_eq!(g5(&|c| -c), "not supported");
    // 0.1, 0.2, 0.3, 0.4, 0.5 → ranks 3, 1, 5, 2, 4: ρ = 0.3.
    let shuffled = |c: f64| [3.0, 1.0, 5.0, 2.0, 4.0][((c * 10.0).round() as usize) - 1];
    assert_eq!(g5(&shuffled), "not significant");
}
