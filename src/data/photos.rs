//! Natural photographs cut into 32 × 32 RGB crops: the `photos` set.
//!
//! `data-setup.sh` installs public-domain and CC0 photographs from the
//! scikit-image wheel into `photos/train/` (astronaut, coffee,
//! hubble_deep_field, rocket) and `photos/eval/` (chelsea), with their
//! provenance in `photos/LICENSE`. vqlab decodes them (PNG or JPEG, the
//! `image` crate) and cuts the crops itself, by a fixed rule:
//!
//! * the photographs of a folder in file-name order, each as 8-bit RGB;
//! * crop i comes from photograph i mod n (an equal share each), its top-left
//!   corner uniform over the positions where a whole 32 × 32 crop fits, drawn
//!   from the seeded stream [`Stream::Crops`] (seed 0 for training crops,
//!   seed 1 for evaluation crops);
//! * a crop is one row of 3·32·32 = 3,072 values in [0, 1] (the 8-bit value
//!   / 255), channel by channel, row by row (PyTorch's (C, H, W)).
//!
//! [`TRAIN_CROPS`] crops come from the training photographs and
//! [`EVAL_CROPS`] from the held-out ones, so no crop of an evaluation
//! photograph is ever trained on. A folder may ask for other counts in
//! `photos/crops.json` (`{"train": N, "eval": M}`; the test slice in
//! `tests/data` does, to stay small).
use std::path::{Path, PathBuf};

use ndarray::Array2;
use rand::Rng;

use super::ImageShape;
use crate::error::{Result, VqError};
use crate::numerics::rng::{rng_for, Stream};

/// Side of a crop in pixels.
pub const CROP: usize = 32;
/// Crops cut from the training photographs.
pub const TRAIN_CROPS: usize = 20_000;
/// Crops cut from the held-out photographs.
pub const EVAL_CROPS: usize = 2_000;

/// The shape of one crop.
pub const CROP_SHAPE: ImageShape = ImageShape {
    channels: 3,
    height: CROP,
    width: CROP,
};

/// One decoded photograph: 8-bit RGB, row by row.
#[derive(Debug, Clone)]
pub struct Photo {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// R, G, B of every pixel, row by row.
    pub rgb: Vec<u8>,
}

