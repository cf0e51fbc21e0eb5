//! Opening input files: plain or gzip-compressed text, or Parquet, told apart by their first
//! bytes and, failing that, by their extension.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, Result};

const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const READ_BUFFER: usize = 256 * 1024;

/// The formats Mirage reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Delimited text, maybe gzip-compressed.
    Csv {
        /// Whether the bytes are gzip-compressed.
        gzip: bool,
    },
    /// Apache Parquet.
    Parquet,
}

/// Tells the file's format from its magic bytes, then its extension.
pub fn detect_format(path: &Path) -> Result<FileFormat> {
    let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut head = [0u8; 4];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DataError::io(path, e)),
        }
    }
    let head = &head[..filled];
    let name = path.to_string_lossy().to_ascii_lowercase();
    if head == PARQUET_MAGIC || name.ends_with(".parquet") || name.ends_with(".pq") {
        return Ok(FileFormat::Parquet);
    }
    let gzip = head.starts_with(&GZIP_MAGIC) || name.ends_with(".gz");
    Ok(FileFormat::Csv { gzip })
}

/// Opens a text file for buffered reading, decompressing gzip on the fly.
pub fn open_text(path: &Path, gzip: bool) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    if gzip {
        let decoder = MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, file));
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, decoder)))
    } else {
        Ok(Box::new(BufReader::with_capacity(READ_BUFFER, file)))
    }
}

/// Reads up to `limit` bytes from the start of a text file; the flag says whether the file
/// goes on past them.
pub fn read_head(path: &Path, gzip: bool, limit: usize) -> Result<(Vec<u8>, bool)> {
    let reader = open_text(path, gzip)?;
    let mut sample = Vec::with_capacity(limit.min(1 << 20));
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut sample)
        .map_err(|e| DataError::io(path, e))?;
    let truncated = sample.len() > limit;
    sample.truncate(limit);
    Ok((sample, truncated))
}
