use super::*;
use crate::model::estimator::Draws;
use crate::model::{Backend, Estimator, ImageShape, MethodSpec};
use crate::numerics::linalg::gaussian_matrix;
use crate::numerics::rng::{rng_for, Stream};

fn spec(channels: usize, height: usize, width: usize) -> ModelSpec {
    ModelSpec::conv(
        ImageShape {
            channels,
            height,
            width,
        },
        3,
    )
}

fn params(spec: ModelSpec, m: usize, k: usize, seed: u64) -> Params {
    let mut rng = rng_for(seed, Stream::Init);
    Params {
        model: spec,
        weights: init_network(&spec, m, &mut rng),
        codebook: gaussian_matrix(k, m, &mut rng),
    }
}

#[test]
fn layout_names_shapes_and_latent_grid() {
    let spec = spec(3, 8, 12);
    let names: Vec<_> = spec.layout(3 * 8 * 12, 5).iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["C1", "c1", "C2", "c2", "Cz", "cz", "Dz", "dz", "D1", "d1", "D2", "d2"]
    );
    let layout = spec.layout(288, 5);
    assert_eq!(layout[0].shape, (3, 3 * 16));
    assert_eq!(layout[4].shape, (5, 3));
    assert_eq!(layout[10].shape, (3, 3 * 16));
    assert_eq!(layout[11].shape, (1, 3));
    assert_eq!(spec.latent_positions(), 2 * 3);
}

#[test]
fn the_tensor_forward_pass_equals_the_manual_one() {
    let spec = spec(2, 8, 4);
    let p = params(spec, 3, 6, 1);
    let mut rng = rng_for(2, Stream::Harness);
    let x = gaussian_matrix(5, 64, &mut rng);
    let z = p.encode(x.view());
    assert_eq!(z.dim(), (5 * 2, 3));
    let w: Vec<Tensor> = p
        .weights
        .iter()
        .map(|a| crate::infra::torch_bridge::to_tensor(a.view(), tch::Device::Cpu))
        .collect();
    let xt = crate::infra::torch_bridge::to_tensor(x.view(), tch::Device::Cpu);
    let zt = Conv.forward(&spec, &w, Side::Encode, &xt);
    let z_torch = crate::infra::torch_bridge::to_array2(&zt).unwrap();
    let err = (&z - &z_torch).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(err < 1e-12, "encoder {err}");
    let x_hat = p.decode(z.view());
    let xt_hat = Conv.forward(&spec, &w, Side::Decode, &zt);
    let x_hat_torch = crate::infra::torch_bridge::to_array2(&xt_hat).unwrap();
    assert_eq!(x_hat.dim(), (5, 64));
    let err = (&x_hat - &x_hat_torch)
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(err < 1e-12, "decoder {err}");
}

#[test]
fn manual_gradients_equal_autograd_for_every_estimator() {
    let spec = spec(1, 8, 8);
    let p = params(spec, 2, 5, 3);
    let mut rng = rng_for(4, Stream::Harness);
    let x = gaussian_matrix(6, 64, &mut rng);
    let weights = LossWeights {
        alpha: 1.0,
        beta: 0.25,
    };
    for estimator in Estimator::ALL {
        let mut draws = Draws::none();
        draws.draw(estimator, (p.latent_rows(6), 2, 5), 0.7, &mut rng);
        let g: Vec<_> = Backend::ALL
            .map(|b| {
                MethodSpec::new(spec, estimator, b)
                    .build(weights)
                    .gradients(&p, x.view(), &draws)
                    .unwrap()
            })
            .into();
        let rel = |a: &Array2<f64>, b: &Array2<f64>| {
            let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
            (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs())) / scale
        };
        for (i, (a, b)) in g[0].grad_weights.iter().zip(&g[1].grad_weights).enumerate() {
            assert!(
                rel(a, b) < 1e-12,
                "{} param {i}: {}",
                estimator.name(),
                rel(a, b)
            );
        }
        assert!(
            rel(&g[0].grad_e, &g[1].grad_e) < 1e-12,
            "{}",
            estimator.name()
        );
        assert!((g[0].loss.total - g[1].loss.total).abs() < 1e-12 * g[1].loss.total);
        assert_eq!(g[0].assignments, g[1].assignments);
    }
}

#[test]
fn bad_shapes_are_refused_by_field() {
    let mut s = spec(1, 28, 28);
    assert!(check_spec(&s, 784).is_ok());
    let field = |s: &ModelSpec, dim| match check_spec(s, dim) {
        Err(VqError::InvalidConfig { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(&s, 783), "image_shape");
    s.layers.depth = 3;
    assert_eq!(field(&s, 784), "image_shape"); // 28 / 8
    s.layers.depth = 2;
    s.layers.kernel = 3;
    assert_eq!(field(&s, 784), "kernel");
    s.layers.kernel = 4;
    s.hidden = 0;
    assert_eq!(field(&s, 784), "channels");
    s.image = None;
    assert_eq!(field(&s, 784), "image_shape");
}
