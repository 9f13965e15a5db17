//! Tests of the parent module.
use super::super::real_choices;
use super::super::studies::{plan, Entity, FutureScale, Test};
use super::super::unit::DataChoice;
use super::*;
use crate::data::RealSet;
use crate::study::Scale;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The plan `studies/<id>.toml` gives on the data in `dir` at `quick`
/// scale (read from the folder, and as compiled in), beside the code's.
fn both_plans(id: StudyId, dir: &Path, quick: bool) -> (Plan, Plan) {
    let path = root().join(format!("studies/{}.toml", id.name()));
    let (file, text) = StudyFile::read(&path).unwrap();
    let from_file = file.into_study(&path, &text, dir, quick).unwrap().plan;
    let compiled_in = built_in_plan(&[id], dir, quick).unwrap();
    assert_eq!(compiled_in.conditions, from_file.conditions);
    assert_eq!(compiled_in.hypotheses, from_file.hypotheses);
    let real = real_choices(dir).unwrap();
    let from_code = plan(&[id], &FutureScale::of(quick), &real);
    (from_file, from_code)
}

#[test]
fn the_study_files_plan_exactly_what_the_code_plans() {
    // Quick, on the slice the tests carry: the same conditions (data,
    // sizes, arms in order) and the same hypotheses, part for part, so
    // the same units and numbers.
    // Conditions, arms of the first and of the last, hypotheses: F1, F2
    // and F5 end with two conv conditions of two conv arms each.
    for (id, conditions, arms, last_arms, hypotheses) in [
        (StudyId::F1, 4, 12, 2, 2),
        (StudyId::F2, 4, 10, 2, 3),
        (StudyId::F3, 2, 16, 16, 2),
        (StudyId::F4, 3, 7, 7, 1),
        (StudyId::F5, 4, 8, 2, 2),
        (StudyId::F6, 5, 4, 4, 1),
    ] {
        let (file, code) = both_plans(id, &root().join("tests/data"), true);
        assert_eq!(file.conditions, code.conditions, "{id:?}");
        assert_eq!(file.hypotheses, code.hypotheses, "{id:?}");
        assert_eq!(file.conditions.len(), conditions);
        assert_eq!(file.conditions[0].arms.len(), arms);
        assert_eq!(file.conditions.last().unwrap().arms.len(), last_arms);
        assert_eq!(file.hypotheses.len(), hypotheses);
        // Full scale needs the full sets (./data-setup.sh): the slice
        // has fewer rows than the full batch of 256, which the code's
        // plan clips.
        let full = root().join("data");
        let sets = [RealSet::Mnist, RealSet::Digits, RealSet::Photos];
        if sets.iter().all(|set| set.load(&full).is_ok()) {
            let (file, code) = both_plans(id, &full, false);
            assert_eq!(file.conditions, code.conditions, "{id:?} full");
            assert_eq!(file.hypotheses, code.hypotheses, "{id:?} full");
        } else {
            eprintln!("full-scale {id:?} plan not compared: run ./data-setup.sh");
        }
    }
}

#[test]
fn generator_rows_read_as_one_triple_or_per_scale() {
    #[derive(Deserialize)]
    struct Rows {
        generator: data::GeneratorRows,
    }
    let one: Rows = toml::from_str("generator = [600, 100, 200]").unwrap();
    assert_eq!(one.generator.pick(true), (600, 100, 200));
    assert_eq!(one.generator.pick(false), (600, 100, 200));
    let scaled: Rows =
        toml::from_str("generator = { full = [8000, 2000, 2000], quick = [1600, 400, 400] }")
            .unwrap();
    assert_eq!(scaled.generator.pick(true), (1600, 400, 400));
    assert_eq!(scaled.generator.pick(false), (8000, 2000, 2000));
}

#[test]
fn sizes_take_their_quick_form_and_plain_steps_are_capped() {
    let scaled = Size::Scaled {
        full: 500,
        quick: 60,
    };
    assert_eq!(
        (scaled.at("steps", false), scaled.at("steps", true)),
        (500, 60)
    );
    assert_eq!(Size::One(500).at("steps", true), QUICK_STEPS);
    assert_eq!(Size::One(500).at("batch", true), 500);
    assert_eq!(Size::One(500).at("steps", false), 500);
}

/// Plans `text` as a study file at quick scale (generator data only).
fn planned(text: &str) -> Result<UserStudy> {
    let path = Path::new("t.toml");
    StudyFile::parse(path, text)?.into_study(path, text, Path::new("."), true)
}

const GENERATOR_STUDY: &str = r#"
title = "t"
seeds = 2

[[condition]]
id = "low"
name = "noise {noise} % (σ = {sigma}) K={k}"
data = { generator = [300, 50, 50], noise_share = 0.1, dim = 16 }
k = 8
m = 2
batch = 64
steps = 10
x = "noise-share"

[[condition]]
name = "sweep K={k}"
data = { generator = [300, 50, 50] }
k = { full = [4, 8, 16], quick = [4, 8] }
m = 2
batch = 64
steps = 10
x = "k"

[[arm]]
estimator = "ste"

[[arm]]
estimator = "nsvq"

[[hypothesis]]
id = "R"
text = "r"
combine = "any"

