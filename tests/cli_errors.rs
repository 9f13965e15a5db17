//! Every way a user can go wrong gets exit status 2, a message naming the
//! problem, and no result file.
mod common;
use common::*;
use std::path::Path;

const SMALL: [&str; 4] = ["--n-train", "2000", "--n-eval", "500"];

#[test]
fn bad_configuration_values() {
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--m", "0"], vec!["m = 0"]),
        (vec!["--m", "65"], vec!["m = 65", "D = 64"]),
        (
            vec!["--spectrum", "1,1,1,1,1,1,1", "--dim", "5"],
            vec!["rank = 7", "D = 5"],
        ),
        (vec!["--k", "0"], vec!["k = 0"]),
        (vec!["--k", "2001"], vec!["k = 2001", "2000"]),
        (vec!["--batch", "0"], vec!["batch = 0"]),
        (vec!["--steps", "1000000000"], vec!["steps = 1000000000"]),
        (vec!["--steps", "-5"], vec!["--steps"]),
        (vec!["--lr-w", "0"], vec!["lr_w = 0"]),
        (vec!["--lr-w", "NaN"], vec!["lr_w = NaN"]),
        (vec!["--lr-e", "inf"], vec!["lr_e = inf"]),
        (vec!["--alpha", "-1"], vec!["alpha = -1"]),
        (vec!["--beta", "inf"], vec!["beta = inf"]),
        (
            vec!["--n-train", "0", "--n-eval", "10"],
            vec!["n_train = 0"],
        ),
        (
            vec!["--n-eval", "0", "--n-train", "100"],
            vec!["n_eval = 0"],
        ),
        (
            vec!["--method", "adam"],
            vec!["method = adam", "manual-ste"],
        ),
        (
            vec!["--device", "cuda"],
            vec!["device = cuda", "no CUDA device"],
        ),
    ];
    for (args, needles) in cases {
        let mut all = args.clone();
        if !args.contains(&"--n-train") && !args.contains(&"--n-eval") {
            all.extend(SMALL);
        }
        refused_train(&all, &needles);
    }
}

#[test]
fn reproduce_refuses_zero_seeds_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = vqlab()
        .args(["reproduce", "--seeds", "0", "--out"])
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("seeds = 0"));
    assert!(!dir.path().join("r").exists());
}

#[test]
fn reproduce_refuses_bad_shards_and_stores_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out_dir = dir.path().join("r");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--shard".into(), "0/2".into()], "1 ≤ I ≤ N"),
        (vec!["--shard".into(), "3/2".into()], "1 ≤ I ≤ N"),
        (vec!["--shard".into(), "1/0".into()], "N ≥ 1"),
        (vec!["--shard".into(), "one".into()], "I/N"),
        (
            vec!["--store".into(), file.display().to_string()],
            "is a file",
        ),
        (
            vec!["--store".into(), file.join("runs").display().to_string()],
            "is a file",
        ),
        // Not writable, even for root.
        (
            vec!["--store".into(), "/proc/vqlab-runs".into()],
            "cannot create files",
        ),
    ];
    for (args, message) in cases {
        for extra in [&[][..], &["--shard", "1/2"][..]] {
            if args[0] == "--shard" && !extra.is_empty() {
                continue;
            }
            let out = vqlab()
                .args(["reproduce", "--quick", "--out"])
                .arg(&out_dir)
                .args(&args)
                .args(extra)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?} {extra:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(message), "{args:?}: {stderr}");
            assert!(!out_dir.exists(), "{args:?}: wrote the output folder");
        }
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// A dtype no reader converts (integers and floats are all accepted).
fn npy_bool(dir: &Path) -> String {
    use ndarray_npy::WriteNpyExt;
    let p = dir.join("bools.npy");
    ndarray::array![[true, false], [false, true]]
        .write_npy(std::fs::File::create(&p).unwrap())
        .unwrap();
    p.display().to_string()
}

