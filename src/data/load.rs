//! Reading a data matrix (rows = samples, columns = coordinates) from `.npy`
//! (2-D, C or Fortran order; float64, float32, and every signed and unsigned
//! integer dtype, converted to f64) or CSV (the delimiter detected from the
//! first line among `,` `;` tab and `|`, or given; an optional header row of
//! non-numeric names).
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
    load_matrix_with(path, None)
}

/// [`load_matrix`] with the CSV delimiter given (`None`: detected).
pub fn load_matrix_with(path: &Path, delimiter: Option<u8>) -> Result<Array2<f64>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let matrix = match ext.as_deref() {
        Some("npy") => load_npy(path)?,
        Some("csv") => load_csv(path, delimiter)?,
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
    File::open(path).map_err(|error| VqError::Io {
        path: path.to_path_buf(),
        error,
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
            ReadNpyError::WrongDescriptor(d) => format!(
                "unsupported dtype {d}: expected a float or integer dtype (f8, f4, i1–i8, u1–u8)"
            ),
            other => format!("not a readable .npy file: {other}"),
        };
        data_err(path, what)
    };
    // Each dtype in turn: a wrong one answers WrongDescriptor at once.
    macro_rules! try_dtypes {
        ($first:ty $(, $t:ty)*) => {{
            // The first dtype's error is the one reported when none fits.
            let first = match Array2::<$first>::read_npy(BufReader::new(open(path)?)) {
                Ok(m) => return Ok(m),
                Err(e @ ReadNpyError::WrongDescriptor(_)) => e,
                Err(e) => return Err(describe(e)),
            };
            $(
                match Array2::<$t>::read_npy(BufReader::new(open(path)?)) {
                    #[allow(clippy::unnecessary_cast)]
                    Ok(m) => return Ok(m.mapv(|v| v as f64)),
                    Err(ReadNpyError::WrongDescriptor(_)) => {}
                    Err(e) => return Err(describe(e)),
                }
            )*
            Err(describe(first))
        }};
    }
    try_dtypes!(f64, f32, u8, i8, u16, i16, u32, i32, u64, i64)
}

/// The delimiter of a CSV file from its first non-empty line: the candidate
/// (`,` `;` tab `|`) that splits it into the most fields; `,` when none does.
fn detect_delimiter(path: &Path) -> Result<u8> {
    use std::io::BufRead;
    let reader = BufReader::new(open(path)?);
    for line in reader.lines() {
        let line = line.map_err(|error| VqError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let best = [b',', b';', b'\t', b'|']
            .into_iter()
            .max_by_key(|&d| line.bytes().filter(|&b| b == d).count())
            .filter(|&d| line.bytes().any(|b| b == d));
        return Ok(best.unwrap_or(b','));
    }
    Ok(b',')
}

fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        other => format!("'{}'", other as char),
    }
}

/// Whether a row reads 0, 1, …, n−1 (at least three fields): the header a
/// data frame without column names gets.
fn is_column_numbers(record: &csv::StringRecord) -> bool {
    record.len() >= 3
        && record
            .iter()
            .enumerate()
            .all(|(i, field)| field.parse::<usize>() == Ok(i))
}