fn data_error(path: &Path, message: impl Into<String>) -> VqError {
    VqError::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The image files (`.png`, `.jpg`, `.jpeg`) of `folder`, by name; an
/// error naming the folder when it is missing or holds none.
pub fn photo_files(folder: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(folder).map_err(|e| {
        data_error(
            folder,
            format!("{e} (run ./data-setup.sh to install the photographs, or give --data-dir)"),
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            matches!(ext.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(data_error(
            folder,
            "no .png or .jpg photograph in the folder",
        ));
    }
    Ok(files)
}

/// Decodes the photograph at `path` as 8-bit RGB; an error naming the file
/// when it cannot be read, is not a PNG or JPEG image, or is smaller than a
/// crop.
pub fn decode(path: &Path) -> Result<Photo> {
    let image = image::ImageReader::open(path)
        .map_err(|e| data_error(path, e.to_string()))?
        .with_guessed_format()
        .map_err(|e| data_error(path, e.to_string()))?
        .decode()
        .map_err(|e| data_error(path, format!("not a decodable PNG or JPEG image: {e}")))?
        .to_rgb8();
    let (width, height) = (image.width() as usize, image.height() as usize);
    if width < CROP || height < CROP {
        return Err(data_error(
            path,
            format!("{width} × {height} pixels, smaller than a {CROP} × {CROP} crop"),
        ));
    }
    Ok(Photo {
        width,
        height,
        rgb: image.into_raw(),
    })
}

/// `count` crops of `photos` by the module's rule with `seed`, one per row.
pub fn cut(photos: &[Photo], count: usize, seed: u64) -> Array2<f64> {
    assert!(!photos.is_empty(), "at least one photograph");
    let mut rng = rng_for(seed, Stream::Crops);
    let plane = CROP * CROP;
    let mut out = Array2::zeros((count, 3 * plane));
    for (i, mut row) in out.outer_iter_mut().enumerate() {
        let photo = &photos[i % photos.len()];
        let top = rng.gen_range(0..=photo.height - CROP);
        let left = rng.gen_range(0..=photo.width - CROP);
        for y in 0..CROP {
            for x in 0..CROP {
                let pixel = 3 * ((top + y) * photo.width + left + x);
                for c in 0..3 {
                    row[c * plane + y * CROP + x] = f64::from(photo.rgb[pixel + c]) / 255.0;
                }
            }
        }
    }
    out
}

/// How many training and evaluation crops the photographs under
/// `dir/photos` give: [`TRAIN_CROPS`] and [`EVAL_CROPS`], or the counts of
/// its `crops.json`.
pub fn counts(dir: &Path) -> Result<(usize, usize)> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Counts {
        train: usize,
        eval: usize,
    }
    let path = dir.join("photos").join("crops.json");
    if !path.exists() {
        return Ok((TRAIN_CROPS, EVAL_CROPS));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| data_error(&path, e.to_string()))?;
    let counts: Counts = serde_json::from_str(&text)
        .map_err(|e| data_error(&path, format!("not {{\"train\": N, \"eval\": M}}: {e}")))?;
    if counts.train == 0 || counts.eval == 0 {
        return Err(data_error(&path, "both counts must be at least 1"));
    }
    Ok((counts.train, counts.eval))
}

/// The training crops followed by the evaluation crops of the photographs
/// under `dir/photos` (`train/` and `eval/`), as many as [`counts`] says.
pub fn load(dir: &Path) -> Result<Array2<f64>> {
    let (n_train, n_eval) = counts(dir)?;
    let folder = dir.join("photos");
    let read = |name: &str| -> Result<Vec<Photo>> {
        photo_files(&folder.join(name))?
            .iter()
            .map(|p| decode(p))
            .collect()
    };
    let (train, eval) = (read("train")?, read("eval")?);
    let mut all = cut(&train, n_train, 0);
    all.append(ndarray::Axis(0), cut(&eval, n_eval, 1).view())
        .expect("same width");
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_follow_the_rule() {
        // A 40 × 34 photograph whose red value is its x, green its y.
        let (width, height) = (40, 34);
        let mut rgb = Vec::new();
        for y in 0..height {
            for x in 0..width {
                rgb.extend([x as u8, y as u8, 7]);
            }
        }
        let photo = Photo { width, height, rgb };
        let crops = cut(std::slice::from_ref(&photo), 50, 0);
        assert_eq!(crops.dim(), (50, 3072));
        let plane = CROP * CROP;
        for row in crops.outer_iter() {
            let (left, top) = (row[0] * 255.0, row[plane] * 255.0);
            assert!(left.round() <= 8.0 && top.round() <= 2.0);
            // Pixel (y, x) of the crop is pixel (top + y, left + x).
            assert_eq!((row[5 * CROP + 9] * 255.0).round(), left.round() + 9.0);
            assert_eq!(
                (row[plane + 5 * CROP + 9] * 255.0).round(),
                top.round() + 5.0
            );
            assert!((row[2 * plane] - 7.0 / 255.0).abs() < 1e-15);
        }
        // Seeded: the same crops again, other ones with another seed.
        assert_eq!(cut(std::slice::from_ref(&photo), 50, 0), crops);
        assert_ne!(cut(std::slice::from_ref(&photo), 50, 1), crops);
    }

    #[test]
    fn a_missing_folder_and_a_bad_file_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("photos") && err.contains("data-setup"),
            "{err}"
        );
        let train = dir.path().join("photos/train");
        std::fs::create_dir_all(&train).unwrap();
        std::fs::write(train.join("broken.png"), b"not a picture").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("broken.png"), "{err}");
    }
}
