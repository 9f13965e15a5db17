//! Tests of the parent module.
use super::*;

#[test]
fn the_noise_levels_reach_half_the_energy() {
    let report = SyntheticSpec::report_default();
    // The calibrated generator's noise is a small share.
    assert!(noise_share(&report) < 0.02, "{}", noise_share(&report));
    for share in [0.1, 0.25, 0.5] {
        let spec = SyntheticSpec {
            noise_sigma: sigma_for_noise_share(&report, share),
            ..report.clone()
        };
        assert!((noise_share(&spec) - share).abs() < 1e-12);
    }
}

#[test]
fn sgd_rates_scale_with_the_energy_and_adam_rates_do_not() {
    let report = SyntheticSpec::report_default();
    let data = DataChoice::Synthetic {
        spec: report,
        n_fit: 10,
        n_val: 1,
        n_eval: 1,
    };
    let sgd = Arm::new(ModelKind::Tied, Estimator::Ste);
    assert_eq!(base_rates(&sgd, &data), REPORT_RATES);
    let real = DataChoice::Real {
        set: crate::data::RealSet::Mnist,
        rows: 100,
        content: 0,
        n_val: 10,
        n_eval: 10,
    };
    let (w, e) = base_rates(&sgd, &real);
    let ratio = w / REPORT_RATES.0;
    assert!((ratio - energy(&data) / 784.0).abs() < 1e-12);
    assert!((e / REPORT_RATES.1 - ratio).abs() < 1e-12);
    let adam = sgd.with_optimizer(OptimizerKind::Adam);
    assert_eq!(base_rates(&adam, &real), ADAM_RATES);
    // The conv model's 4 × 4 stride-2 first convolution: a quarter.
    let conv = Arm::new(ModelKind::Conv, Estimator::Ste);
    let (cw, ce) = base_rates(&conv, &real);
    assert!((cw * 4.0 / w - 1.0).abs() < 1e-12 && (ce * 4.0 / e - 1.0).abs() < 1e-12);
    let conv_adam = conv.with_optimizer(OptimizerKind::Adam);
    assert_eq!(base_rates(&conv_adam, &real), ADAM_RATES);
}
