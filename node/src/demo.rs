//! The demo dataset: the Adult census extract (32,561 rows × 15 columns, UCI, CC BY 4.0),
//! compiled into the binary so `mirage synth` works from any directory on a fresh clone.

use std::path::PathBuf;

use anyhow::Context;

/// The gzip-compressed CSV.
const ADULT_CSV_GZ: &[u8] = include_bytes!("../../data/adult.csv.gz");

/// The name shown for the demo dataset.
pub const DEMO_NAME: &str = "adult.csv (bundled demo)";

/// Writes the demo dataset to the temporary directory (once) and returns its path.
pub fn adult_path() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("mirage-demo-{}", env!("CARGO_PKG_VERSION")));
    let path = dir.join("adult.csv.gz");
    let current = std::fs::metadata(&path).map(|m| m.len() == ADULT_CSV_GZ.len() as u64);
    if !current.unwrap_or(false) {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        // Write under a unique name and rename, so concurrent runs never read half a file.
        let staging = dir.join(format!(".adult.csv.gz.{}", std::process::id()));
        std::fs::write(&staging, ADULT_CSV_GZ)
            .with_context(|| format!("cannot write {}", staging.display()))?;
        std::fs::rename(&staging, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(path)
}