fn load_csv(path: &Path, delimiter: Option<u8>) -> Result<Array2<f64>> {
    let delimiter = match delimiter {
        Some(d) => d,
        None => detect_delimiter(path)?,
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
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
        if index == 0 && is_column_numbers(&record) {
            // pandas' `to_csv` of a frame without names writes 0, 1, …, D−1.
            eprintln!(
                "warning: {}: line 1 is 0, 1, …, {}: read as a header of column numbers, not data",
                path.display(),
                record.len() - 1
            );
            continue;
        }
        if let Some(Err(c)) = parsed.iter().find(|p| p.is_err()) {
            let index_hint = " a pandas index column? write the file with index=False, or drop its first column)";
            let hint = if *c == 0 && record[0].is_empty() {
                format!(" (an empty first field:{index_hint}")
            } else if *c == 0 && index == 0 && parsed[1..].iter().all(|p| p.is_ok()) {
                format!(" (line 1 names only its first column, the others are numbers:{index_hint}")
            } else if record.len() == 1 {
                format!(
                    " (the row is one field with the delimiter {}: is the file separated by something else? try --delimiter)",
                    delimiter_name(delimiter)
                )
            } else {
                String::new()
            };
            return Err(data_err(
                path,
                format!(
                    "line {line}, column {}: {:?} is not a number{hint}",
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
    let matrix =
        Array2::from_shape_vec((rows, cols), values).map_err(|e| data_err(path, e.to_string()))?;
    if rows >= 3 && cols >= 2 {
        let first = matrix.column(0);
        for offset in [0.0, 1.0] {
            if first
                .iter()
                .enumerate()
                .all(|(i, &v)| v == i as f64 + offset)
            {
                eprintln!(
                    "warning: {}: the first column is {offset}, {}, …, {}: the row numbers (a pandas index column?); it is read as data (write the file with index=False, or drop the column)",
                    path.display(),
                    offset + 1.0,
                    rows as f64 - 1.0 + offset
                );
            }
        }
    }
    Ok(matrix)
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
    fn pandas_headers_are_skipped_and_index_columns_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_matrix(&write(dir.path(), "a.csv", "0,1,2\n5,6,7\n8,9,10\n")).unwrap();
        assert_eq!(a, array![[5.0, 6.0, 7.0], [8.0, 9.0, 10.0]]);
        // Only the first line, and only 0, 1, …: a data row 0,1,2 later stays.
        let b = load_matrix(&write(dir.path(), "b.csv", "5,6,7\n0,1,2\n")).unwrap();
        assert_eq!(b, array![[5.0, 6.0, 7.0], [0.0, 1.0, 2.0]]);
        let err = load_matrix(&write(dir.path(), "c.csv", ",0,1\n0,5,6\n1,7,8\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("pandas index column"), "{err}");
        // A named index column: only the first header field is a name.
        let err = load_matrix(&write(dir.path(), "d.csv", "id,0,1\n0,5,6\n1,7,8\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("names only its first column") && err.contains("pandas index column"),
            "{err}"
        );
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
    fn csv_delimiters_are_detected_or_given() {
        let dir = tempfile::tempdir().unwrap();
        let want = array![[1.0, 2.0], [3.0, 4.5]];
        for (name, text) in [
            ("semi.csv", "a;b\n1;2\n3;4.5\n"),
            ("tab.csv", "1\t2\n3\t4.5\n"),
            ("bar.csv", "1|2\n3|4.5\n"),
        ] {
            assert_eq!(
                load_matrix(&write(dir.path(), name, text)).unwrap(),
                want,
                "{name}"
            );
        }
        // Given explicitly, a wrong delimiter gives a hint.
        let p = write(dir.path(), "given.csv", "1;2\n3;4.5\n");
        assert_eq!(load_matrix_with(&p, Some(b';')).unwrap(), want);
        let e = load_matrix_with(&p, Some(b',')).unwrap_err().to_string();
        assert!(e.contains("--delimiter") && e.contains("one field"), "{e}");
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

        // Integer dtypes (pixel data usually are) convert to f64.
        let pi = dir.path().join("i.npy");
        array![[1i32, -2]]
            .write_npy(File::create(&pi).unwrap())
            .unwrap();
        assert_eq!(load_matrix(&pi).unwrap(), array![[1.0, -2.0]]);
        let pu = dir.path().join("u8.npy");
        array![[0u8, 255], [7, 16]]
            .write_npy(File::create(&pu).unwrap())
            .unwrap();
        assert_eq!(load_matrix(&pu).unwrap(), array![[0.0, 255.0], [7.0, 16.0]]);
        let pb = dir.path().join("b.npy");
        array![[true, false]]
            .write_npy(File::create(&pb).unwrap())
            .unwrap();
        let e = load_matrix(&pb).unwrap_err().to_string();
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