[[hypothesis.ranking]]
first = { name = "a", entities = ["converged", "tied/ste"] }
second = { name = "b", entities = ["tied/nsvq", "tied/ste"] }

[[hypothesis.ranking]]
first = { condition = "low", entities = ["converged", "tied/ste"] }
second = { condition = "sweep K=8", entities = ["converged", "tied/ste"] }
"#;

#[test]
fn k_lists_noise_names_and_rankings_plan_as_written() {
    let study = planned(GENERATOR_STUDY).unwrap();
    let c = &study.plan.conditions;
    let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
    let DataChoice::Synthetic { spec, .. } = &c[0].data else {
        panic!("the generator")
    };
    assert_eq!(spec.dim, 16);
    let share = crate::studies::future::studies::noise_share(spec);
    assert!((share - 0.1).abs() < 1e-12, "{share}");
    assert_eq!(
        names,
        [
            format!("noise 10.0 % (σ = {:.4}) K=8", spec.noise_sigma).as_str(),
            "sweep K=4",
            "sweep K=8"
        ]
    );
    assert_eq!(c[0].x, Some(share));
    assert_eq!((c[1].x, c[2].x), (Some(4.0), Some(8.0)));
    assert_eq!((c[1].sizes.k, c[2].sizes.k), (4, 8));
    // Per-condition rankings first (one per condition), then the fixed one.
    let Test::Rankings(r) = &study.plan.hypotheses[0].test else {
        panic!("rankings")
    };
    assert_eq!(r.len(), 4);
    assert_eq!(r[1].first_name, "sweep K=4, a");
    assert_eq!(
        r[1].second.1[0],
        Entity::Arm(study_arm(&study, "tied/nsvq"))
    );
    assert_eq!(r[3].first.0, names[0]);
    assert_eq!(r[3].second_name, "sweep K=8");
    assert_eq!(r[3].first.1[0], Entity::Converged);
}

fn study_arm(study: &UserStudy, name: &str) -> Arm {
    let i = study.arm_names.iter().position(|n| n == name).unwrap();
    study.plan.conditions[0].arms[i]
}

#[test]
fn bad_conditions_and_rankings_are_refused_with_their_line() {
    let cases = [
        ("noise_share = 0.1", "noise_share = 1.5", "noise_share = 1.5: a number in (0, 1)"),
        ("dim = 16", "dim = 1", "dim = 1: at least the generator's rank"),
        ("k = { full", "id = \"s\"\nk = { full", "a list of K has no id"),
        (
            "\"converged\", \"tied/ste\"] }\nsecond = { name",
            "\"converged\"] }\nsecond = { name",
            "the same number of entities",
        ),
        ("condition = \"sweep K=8\"", "condition = \"sweep K=99\"", "no condition is named \"sweep K=99\""),
        ("second = { condition = \"sweep K=8\", ", "second = { ", "both name a condition, or neither"),
        ("\"tied/nsvq\", \"tied/ste\"]", "\"tied/rotation\", \"tied/ste\"]", "no arm is named \"tied/rotation\""),
        (
            "data = { generator = [300, 50, 50] }\nk = { full = [4, 8, 16], quick = [4, 8] }\nm = 2\nbatch = 64\nsteps = 10\nx = \"k\"",
            "data = { set = \"digits\" }\nk = { full = [4, 8, 16], quick = [4, 8] }\nm = 2\nbatch = 64\nsteps = 10\nx = \"noise-share\"",
            "goes with the generator",
        ),
    ];
    for (from, to, message) in cases {
        assert!(GENERATOR_STUDY.contains(from), "{from}");
        let text = GENERATOR_STUDY.replacen(from, to, 1);
        let Err(err) = planned(&text) else {
            panic!("{to}: accepted")
        };
        let err = err.to_string();
        assert!(err.contains(message), "{to}: {err}");
        assert!(!err.contains("line 1:"), "{to}: {err}");
    }
    // {noise} on a built-in set, noise_share without the generator.
    let on_a_set = GENERATOR_STUDY.replacen(
        "data = { generator = [300, 50, 50], noise_share = 0.1, dim = 16 }",
        "data = { set = \"digits\", noise_share = 0.1 }",
        1,
    );
    let Err(err) = planned(&on_a_set) else {
        panic!("{{noise}} on a set: accepted")
    };
    assert!(
        err.to_string().contains("stand for the generator's noise"),
        "{err}"
    );
    let plain_name = on_a_set
        .replacen(
            "name = \"noise {noise} % (σ = {sigma}) K={k}\"",
            "name = \"plain\"",
            1,
        )
        .replacen("x = \"noise-share\"", "x = \"k\"", 1);
    let Err(err) = planned(&plain_name) else {
        panic!("noise_share on a set: accepted")
    };
    assert!(
        err.to_string().contains("noise_share goes with generator"),
        "{err}"
    );
    // Gains and rankings in one hypothesis.
    let both = GENERATOR_STUDY.replacen(
        "combine = \"any\"",
        "combine = \"any\"\ncandidate = \"tied/ste\"\nreference = \"converged\"",
        1,
    );
    let err = planned(&both).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("one kind per hypothesis"), "{err}");
}
