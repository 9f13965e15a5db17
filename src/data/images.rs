//! Image data: the shape that lets the `conv` model read a data row
//! as a picture, and pictures of originals beside reconstructions.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The shape of one image: channels × height × width. A data row holds its
/// pixels channel by channel, row by row (PyTorch's `(C, H, W)` flattened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageShape {
    /// Channels C (1 grey, 3 RGB).
    pub channels: usize,
    /// Height H in pixels.
    pub height: usize,
    /// Width W in pixels.
    pub width: usize,
}

impl ImageShape {
    /// Values per image, C·H·W (the data dimension D).
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether the shape holds no pixel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

impl FromStr for ImageShape {
    type Err = String;

    /// `C,H,W` or `CxHxW`, e.g. `1,28,28` or `3x32x32`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = s.split([',', 'x']).map(str::trim).collect();
        let numbers: Option<Vec<usize>> = parts.iter().map(|p| p.parse().ok()).collect();
        match numbers.as_deref() {
            Some(&[channels, height, width]) if channels * height * width > 0 => Ok(ImageShape {
                channels,
                height,
                width,
            }),
            _ => Err(format!(
                "'{s}' is not an image shape: give channels,height,width, each ≥ 1 (e.g. 1,28,28)"
            )),
        }
    }
}

/// Pairs per row of [`grid_png`].
const PAIRS_PER_ROW: usize = 8;

/// A PNG picture of `originals` beside `reconstructions` (rows of the same
/// `shape`, in the data's units): each original with its reconstruction on
/// its right, eight pairs per row, on white. Both map to grey levels (one
/// channel) or colours (three; other channel counts show the first) by the
/// same linear scale, the originals' smallest value to black and largest to
/// white (clipped); small images are enlarged by a whole factor to about
/// 64 pixels a side.
///
/// ```
/// use ndarray::Array2;
/// use vqlab::data::{grid_png, ImageShape};
/// let shape: ImageShape = "1,8,8".parse().unwrap();
/// let x = Array2::from_shape_fn((3, 64), |(i, j)| (i * j) as f64);
/// let png = grid_png(x.view(), x.view(), shape).unwrap();
/// assert_eq!(&png[1..4], b"PNG");
/// ```
pub fn grid_png(
    originals: ndarray::ArrayView2<f64>,
    reconstructions: ndarray::ArrayView2<f64>,
    shape: ImageShape,
) -> crate::error::Result<Vec<u8>> {
    assert_eq!(
        originals.dim(),
        reconstructions.dim(),
        "one reconstruction per original"
    );
    assert_eq!(originals.ncols(), shape.len(), "rows of the image shape");
    let (h, w) = (shape.height, shape.width);
    let zoom = (64 / h.max(w)).max(1);
    let (cell_h, cell_w) = (h * zoom, w * zoom);
    let (gap, pair_gap) = (2, 8);
    let pair_w = 2 * cell_w + gap;
    let n = originals.nrows();
    let per_row = n.clamp(1, PAIRS_PER_ROW);
    let rows = n.div_ceil(per_row).max(1);
    let width = per_row * pair_w + (per_row + 1) * pair_gap;
    let height = rows * cell_h + (rows + 1) * pair_gap;
    let mut canvas = Canvas::new(width, height, shape, zoom, originals.iter());
    for i in 0..n {
        let (top, left) = (
            pair_gap + (i / per_row) * (cell_h + pair_gap),
            pair_gap + (i % per_row) * (pair_w + pair_gap),
        );
        canvas.paint(top, left, originals.row(i));
        canvas.paint(top, left + cell_w + gap, reconstructions.row(i));
    }
    canvas.png()
}

/// A PNG picture of rows of images, one strip per entry of `strips` (rows
/// of the same `shape`, in the data's units, left to right), the strips
/// stacked top to bottom on white: the first strip (the originals) above
/// what each method makes of them. Grey
/// levels or colours as in [`grid_png`], on the first strip's scale.
///
/// ```
/// use ndarray::Array2;
/// use vqlab::data::{strips_png, ImageShape};
/// let shape: ImageShape = "3,4,4".parse().unwrap();
/// let x = Array2::from_shape_fn((5, 48), |(i, j)| (i + j) as f64);
/// let png = strips_png(&[x.view(), x.view()], shape).unwrap();
/// assert_eq!(&png[1..4], b"PNG");
/// ```
pub fn strips_png(
    strips: &[ndarray::ArrayView2<f64>],
    shape: ImageShape,
) -> crate::error::Result<Vec<u8>> {
    let first = strips.first().expect("at least one strip");
    for strip in strips {
        assert_eq!(strip.ncols(), shape.len(), "rows of the image shape");
    }
    let (h, w) = (shape.height, shape.width);
    let zoom = (64 / h.max(w)).max(1);
    let (cell_h, cell_w, gap) = (h * zoom, w * zoom, 4);
    let n = strips.iter().map(|s| s.nrows()).max().unwrap_or(0).max(1);
    let width = n * cell_w + (n + 1) * gap;
    let height = strips.len() * cell_h + (strips.len() + 1) * gap;
    let mut canvas = Canvas::new(width, height, shape, zoom, first.iter());
    for (s, strip) in strips.iter().enumerate() {
        for (i, row) in strip.outer_iter().enumerate() {
            canvas.paint(gap + s * (cell_h + gap), gap + i * (cell_w + gap), row);
        }
    }
    canvas.png()
}

/// An RGB picture on white that images are painted into, each value
/// mapped to a level by one linear scale.
struct Canvas {
    rgb: Vec<u8>,
    width: usize,
    height: usize,
    shape: ImageShape,
    zoom: usize,
    lo: f64,
    span: f64,
}

impl Canvas {
    /// A white canvas whose scale maps the smallest of `values` to black
    /// and the largest to white.
    fn new<'a>(
        width: usize,
        height: usize,
        shape: ImageShape,
        zoom: usize,
        values: impl Iterator<Item = &'a f64>,
    ) -> Self {
        let (lo, hi) = crate::numerics::metrics::value_range(values);
        Canvas {
            rgb: vec![255u8; width * height * 3],
            width,
            height,
            shape,
            zoom,
            lo,
            span: if hi > lo { hi - lo } else { 1.0 },
        }
    }

    /// Paints one image (a row of the shape) with its top-left corner at
    /// (`top`, `left`), enlarged by the zoom.
    fn paint(&mut self, top: usize, left: usize, row: ndarray::ArrayView1<f64>) {
        let ImageShape {
            channels,
            height: h,
            width: w,
        } = self.shape;
        let plane = h * w;
        let (lo, span) = (self.lo, self.span);
        let level = |v: f64| (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8;
        for y in 0..h * self.zoom {
            for x in 0..w * self.zoom {
                let pixel = (y / self.zoom) * w + x / self.zoom;
                let at = 3 * ((top + y) * self.width + left + x);
                for c in 0..3 {
                    let channel = if channels >= 3 { c } else { 0 };
                    self.rgb[at + c] = level(row[channel * plane + pixel]);
                }
            }
        }
    }

    /// The picture, PNG-encoded.
    fn png(self) -> crate::error::Result<Vec<u8>> {
        let picture = image::RgbImage::from_raw(self.width as u32, self.height as u32, self.rgb)
            .expect("the buffer has the picture's size");
        let mut png = std::io::Cursor::new(Vec::new());
        picture
            .write_to(&mut png, image::ImageFormat::Png)
            .map_err(|e| crate::error::VqError::Shape(format!("encoding the PNG picture: {e}")))?;
        Ok(png.into_inner())
    }
}
