//! Tests of the claim type and its rules (`super`), on inputs whose
//! verdict is known.
use super::*;
use crate::study::rules::{pair_order, paired_gain, PairOrder};

const DELTA: f64 = 0.5;

fn est(values: &[f64]) -> Estimate {
    Estimate::of(values).unwrap()
}

fn statement(combine: Combine) -> Statement {
    Statement {
        id: "T".into(),
        text: "a test".into(),
        rule: "δ = 0.5".into(),
        combine,
        same_effect: true,
        note: String::new(),
    }
}

/// The verdict of one "at least δ" part on `gains`.
fn gain_verdict(gains: &[f64]) -> Verdict {
    let part = Part::interval("gain", Rule::AtLeast { delta: DELTA }, gains.to_vec());
    statement(Combine::All)
        .judge(vec![part], Verdict::label)
        .verdict
}

#[test]
fn gains_are_judged_against_delta() {
    // A clear 2 % gain, a clear 0 (equivalent to none), a straddle, a loss.
    let clear: Vec<f64> = (0..8).map(|i| 2.0 + 0.01 * i as f64).collect();
    assert_eq!(gain_verdict(&clear), Verdict::Reproduced);
    let none: Vec<f64> = (0..8).map(|i| 0.01 * (i as f64 - 3.5)).collect();
    assert_eq!(gain_verdict(&none), Verdict::NotReproduced);
    assert_eq!(
        gain_verdict(&[0.0, 1.0, 0.2, 0.9, 0.5]),
        Verdict::NotSignificant
    );
    let loss: Vec<f64> = (0..5).map(|i| -3.0 - 0.1 * i as f64).collect();
    assert_eq!(gain_verdict(&loss), Verdict::NotReproduced);
    // One seed is not a verdict.
    assert_eq!(gain_verdict(&[5.0]), Verdict::NotRun);
    // Paired gains: the reference 10, the candidate 9.8 → 2 %.
    let g = paired_gain(
        &[Some(9.8), None, Some(9.8)],
        &[Some(10.0), Some(10.0), Some(10.0)],
    );
    assert_eq!(g.len(), 2);
    assert!((g[0] - 2.0).abs() < 1e-12);
}

/// Eight seeds around `mean`, spread ±0.035.
fn around(mean: f64) -> Vec<f64> {
    (0..8).map(|i| mean + 0.01 * (i as f64 - 3.5)).collect()
}

#[test]
fn a_gain_has_three_outcomes() {
    // 0: no gain; δ/2: a real gain below the margin; 2δ: at least δ.
    assert_eq!(gain_verdict(&around(0.0)), Verdict::NotReproduced);
    assert_eq!(gain_verdict(&around(DELTA / 2.0)), Verdict::BelowMargin);
    assert_eq!(gain_verdict(&around(2.0 * DELTA)), Verdict::Reproduced);
    // A loss is filed with no gain, never with the small real gain.
    assert_eq!(gain_verdict(&around(-DELTA)), Verdict::NotReproduced);
    assert_eq!(Verdict::BelowMargin.label(), "real but below δ");
    // "All" parts: one part below the margin makes the claim so; "any":
    // one part at least δ is enough.
    let parts = || {
        vec![
            Part::interval("big", Rule::AtLeast { delta: DELTA }, around(2.0 * DELTA)),
            Part::interval("small", Rule::AtLeast { delta: DELTA }, around(DELTA / 2.0)),
        ]
    };
    let all = statement(Combine::All).judge(parts(), Verdict::label);
    assert_eq!(all.verdict, Verdict::BelowMargin);
    let any = statement(Combine::Any).judge(parts(), Verdict::label);
    assert_eq!(any.verdict, Verdict::Reproduced);
}

