//! Pixel-scale image patches: a generated stand-in for natural-image patches
//! (integers 0–255, most of the energy in the mean brightness), for checking
//! that defaults chosen for unit-scale data also work on pixel units.
//!
//! Each s × s patch is a brightness b ~ U(30, 220), a plane of slope
//! (g_x, g_y) ~ N(0, 8²) per pixel each way, and white texture N(0, 6²), rounded
//! and clipped to 0–255. The brightness direction (all ones) then carries
//! about 80 % of the energy, as in natural 8 × 8 patches.
use ndarray::Array2;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::numerics::rng::{rng_for, Stream};

/// `rows` patches of `side` × `side` pixels (one per row, row-major), drawn
/// from `seed`'s data stream.
///
/// ```
/// let x = vqlab::data::patches::pixel_patches(100, 8, 0);
/// assert_eq!(x.dim(), (100, 64));
/// assert!(x.iter().all(|&v| (0.0..=255.0).contains(&v) && v.fract() == 0.0));
/// ```
pub fn pixel_patches(rows: usize, side: usize, seed: u64) -> Array2<f64> {
    let mut rng = rng_for(seed, Stream::TrainData);
    let slope = Normal::new(0.0, 8.0).expect("a valid normal");
    let texture = Normal::new(0.0, 6.0).expect("a valid normal");
    let centre = (side as f64 - 1.0) / 2.0;
    let mut x = Array2::zeros((rows, side * side));
    for mut row in x.outer_iter_mut() {
        let brightness = rng.gen_range(30.0..220.0);
        let (gx, gy): (f64, f64) = (slope.sample(&mut rng), slope.sample(&mut rng));
        for i in 0..side {
            for j in 0..side {
                let v = brightness
                    + gx * (j as f64 - centre)
                    + gy * (i as f64 - centre)
                    + texture.sample(&mut rng);
                row[i * side + j] = v.round().clamp(0.0, 255.0);
            }
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brightness_direction_carries_most_of_the_energy() {
        let x = pixel_patches(4000, 8, 3);
        let mean = x.mean_axis(ndarray::Axis(0)).unwrap();
        let centred = &x - &mean;
        let total: f64 = centred.iter().map(|v| v * v).sum();
        // The energy along the all-ones direction: D times each row's mean, squared.
        let d = centred.ncols() as f64;
        let along_ones: f64 = centred.outer_iter().map(|r| r.sum() * r.sum() / d).sum();
        let share = along_ones / total;
        assert!((0.7..0.9).contains(&share), "{share}");
        assert_eq!(pixel_patches(10, 8, 3), pixel_patches(10, 8, 3));
        assert_ne!(pixel_patches(10, 8, 3), pixel_patches(10, 8, 4));
    }
}
