//! k-means: k-means++ seeding (Arthur & Vassilvitskii 2007) and Lloyd
//! iterations. An empty cluster keeps its previous centre.
use ndarray::{Array2, ArrayView2};
use rand::distributions::{Distribution, WeightedIndex};
use rand::Rng;
use serde::Serialize;

use crate::error::{invalid, Result};
use crate::numerics::quantize::assign_nearest;

/// Hyperparameters of k-means, unchecked. Turn into [`KMeansParams`] with
/// [`KMeansConfig::check`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KMeansConfig {
    /// Number of centres K.
    pub k: usize,
    /// Lloyd iterations after seeding (the report uses 20).
    pub iters: usize,
}

/// Validated k-means hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KMeansParams(KMeansConfig);

impl KMeansConfig {
    /// Validates against a data set of `n_points` points.
    pub fn check(self, n_points: usize) -> Result<KMeansParams> {
        if self.k == 0 {
            return Err(invalid("k", self.k, "at least 1"));
        }
        if self.k > n_points {
            return Err(invalid(
                "k",
                self.k,
                format!("at most the number of training points ({n_points})"),
            ));
        }
        if self.iters > 100_000 {
            return Err(invalid("kmeans_iters", self.iters, "at most 100000"));
        }
        Ok(KMeansParams(self))
    }
}

/// A fitted k-means model.
#[derive(Debug, Clone)]
pub struct KMeansFit {
    /// K × m centres.
    pub centres: Array2<f64>,
    /// Mean squared distance to the nearest centre: entry 0 after seeding,
    /// entry t after Lloyd iteration t.
    pub objective: Vec<f64>,
    /// Lloyd iterations run (fewer than asked when the assignment stopped
    /// changing, after which further iterations change nothing).
    pub iterations: usize,
}

impl KMeansParams {
    /// The number of centres.
    pub fn k(&self) -> usize {
        self.0.k
    }

    /// k-means++ seeding then Lloyd iterations on the rows of `z`.
    pub fn fit<R: Rng + ?Sized>(&self, z: ArrayView2<f64>, rng: &mut R) -> KMeansFit {
        let centres = kmeans_plus_plus(z, self.0.k, rng);
        lloyd(z, centres, self.0.iters)
    }
}

/// k-means++ seeding: the first centre uniformly among the points, each next
/// one with probability proportional to the squared distance to the nearest
/// centre chosen so far. Centres are distinct whenever the data have at least
/// K distinct points.
pub fn kmeans_plus_plus<R: Rng + ?Sized>(z: ArrayView2<f64>, k: usize, rng: &mut R) -> Array2<f64> {
    let (n, m) = z.dim();
    assert!(k >= 1 && k <= n, "k-means++ needs 1 ≤ K ≤ N");
    let mut centres = Array2::zeros((k, m));
    let first = rng.gen_range(0..n);
    centres.row_mut(0).assign(&z.row(first));
    let mut nearest: Vec<f64> = z
        .outer_iter()
        .map(|p| {
            sq_dist(
                p.as_slice_memory_order(),
                centres.row(0).as_slice_memory_order(),
            )
        })
        .collect();
    for c in 1..k {
        let chosen = match WeightedIndex::new(&nearest) {
            Ok(dist) => dist.sample(rng),
            // Every point coincides with a chosen centre: no distinct point left.
            Err(_) => rng.gen_range(0..n),
        };
        centres.row_mut(c).assign(&z.row(chosen));
        let centre = centres.row(c).to_owned();
        for (d, p) in nearest.iter_mut().zip(z.outer_iter()) {
            let dist = sq_dist(p.as_slice_memory_order(), centre.as_slice_memory_order());
            if dist < *d {
                *d = dist;
            }
        }
    }
    centres
}

/// How k-means places its first centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Seeding {
    /// [`kmeans_plus_plus`].
    KMeansPlusPlus,
    /// K distinct points drawn uniformly (Forgy's seeding).
    RandomPoints,
}

impl Seeding {
    /// `k-means++` or `random points`.
    pub fn label(self) -> &'static str {
        match self {
            Seeding::KMeansPlusPlus => "k-means++",
            Seeding::RandomPoints => "random points",
        }
    }

    /// K starting centres for the rows of `z`.
    pub fn seed<R: Rng + ?Sized>(self, z: ArrayView2<f64>, k: usize, rng: &mut R) -> Array2<f64> {
        match self {
            Seeding::KMeansPlusPlus => kmeans_plus_plus(z, k, rng),
            Seeding::RandomPoints => {
                let (n, m) = z.dim();
                assert!(k >= 1 && k <= n, "random seeding needs 1 ≤ K ≤ N");
                let mut centres = Array2::zeros((k, m));
                for (c, i) in rand::seq::index::sample(rng, n, k).into_iter().enumerate() {
                    centres.row_mut(c).assign(&z.row(i));
                }
                centres
            }
        }
    }
}

/// `restarts` independent k-means runs (seeding, then up to `iters` Lloyd
/// iterations), in the order drawn from `rng`; the first draws exactly what
/// a single run draws.
pub fn restarts<'a, R: Rng + ?Sized>(
    z: ArrayView2<'a, f64>,
    k: usize,
    iters: usize,
    seeding: Seeding,
    restarts: usize,
    rng: &'a mut R,
) -> impl Iterator<Item = KMeansFit> + 'a {
    (0..restarts.max(1)).map(move |_| lloyd(z, seeding.seed(z, k, rng), iters))
}

