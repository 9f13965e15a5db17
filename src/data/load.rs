//! Reading a data matrix (rows = samples, columns = coordinates) from `.npy`
//! (float64 or float32, 2-D, C or Fortran order) or CSV (comma-separated,
//! an optional header row of non-numeric names).
use ndarray::Array2;
use ndarray_npy::{ReadNpyError, ReadNpyExt};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::error::{Result, VqError};

fn data_err(path: &Path, message: impl Into<String>) -> VqError {
    VqError::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a matrix from `path`, choosing the format by extension (`.npy`,
/// `.csv`). Refuses empty matrices and non-finite values, naming where they
/// are.
pub fn load_matrix(path: &Path) -> Result<Array2<f64>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let matrix = match ext.as_deref() {
        Some("npy") => load_npy(path)?,
        Some("csv") => load_csv(path)?,
        _ => {
            return Err(data_err(
                path,
                "unknown format: the file name must end in .npy or .csv",
            ))
        }
    };
    if matrix.nrows() == 0 || matrix.ncols() == 0 {
        return Err(data_err(
            path,
            format!(
                "the matrix is empty ({} × {})",
                matrix.nrows(),
                matrix.ncols()
            ),
        ));
    }
    if let Some(((r, c), v)) = matrix.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(data_err(
            path,
            format!("non-finite value {v} at row {}, column {}", r + 1, c + 1),
        ));
    }
    Ok(matrix)
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| VqError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn load_npy(path: &Path) -> Result<Array2<f64>> {
    let describe = |e: ReadNpyError| -> VqError {
        let what = match &e {
            ReadNpyError::WrongNdim(expected, got) => format!(
                "expected a 2-D array (rows = samples), found {} dimension(s){}",
                got,
                expected.map(|_| "").unwrap_or("")
            ),
            ReadNpyError::WrongDescriptor(d) => {
                format!("unsupported dtype {d}: expected float64 ('<f8') or float32 ('<f4')")
            }
            other => format!("not a readable .npy file: {other}"),
        };
        data_err(path, what)
    };
    match Array2::<f64>::read_npy(BufReader::new(open(path)?)) {
        Ok(m) => Ok(m),
        Err(ReadNpyError::WrongDescriptor(_)) => {
            Array2::<f32>::read_npy(BufReader::new(open(path)?))
                .map(|m| m.mapv(f64::from))
                .map_err(describe)
        }
        Err(e) => Err(describe(e)),
    }
}

fn load_csv(path: &Path) -> Result<Array2<f64>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(BufReader::new(open(path)?));
    let mut values = Vec::new();
    let mut cols: Option<usize> = None;
    let mut rows = 0usize;
    for (index, record) in reader.records().enumerate() {
        let line = index + 1;
        let record = record.map_err(|e| data_err(path, format!("line {line}: {e}")))?;
        if record.len() == 1 && record[0].is_empty() {
            continue; // blank line
        }
        let parsed: Vec<std::result::Result<f64, usize>> = record
            .iter()
            .enumerate()
            .map(|(c, field)| field.parse::<f64>().map_err(|_| c))
            .collect();
        if index == 0 && parsed.iter().all(|p| p.is_err()) {
            continue; // a header row of names
        }
        if let Some(Err(c)) = parsed.iter().find(|p| p.is_err()) {
            return Err(data_err(
                path,
                format!(
                    "line {line}, column {}: {:?} is not a number",
                    c + 1,
                    &record[*c]
                ),
            ));
        }
        match cols {
            None => cols = Some(record.len()),
            Some(n) if n != record.len() => {
                return Err(data_err(
                    path,
                    format!(
                        "line {line}: {} fields where earlier rows have {n} (ragged CSV)",
                        record.len()
                    ),
                ))
            }
            _ => {}
        }
        values.extend(parsed.into_iter().map(|p| p.expect("checked above")));
        rows += 1;
    }
    let cols = cols.unwrap_or(0);
    Array2::from_shape_vec((rows, cols), values).map_err(|e| data_err(path, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use ndarray_npy::WriteNpyExt;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn csv_with_and_without_header() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_matrix(&write(dir.path(), "a.csv", "x,y\n1,2\n3,4.5\n")).unwrap();
        assert_eq!(a, array![[1.0, 2.0], [3.0, 4.5]]);
        let b = load_matrix(&write(dir.path(), "b.csv", "1, 2\n\n3,4.5\n")).unwrap();
        assert_eq!(b, a);
    }

    #[test]
    fn csv_errors_name_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_matrix(&write(dir.path(), "r.csv", "1,2\n3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("ragged"), "{e}");
        let e = load_matrix(&write(dir.path(), "n.csv", "1,2\n3,abc\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2, column 2") && e.contains("abc"), "{e}");
        let e = load_matrix(&write(dir.path(), "i.csv", "1,2\n3,inf\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 2, column 2"), "{e}");
        let e = load_matrix(&write(dir.path(), "e.csv", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        let e = load_matrix(&dir.path().join("missing.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.csv"), "{e}");
        let e = load_matrix(&write(dir.path(), "x.txt", "1"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(".npy or .csv"), "{e}");
    }

    #[test]
    fn npy_round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let m = array![[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let p = dir.path().join("m.npy");
        m.write_npy(File::create(&p).unwrap()).unwrap();
        assert_eq!(load_matrix(&p).unwrap(), m);

        let p32 = dir.path().join("m32.npy");
        m.mapv(|v| v as f32)
            .write_npy(File::create(&p32).unwrap())
            .unwrap();
        assert_eq!(load_matrix(&p32).unwrap(), m);

        let p1 = dir.path().join("v.npy");
        ndarray::arr1(&[1.0f64, 2.0])
            .write_npy(File::create(&p1).unwrap())
            .unwrap();
        let e = load_matrix(&p1).unwrap_err().to_string();
        assert!(e.contains("2-D"), "{e}");

        let pi = dir.path().join("i.npy");
        array![[1i32, 2]]
            .write_npy(File::create(&pi).unwrap())
            .unwrap();
        let e = load_matrix(&pi).unwrap_err().to_string();
        assert!(e.contains("dtype"), "{e}");

        let pn = dir.path().join("nan.npy");
        array![[1.0f64, f64::NAN]]
            .write_npy(File::create(&pn).unwrap())
            .unwrap();
        let e = load_matrix(&pn).unwrap_err().to_string();
        assert!(e.contains("row 1, column 2"), "{e}");

        let pg = write(dir.path(), "g.npy", "not numpy at all");
        let e = load_matrix(&pg).unwrap_err().to_string();
        assert!(e.contains("g.npy"), "{e}");
    }
}
