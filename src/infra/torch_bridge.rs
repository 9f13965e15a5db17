//! Moving f64 matrices between ndarray and libtorch (CPU), by copying through
//! contiguous slices.
use ndarray::{Array2, ArrayView2};
use tch::{Device, Kind, Tensor};

use crate::error::{Result, VqError};

/// A 2-D f64 tensor on `device` with the values of `a`.
pub fn to_tensor(a: ArrayView2<f64>, device: Device) -> Tensor {
    let (rows, cols) = a.dim();
    let data: Vec<f64> = match a.as_slice() {
        Some(s) => s.to_vec(),
        None => a.iter().copied().collect(),
    };
    Tensor::from_slice(&data)
        .view([rows as i64, cols as i64])
        .to_device(device)
}

/// The values of a 2-D tensor as an f64 ndarray matrix.
pub fn to_array2(t: &Tensor) -> Result<Array2<f64>> {
    let size = t.size();
    if size.len() != 2 {
        return Err(VqError::Shape(format!(
            "expected a 2-D tensor, got {size:?}"
        )));
    }
    let t = t.to_device(Device::Cpu).to_kind(Kind::Double).contiguous();
    let data = Vec::<f64>::try_from(&t.view([-1]))?;
    Array2::from_shape_vec((size[0] as usize, size[1] as usize), data)
        .map_err(|e| VqError::Shape(e.to_string()))
}

/// The values of a 1-D integer tensor as indices.
pub fn to_indices(t: &Tensor) -> Result<Vec<usize>> {
    let v = Vec::<i64>::try_from(&t.to_device(Device::Cpu).to_kind(Kind::Int64).contiguous())?;
    Ok(v.into_iter().map(|i| i as usize).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn round_trip_including_a_transposed_view() {
        let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let t = to_tensor(a.view(), Device::Cpu);
        assert_eq!(t.size(), vec![2, 3]);
        assert_eq!(to_array2(&t).unwrap(), a);
        let tt = to_tensor(a.t(), Device::Cpu);
        assert_eq!(to_array2(&tt).unwrap(), a.t());
    }
}
