//! `vqlab check`: the committed probes of vector-quantize-pytorch and of
//! three hand-written buggy layers (tests/data/check, made by
//! python/make_check_fixtures.py) are identified as what they compute; a
//! 1 % change to one tensor is no match, that tensor named; vqlab's own
//! dumps identify its estimators; bad probes exit 2 naming the file.
mod common;
use common::*;

use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/check")
        .join(name)
}

/// `vqlab check --json DIR`: (exit code, JSON).
fn check(dir: &Path) -> (i32, serde_json::Value) {
    let out = vqlab().args(["check", "--json"]).arg(dir).output().unwrap();
    let code = out.status.code().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

/// The best candidate's (output path, form, wiring, commitment weight as
/// F.mse_loss mean, codebook weight).
fn best(v: &serde_json::Value) -> (String, String, String, f64, Option<f64>) {
    let c = &v["candidates"][0];
    let path = match &c["path"] {
        serde_json::Value::String(s) => s.clone(),
        other => other["estimator"].as_str().unwrap().to_string(),
    };
    (
        path,
        c["form"].as_str().unwrap().to_string(),
        c["wiring"].as_str().unwrap().to_string(),
        c["commitment"]["mse_mean"].as_f64().unwrap(),
        c["codebook"]["mse_mean"].as_f64(),
    )
}

fn notes(v: &serde_json::Value) -> String {
    v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_committed_probe_is_identified() {
    // (fixture, output path, form, wiring, commitment, codebook weight, a note that must appear)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        f64,
        Option<f64>,
        &'static str,
    );
    let cases: [Case; 12] = [
        (
            "vq-default",
            "rotation-trick",
            "plain",
            "codebook-outside",
            1.0,
            None,
            "",
        ),
        ("vq-ste", "ste", "plain", "codebook-outside", 1.0, None, ""),
        (
            "vq-straight-through",
            "ste",
            "plain",
            "codebook-outside",
            1.0,
            None,
            "",
        ),
        (
            "vq-rotation-learnable",
            "rotation-trick",
            "plain",
            "combined",
            1.0,
            Some(1.0),
            "",
        ),
        (
            "vq-ste-learnable",
            "ste",
            "plain",
            "combined",
            1.0,
            Some(1.0),
            "",
        ),
        (
            "vq-commitment-0.25",
            "rotation-trick",
            "plain",
            "codebook-outside",
            0.25,
            None,
            "",
        ),
        (
            "vq-cosine",
            "rotation-trick",
            "cosine",
            "codebook-outside",
            1.0,
            None,
            "",
        ),
        (
            "vq-kmeans-init",
            "rotation-trick",
            "plain",
            "codebook-outside",
            1.0,
            None,
            "",
        ),
        // Sampled codes, but the Gumbel-softmax gradient never reaches z:
        // the library's straight-through step replaces it.
        (
            "vq-gumbel-straight-through",
            "ste",
            "plain",
            "codebook-outside",
            1.0,
            None,
            "not the nearest",
        ),
        (
            "bug-beta-on-codebook-term",
            "ste",
            "plain",
            "separate",
            1.0,
            Some(0.25),
            "β on the wrong term",
        ),
        (
            "bug-detached-codebook",
            "ste",
            "plain",
            "codebook-outside",
            0.25,
            None,
            "never learns",
        ),
        (
            "bug-rotation-normalised-twice",
            "rotation-trick",
            "plain",
            "separate",
            f64::NAN,
            Some(1.0),
            "radial component",
        ),
    ];
    for (name, path, form, wiring, commitment, codebook, note) in cases {
        let (code, v) = check(&fixture(name));
        let got = best(&v);
        let matched = !name.starts_with("bug-rotation");
        assert_eq!(code, if matched { 0 } else { 1 }, "{name}: {got:?}");
        assert_eq!(v["matched"], matched, "{name}");
        assert_eq!(
            (got.0.as_str(), got.1.as_str(), got.2.as_str()),
            (path, form, wiring),
            "{name}"
        );
        if matched {
            assert!(
                (got.3 - commitment).abs() < 1e-4,
                "{name}: commitment {}",
                got.3
            );
            let err = v["candidates"][0]["error"].as_f64().unwrap();
            assert!(err < 1e-5, "{name}: error {err}");
            // The fitted weights predict the aux loss the layer returned
            // (the detached codebook's term has a value but no gradient).
            let (pred, ret) = (
                v["aux_loss_predicted"].as_f64().unwrap(),
                v["aux_loss_returned"].as_f64().unwrap(),
            );
            if name != "bug-detached-codebook" {
                assert!(
                    (pred - ret).abs() < 1e-5 * ret,
                    "{name}: aux {pred} vs {ret}"
                );
            } else {
                assert!(notes(&v).contains("aux loss returned"), "{}", notes(&v));
            }
        }
        match (got.4, codebook) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-4, "{name}: codebook {g}"),
            (None, None) => {}
            other => panic!("{name}: codebook weight {other:?}"),
        }
        assert!(notes(&v).contains(note), "{name}: {}", notes(&v));
        // The forward checks: the output is the assigned code.
        let plain = &v["forward"][0];
        let f = if form == "cosine" {
            &v["forward"][1]
        } else {
            plain
        };
        assert!(f["output_vs_code"].as_f64().unwrap() < 1e-5, "{name}");
    }
}