impl KMeansFit {
    /// The objective after the last iteration.
    pub fn final_objective(&self) -> f64 {
        *self
            .objective
            .last()
            .expect("the objective after seeding is always there")
    }
}

/// The best of [`restarts`]: the lowest final objective on `z` (never on
/// held-out data), the earliest on ties.
pub fn best_of<'a, R: Rng + ?Sized>(
    z: ArrayView2<'a, f64>,
    k: usize,
    iters: usize,
    seeding: Seeding,
    n_restarts: usize,
    rng: &'a mut R,
) -> KMeansFit {
    restarts(z, k, iters, seeding, n_restarts, rng)
        .reduce(|best, fit| {
            if fit.final_objective() < best.final_objective() {
                fit
            } else {
                best
            }
        })
        .expect("at least one restart")
}

fn sq_dist(a: Option<&[f64]>, b: Option<&[f64]>) -> f64 {
    let (a, b) = (a.expect("contiguous row"), b.expect("contiguous row"));
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Lloyd iterations from `centres`: assign every point to its nearest centre,
/// move each centre to the mean of its points (an empty cluster keeps its
/// centre). Stops early once the assignment no longer changes.
pub fn lloyd(z: ArrayView2<f64>, mut centres: Array2<f64>, iters: usize) -> KMeansFit {
    let (n, m) = z.dim();
    let k = centres.nrows();
    let mut assignments = vec![usize::MAX; n];
    let mut next = vec![0usize; n];
    let mut objective = vec![assign_nearest(z, centres.view(), &mut assignments) / n as f64];
    let mut iterations = 0;
    for _ in 0..iters {
        let mut sums = Array2::<f64>::zeros((k, m));
        let mut counts = vec![0usize; k];
        for (p, &a) in z.outer_iter().zip(&assignments) {
            let mut row = sums.row_mut(a);
            row += &p;
            counts[a] += 1;
        }
        for (c, (mut centre, sum)) in centres.outer_iter_mut().zip(sums.outer_iter()).enumerate() {
            if counts[c] > 0 {
                centre.assign(&(&sum / counts[c] as f64));
            }
        }
        iterations += 1;
        objective.push(assign_nearest(z, centres.view(), &mut next) / n as f64);
        let changed = next != assignments;
        std::mem::swap(&mut assignments, &mut next);
        if !changed {
            break;
        }
    }
    KMeansFit {
        centres,
        objective,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::linalg::gaussian_matrix;
    use crate::numerics::rng::{rng_for, Stream};

    #[test]
    fn restarts_never_do_worse_and_random_seeding_picks_data_points() {
        let mut rng = rng_for(5, Stream::Init);
        let z = gaussian_matrix(3_000, 2, &mut rng);
        for seeding in [Seeding::KMeansPlusPlus, Seeding::RandomPoints] {
            let one = best_of(z.view(), 12, 30, seeding, 1, &mut rng_for(6, Stream::Init));
            let single = lloyd(
                z.view(),
                seeding.seed(z.view(), 12, &mut rng_for(6, Stream::Init)),
                30,
            );
            assert_eq!(one.centres, single.centres, "one restart = one run");
            let ten = best_of(z.view(), 12, 30, seeding, 10, &mut rng_for(6, Stream::Init));
            assert!(ten.objective.last() <= one.objective.last());
        }
        let seeds = Seeding::RandomPoints.seed(z.view(), 5, &mut rng);
        for c in seeds.outer_iter() {
            assert!(z.outer_iter().any(|p| p == c));
        }
    }

    #[test]
    fn lloyd_objective_never_increases() {
        let mut rng = rng_for(3, Stream::Init);
        let z = gaussian_matrix(2_000, 3, &mut rng);
        let params = KMeansConfig { k: 16, iters: 50 }.check(2_000).unwrap();
        let fit = params.fit(z.view(), &mut rng);
        assert!(fit.objective.len() >= 3);
        for pair in fit.objective.windows(2) {
            assert!(pair[1] <= pair[0] + 1e-12, "objective rose: {:?}", pair);
        }
        assert!(fit.objective.last().unwrap() < &fit.objective[0]);
    }

    #[test]
    fn kmeans_plus_plus_picks_distinct_centres() {
        let mut rng = rng_for(4, Stream::Init);
        // Many duplicated points: 10 distinct locations, each repeated 50 times.
        let base = gaussian_matrix(10, 2, &mut rng);
        let z = Array2::from_shape_fn((500, 2), |(i, j)| base[[i % 10, j]]);
        let centres = kmeans_plus_plus(z.view(), 10, &mut rng);
        for i in 0..10 {
            for j in 0..i {
                assert_ne!(
                    centres.row(i),
                    centres.row(j),
                    "centres {i} and {j} coincide"
                );
            }
        }
    }

    #[test]
    fn empty_cluster_keeps_its_centre() {
        let z = ndarray::array![[0.0], [0.1], [1.0], [1.1]];
        let centres = ndarray::array![[0.0], [1.0], [100.0]];
        let fit = lloyd(z.view(), centres, 5);
        assert_eq!(fit.centres[[2, 0]], 100.0);
        assert!((fit.centres[[0, 0]] - 0.05).abs() < 1e-15);
    }

    #[test]
    fn bad_k_is_refused() {
        assert!(KMeansConfig { k: 0, iters: 20 }
            .check(10)
            .unwrap_err()
            .to_string()
            .contains("k = 0"));
        assert!(KMeansConfig { k: 11, iters: 20 }.check(10).is_err());
    }
}
