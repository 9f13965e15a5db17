//! Writing results so that nothing is ever half-written: every file goes to a
//! temporary sibling first and is renamed into place.
use std::io::Write;
use std::path::Path;

use ndarray::{ArrayBase, Data, Dimension};
use ndarray_npy::{WritableElement, WriteNpyExt};

use crate::error::{Result, VqError};

fn io_err(path: &Path, source: std::io::Error) -> VqError {
    VqError::Io {
        path: path.to_path_buf(),
        error: source,
    }
}

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder,
/// flushed and synced, then renamed over `path`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes).map_err(|e| io_err(path, e)))
}

/// Like [`write_atomic`], with the content produced by `fill`.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
        fill(&mut file)?;
        file.sync_all().map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes an array as `.npy`, atomically.
pub fn write_npy<S, D>(path: &Path, array: &ArrayBase<S, D>) -> Result<()>
where
    S: Data,
    S::Elem: WritableElement,
    D: Dimension,
{
    write_atomic_with(path, |file| {
        let mut buf = std::io::BufWriter::new(file);
        array.write_npy(&mut buf).map_err(|e| VqError::Data {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        buf.flush().map_err(|e| io_err(path, e))
    })
}

/// A stable 64-bit digest (FNV-1a) of `bytes`, for file names that must not
/// change between builds or machines.
pub fn digest(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Reads a number JSON may hold as `null`: serde_json writes a non-finite
/// f64 (a ratio over a zero norm) as `null`; this reads it back as NaN,
/// so a stored result with one survives the round trip. For
/// `#[serde(deserialize_with = "...")]`.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Row {
///     #[serde(deserialize_with = "vqlab::infra::io::f64_or_nan")]
///     value: f64,
/// }
/// let row: Row = serde_json::from_str(r#"{"value": null}"#).unwrap();
/// assert!(row.value.is_nan());
/// let row: Row = serde_json::from_str(r#"{"value": 1.5}"#).unwrap();
/// assert_eq!(row.value, 1.5);
/// ```
pub fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A failing writer leaves the old content and no temporary.
        let err = write_atomic_with(&p, |_| Err(VqError::Shape("boom".into())));
        assert!(err.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