#[test]
fn boundaries_rounding_and_combinations() {
    let e = |lo: f64, hi: f64| Estimate {
        n: 5,
        mean: (lo + hi) / 2.0,
        std: 0.1,
        ci_low: lo,
        ci_high: hi,
        level: 0.95,
    };
    let at_least = Rule::AtLeast { delta: DELTA };
    // (0, δ]: neither strictly below δ nor reaching 0.
    assert_eq!(at_least.judge(&e(0.1, DELTA)), Verdict::NotSignificant);
    // Rounding is not a sign.
    assert_eq!(at_least.judge(&e(1e-13, 2e-13)), Verdict::NotReproduced);
    use Verdict::*;
    // All: a part below δ beside one not shown refutes "all ≥ δ".
    assert_eq!(
        Verdict::combine([BelowMargin, NotSignificant]),
        NotReproduced
    );
    assert_eq!(Verdict::combine([BelowMargin, Reproduced]), BelowMargin);
    assert_eq!(Verdict::combine([]), NotRun);
    // Any: a part not run could still hold.
    assert_eq!(combine(Combine::Any, &[NotReproduced, NotRun]), NotRun);
    assert_eq!(
        combine(Combine::Any, &[NotReproduced, BelowMargin]),
        BelowMargin
    );
    // Non-finite values are left out and said so.
    let mut values = around(2.0 * DELTA);
    values.push(f64::NAN);
    let claim =
        statement(Combine::All).judge(vec![Part::interval("x", at_least, values)], Verdict::label);
    assert_eq!(claim.parts[0].estimate.unwrap().n, 8);
    assert!(claim.parts[0].flags[0].contains("1 non-finite value(s) of 9"));
    assert_eq!(claim.verdict, Reproduced);
}

#[test]
fn opposite_parts_make_a_mixed_verdict_naming_both_sides() {
    for combine in [Combine::All, Combine::Any] {
        let claim = statement(combine).judge(
            vec![
                Part::interval("up", Rule::AtLeast { delta: DELTA }, around(3.0 * DELTA)),
                Part::interval("down", Rule::AtLeast { delta: DELTA }, around(-3.0 * DELTA)),
                Part::interval("flat", Rule::AtLeast { delta: DELTA }, around(0.0)),
            ],
            Verdict::label,
        );
        assert_eq!(claim.verdict, Verdict::Mixed, "{combine:?}");
        let sides = claim.sides.expect("a mixed verdict names its sides");
        assert_eq!(sides.positive, ["up"]);
        assert_eq!(sides.negative, ["down"]);
    }
    // Parts measuring different quantities: a negative part refutes.
    let different = Statement {
        same_effect: false,
        ..statement(Combine::All)
    }
    .judge(
        vec![
            Part::interval("up", Rule::AtLeast { delta: DELTA }, around(3.0 * DELTA)),
            Part::interval("down", Rule::AtLeast { delta: DELTA }, around(-3.0 * DELTA)),
        ],
        Verdict::label,
    );
    assert_eq!(
        (different.verdict, different.sides),
        (Verdict::NotReproduced, None)
    );
    // Same direction everywhere: not mixed.
    let claim = statement(Combine::Any).judge(
        vec![
            Part::interval("up", Rule::AtLeast { delta: DELTA }, around(3.0 * DELTA)),
            Part::interval("flat", Rule::AtLeast { delta: DELTA }, around(0.0)),
        ],
        Verdict::label,
    );
    assert_eq!((claim.verdict, claim.sides), (Verdict::Reproduced, None));
}

#[test]
fn identical_parts_are_counted_once_before_the_correction() {
    let values = around(2.0 * DELTA);
    let rule = Rule::AtLeast { delta: DELTA };
    let claim = statement(Combine::All).judge(
        vec![
            Part::interval("a", rule, values.clone()),
            Part::interval(
                "b, the same numbers to rounding",
                rule,
                values.iter().map(|v| v * (1.0 + 1e-13)).collect(),
            ),
            Part::interval("c", rule, around(3.0 * DELTA)),
        ],
        Verdict::label,
    );
    // Two distinct intervals, not three; a real difference is not
    // rounding.
    let differs = statement(Combine::All).judge(
        vec![
            Part::interval("a", rule, values.clone()),
            Part::interval("a + 10⁻⁶", rule, values.iter().map(|v| v + 1e-6).collect()),
        ],
        Verdict::label,
    );
    assert_eq!(differs.parts[1].same_as, None);
    assert_eq!(claim.level, 0.975);
    assert_eq!(claim.parts[1].same_as, Some(0));
    assert_eq!(claim.parts[2].same_as, None);
    assert!(
        claim.error_rate.contains("counted once"),
        "{}",
        claim.error_rate
    );
    // The per-seed values travel with the part.
    assert_eq!(claim.parts[0].values, values);
}