/// Copies a fixture into a temporary directory.
fn copy_fixture(name: &str, to: &Path) -> PathBuf {
    let dir = to.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    dir
}

fn read(path: &Path) -> ndarray::Array2<f64> {
    use ndarray_npy::ReadNpyExt;
    ndarray::Array2::<f64>::read_npy(std::fs::File::open(path).unwrap()).unwrap()
}

fn write(path: &Path, a: &ndarray::Array2<f64>) {
    use ndarray_npy::WriteNpyExt;
    a.write_npy(std::fs::File::create(path).unwrap()).unwrap();
}

#[test]
fn a_one_percent_change_to_one_tensor_is_no_match_and_names_it() {
    use rand::{Rng, SeedableRng};
    let tmp = tempfile::tempdir().unwrap();
    for (name, tensor) in [
        ("vq-default", "grad_z"),
        ("vq-rotation-learnable", "grad_z"),
        ("vq-rotation-learnable", "grad_codebook"),
        ("bug-beta-on-codebook-term", "grad_codebook"),
    ] {
        let dir = copy_fixture(name, &tmp.path().join(tensor));
        let (code, v) = check(&dir);
        assert_eq!(code, 0, "{name} unchanged");
        // Each entry × (1 + 0.01 ε), ε uniform in [−1, 1].
        let path = dir.join(format!("{tensor}.npy"));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let changed = read(&path).mapv(|x| x * (1.0 + 0.01 * rng.gen_range(-1.0..1.0)));
        write(&path, &changed);
        let (code, v2) = check(&dir);
        assert_eq!(code, 1, "{name}/{tensor}: {}", v2["candidates"][0]);
        assert_eq!(v2["matched"], false);
        let departed: Vec<&str> = v2["candidates"][0]["departures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["tensor"].as_str().unwrap())
            .collect();
        assert_eq!(departed, [tensor], "{name}");
        // The closest is still what the layer computes.
        assert_eq!(best(&v2).0, best(&v).0, "{name}");
    }
}

#[test]
fn vqlab_s_own_dumps_identify_its_estimators() {
    let tmp = tempfile::tempdir().unwrap();
    for model in ["tied", "mlp"] {
        let dump = tmp.path().join(model);
        let out = vqlab()
            .args([
                "gradcheck",
                "--model",
                model,
                "--steps",
                "1",
                "--fd-states",
                "1",
            ])
            .args(["--long-run-steps", "0", "--k", "8", "--n-train", "300"])
            .args(["--n-eval", "100", "--batch", "64", "--dump"])
            .arg(&dump)
            .output()
            .unwrap();
        assert_success(&out);
        for estimator in [
            "ste",
            "residual-projection",
            "rotation-trick",
            "nsvq",
            "gumbel",
            "gumbel-hard",
        ] {
            let (code, v) = check(&dump.join(format!("probe-{estimator}")));
            let got = best(&v);
            assert_eq!(code, 0, "{model}/{estimator}: {got:?}");
            assert_eq!(
                (got.0.as_str(), got.1.as_str(), got.2.as_str()),
                (estimator, "plain", "separate")
            );
            let c = &v["candidates"][0];
            // α = 1, β = 0.25 on per-row sums (vqlab's loss), to f64 rounding.
            assert!((c["commitment"]["row_mean"].as_f64().unwrap() - 0.25).abs() < 1e-9);
            assert!((c["codebook"]["row_mean"].as_f64().unwrap() - 1.0).abs() < 1e-9);
            assert!(
                c["error"].as_f64().unwrap() < 1e-9,
                "{estimator}: {}",
                c["error"]
            );
        }
    }
}

#[test]
fn bad_probes_exit_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    type Spoil = fn(&Path);
    let cases: [(&str, Spoil, &[&str]); 8] = [
        (
            "missing",
            |d| std::fs::remove_file(d.join("grad_z.npy")).unwrap(),
            &["grad_z.npy", "missing"],
        ),
        (
            "trainable codebook without its gradient",
            |d| std::fs::remove_file(d.join("grad_codebook.npy")).unwrap(),
            &["grad_codebook.npy", "missing", "trainable"],
        ),
        (
            "width",
            |d| write(&d.join("upstream.npy"), &ndarray::Array2::zeros((64, 7))),
            &["upstream.npy", "64×7", "64×8"],
        ),
        (
            "codebook width",
            |d| write(&d.join("codebook.npy"), &ndarray::Array2::zeros((32, 5))),
            &["codebook.npy", "32×5"],
        ),
        (
            "nan",
            |d| {
                let mut z = read(&d.join("z.npy"));
                z[[3, 1]] = f64::NAN;
                write(&d.join("z.npy"), &z);
            },
            &["z.npy", "NaN", "finite"],
        ),
        (
            "out of range",
            |d| {
                use ndarray_npy::WriteNpyExt;
                let a = ndarray::Array1::<i64>::from_elem(64, 32);
                a.write_npy(std::fs::File::create(d.join("assignments.npy")).unwrap())
                    .unwrap();
            },
            &["assignments.npy", "32", "0 to 31"],
        ),
        (
            "integer grad",
            |d| {
                use ndarray_npy::WriteNpyExt;
                let a = ndarray::Array2::<i64>::zeros((64, 8));
                a.write_npy(std::fs::File::create(d.join("grad_z.npy")).unwrap())
                    .unwrap();
            },
            &["grad_z.npy", "float"],
        ),
        (
            "float assignments",
            |d| {
                use ndarray_npy::WriteNpyExt;
                let a = ndarray::Array1::<f64>::zeros(64);
                a.write_npy(std::fs::File::create(d.join("assignments.npy")).unwrap())
                    .unwrap();
            },
            &["assignments.npy", "integer"],
        ),
    ];
    for (what, spoil, needles) in cases {
        let dir = copy_fixture(
            "vq-rotation-learnable",
            &tmp.path().join(what.replace(' ', "-")),
        );
        spoil(&dir);
        let out = vqlab().args(["check"]).arg(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}");
        assert!(out.stdout.is_empty(), "{what}: nothing printed on stdout");
        let err = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{what}: {n:?} not in {err}");
        }
    }
    let out = vqlab()
        .args(["check"])
        .arg(tmp.path().join("nowhere"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