fn npy_1d(dir: &Path) -> String {
    use ndarray_npy::WriteNpyExt;
    let p = dir.join("vec.npy");
    ndarray::arr1(&[1.0f64, 2.0, 3.0])
        .write_npy(std::fs::File::create(&p).unwrap())
        .unwrap();
    p.display().to_string()
}

#[test]
fn bad_data_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut good = String::new();
    for i in 0..40 {
        good.push_str(&format!("{},{},{}\n", i, i * 2 % 7, (i * 5) % 11));
    }
    let good_path = write(d, "good.csv", good.as_bytes());
    std::fs::create_dir(d.join("folder.csv")).unwrap();
    let cases: Vec<(String, Vec<&str>, Vec<&str>)> = vec![
        (
            d.join("missing.csv").display().to_string(),
            vec![],
            vec!["missing.csv", "No such file"],
        ),
        (
            d.join("folder.csv").display().to_string(),
            vec![],
            vec!["folder.csv"],
        ),
        (npy_bool(d), vec![], vec!["bools.npy", "dtype"]),
        (npy_1d(d), vec![], vec!["vec.npy", "2-D"]),
        (
            write(d, "ragged.csv", b"1,2,3\n4,5\n"),
            vec![],
            vec!["ragged.csv", "line 2", "ragged"],
        ),
        (
            write(d, "text.csv", b"1,2\n3,four\n"),
            vec![],
            vec!["text.csv", "line 2, column 2", "four"],
        ),
        (
            write(d, "nan.csv", b"1,2\n3,nan\n"),
            vec![],
            vec!["nan.csv", "row 2, column 2", "non-finite"],
        ),
        (
            write(d, "inf.csv", b"1,2\ninf,3\n"),
            vec![],
            vec!["inf.csv", "row 2, column 1"],
        ),
        (
            write(d, "x.txt", b"1,2\n"),
            vec![],
            vec!["x.txt", ".npy or .csv"],
        ),
        (
            good_path.clone(),
            vec!["--k", "35"],
            vec!["k = 35", "(26)", "4 of the training rows are held out"],
        ),
        (
            good_path.clone(),
            vec!["--dim", "5"],
            vec!["good.csv", "3 columns", "--dim", "5"],
        ),
    ];
    for (path, extra, needles) in cases {
        let mut args = vec![
            "--data",
            path.as_str(),
            "--n-eval",
            "10",
            "--m",
            "2",
            "--k",
            "4",
            "--batch",
            "8",
        ];
        // A later --k overrides: clap refuses repeats, so rebuild the list.
        if extra.contains(&"--k") {
            args.retain(|a| *a != "--k" && *a != "4");
        }
        args.extend(extra.iter());
        refused_train(&args, &needles);
    }
}

#[test]
fn divergence_is_reported_with_method_step_and_quantity_and_exit_3() {
    for method in ["manual-ste", "autograd-ste"] {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("params");
        let out = vqlab()
            .args(["train", "--method", method, "--lr-e", "1e100"])
            .args(["--steps", "100", "--n-train", "2000", "--n-eval", "500"])
            .arg("--save-params")
            .arg(&out_dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{method}: {err}");
        assert!(err.contains(&format!("{method} diverged at step")), "{err}");
        assert!(err.contains("not finite"), "{err}");
        // The table says it too; a diverged method's parameters are not saved.
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains("diverged at step"), "{table}");
        assert!(!out_dir.exists(), "{method} saved parameters");
    }
}

#[test]
fn same_seed_same_threads_gives_identical_json_apart_from_timing() {
    let run = || {
        let out = vqlab()
            .args([
                "--threads",
                "1",
                "train",
                "--method",
                "manual-ste,autograd-ste",
                "--json",
                "--steps",
                "40",
            ])
            .args(SMALL)
            .output()
            .unwrap();
        let mut v = json_stdout(&out);
        for run in v.as_array_mut().unwrap() {
            run.as_object_mut().unwrap().remove("timing");
        }
        serde_json::to_string(&v).unwrap()
    };
    assert_eq!(run(), run());
}