#[test]
fn the_level_seeds_and_error_rate_follow_from_the_parts() {
    let values = |m: f64| (0..6).map(|i| m + 0.01 * i as f64).collect::<Vec<_>>();
    let seeds = |v: f64| -> Vec<Option<f64>> {
        (0..4).map(|i| Some(v * (1.0 + 0.001 * i as f64))).collect()
    };
    // Two intervals: each at 97.5 %.
    let two = statement(Combine::All).judge(
        vec![
            Part::interval("a", Rule::AtLeast { delta: DELTA }, values(2.0)),
            Part::interval("b", Rule::AtMost { max: 3.0 }, values(1.0)),
            Part::Universal {
                what: "c".into(),
                violations: 0,
                runs: 30,
                seeds: 3,
                margin: "lowest 0.99, threshold 0.98".into(),
            },
        ],
        Verdict::label,
    );
    assert_eq!(two.level, 0.975);
    assert_eq!(two.parts[0].estimate.unwrap().level, 0.975);
    assert_eq!(two.verdict, Verdict::Reproduced);
    assert_eq!(two.seeds, 3, "the universal part's 3 seeds are fewest");
    assert!(
        two.error_rate.contains("its 2 distinct intervals"),
        "{}",
        two.error_rate
    );
    assert_eq!(two.parts[1].better_runs, None, "only gain parts count");
    // A ranking of three entities: 3 pairs × 2 settings = 6 intervals.
    let ranking = Part::Ranking {
        what: "r".into(),
        names: ["a", "b", "c"].map(String::from).to_vec(),
        first: vec![seeds(1.0), seeds(2.0), seeds(3.0)],
        second: vec![seeds(1.0), seeds(2.0), seeds(3.0)],
        delta: DELTA,
    };
    let r = statement(Combine::Any).judge(vec![ranking], Verdict::label);
    assert_eq!(r.level, 1.0 - 0.05 / 6.0);
    assert_eq!(r.seeds, 4);
    assert_eq!(
        r.verdict,
        Verdict::NotReproduced,
        "every pair keeps its order"
    );
    // Nothing measured.
    let none =
        statement(Combine::All).judge(vec![Part::Elsewhere { what: "x".into() }], Verdict::label);
    assert_eq!((none.verdict, none.seeds), (Verdict::NotRun, 0));
    assert_eq!(none.error_rate, "none: measured elsewhere");
}

#[test]
fn the_swap_rule_on_known_intervals() {
    let below = est(&[-3.0, -3.1, -2.9, -3.05]);
    let above = est(&[3.0, 3.1, 2.9, 3.05]);
    let near_zero = est(&[0.01, -0.02, 0.0, 0.015]);
    let wide = est(&[-5.0, 5.0, -4.0, 4.0]);
    assert_eq!(pair_order(&below, &above, DELTA), PairOrder::Swaps);
    // Significantly opposite but within the margin: a real swap smaller
    // than δ, not a swap (the rule is symmetric: a swap needs δ as
    // keeping the order does) and not "keeps its order".
    let slightly_below = est(&[-0.2, -0.21, -0.19, -0.2]);
    let slightly_above = est(&[0.2, 0.21, 0.19, 0.2]);
    assert_eq!(
        pair_order(&slightly_below, &slightly_above, DELTA),
        PairOrder::SwapsBelowMargin
    );
    assert_eq!(pair_order(&above, &below, DELTA), PairOrder::Swaps);
    assert_eq!(pair_order(&below, &below, DELTA), PairOrder::Keeps);
    assert_eq!(pair_order(&near_zero, &near_zero, DELTA), PairOrder::Keeps);
    // Ordered in one setting, tied in the other: no swap beyond δ.
    assert_eq!(pair_order(&below, &near_zero, DELTA), PairOrder::Keeps);
    // Too wide to tell.
    assert_eq!(pair_order(&below, &wide, DELTA), PairOrder::Undetermined);
}

#[test]
fn rankings_from_per_seed_values() {
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let seeds = |v: f64| -> Vec<Option<f64>> {
        (0..6).map(|i| Some(v * (1.0 + 0.001 * i as f64))).collect()
    };
    let first = vec![seeds(1.0), seeds(2.0), seeds(3.0)];
    // Same order: not supported.
    let (_, v) = judge_ranking(&names, &first, &first, 0.99, DELTA);
    assert_eq!(v, Verdict::NotReproduced);
    // a and c swap: supported.
    let second = vec![seeds(3.5), seeds(2.0), seeds(3.0)];
    let (pairs, v) = judge_ranking(&names, &first, &second, 0.99, DELTA);
    assert_eq!(v, Verdict::Reproduced);
    assert_eq!(
        pairs.iter().filter(|p| p.order == PairOrder::Swaps).count(),
        2
    );
    // Both settings' differences of a vs c are in % of c's mean in the
    // first setting.
    let (pairs, _) = judge_ranking(&names, &first, &second, 0.99, DELTA);
    let a_vs_c = &pairs[1];
    assert_eq!(a_vs_c.scale.map(|s| (s * 1e6).round() / 1e6), Some(3.0075));
    assert_eq!(a_vs_c.first_values.len(), 6);
    // A real swap smaller than δ: its own outcome, never "keeps".
    let close =
        |v: f64| -> Vec<Option<f64>> { (0..6).map(|i| Some(v + 0.0001 * i as f64)).collect() };
    let near_first = vec![close(1.0), close(1.002)];
    let near_second = vec![close(1.002), close(1.0)];
    let (pairs, v) = judge_ranking(&names[..2], &near_first, &near_second, 0.99, DELTA);
    assert_eq!(pairs[0].order, PairOrder::SwapsBelowMargin);
    assert_eq!(v, Verdict::BelowMargin);
    // No pairs: not run.
    assert_eq!(
        judge_ranking(&names[..1], &first[..1], &first[..1], 0.99, DELTA).1,
        Verdict::NotRun
    );
    // A missing entity: not run.
    let missing = vec![seeds(1.0), vec![None; 6], seeds(3.0)];
    assert_eq!(
        judge_ranking(&names, &first, &missing, 0.99, DELTA).1,
        Verdict::NotRun
    );
}

#[test]
fn any_and_all_combine_as_documented() {
    use Verdict::*;
    assert_eq!(
        combine(Combine::Any, &[NotReproduced, Reproduced]),
        Reproduced
    );
    assert_eq!(
        combine(Combine::Any, &[NotReproduced, NotReproduced]),
        NotReproduced
    );
    assert_eq!(
        combine(Combine::Any, &[NotReproduced, NotSignificant]),
        NotSignificant
    );
    assert_eq!(
        combine(Combine::All, &[NotReproduced, Reproduced]),
        NotReproduced
    );
    assert_eq!(combine(Combine::All, &[Reproduced, Reproduced]), Reproduced);
    assert_eq!(combine(Combine::Any, &[]), NotRun);
}

#[test]
fn a_correlation_part_is_judged_on_its_fisher_interval() {
    let part = |first: Vec<f64>, second: Vec<f64>| Part::Correlation {
        what: "ρ".into(),
        rule: Rule::AtLeast { delta: 0.3 },
        first,
        second,
        flags: vec!["why".into()],
    };
    let judge = |p: Part| statement(Combine::All).judge(vec![p], Verdict::label);
    // Twelve pairs in the same order: ρ = 1, its interval above 0.3.
    let up: Vec<f64> = (0..12).map(f64::from).collect();
    let c = judge(part(up.clone(), up.iter().map(|v| v * v).collect()));
    assert_eq!(c.verdict, Verdict::Reproduced);
    assert_eq!(c.parts[0].estimate.unwrap().n, 12);
    assert_eq!(c.parts[0].flags, ["why"]);
    // Reversed: ρ = −1, wholly below 0.
    let c = judge(part(up.clone(), up.iter().map(|v| -v).collect()));
    assert_eq!(c.verdict, Verdict::NotReproduced);
    // Ranks 3, 1, 5, 2, 4 against 1 … 5: ρ = 1 − 6·14/120 = 0.3, too few
    // to tell.
    let c = judge(part(
        vec![1.0, 2.0, 3.0, 4.0, 5.0],
        vec![3.0, 1.0, 5.0, 2.0, 4.0],
    ));
    assert_eq!(c.verdict, Verdict::NotSignificant);
    assert!((c.parts[0].estimate.unwrap().mean - 0.3).abs() < 1e-12);
    // Four pairs: not run (no interval, none counted in the correction).
    let c = judge(part(vec![1.0, 2.0, 3.0, 4.0], vec![1.0, 2.0, 3.0, 4.0]));
    assert_eq!(c.verdict, Verdict::NotRun);
}
