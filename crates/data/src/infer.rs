//! Type inference: one accumulator per column that sees every value once, in constant
//! memory (running type candidates and a capped set of value hashes), then decides the
//! column's [`ColumnKind`], [`PhysicalType`] and, where the kind does not carry it, the
//! [`ColumnFormat`] that writes its values back as the source spelled them.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use mirage_core::ColumnKind;
use mirage_core::schema::{ColumnFormat, PhysicalType};

use crate::cell::{BooleanSpellings, boolean_pairs, has_leading_zero, parse_float, parse_int};
use crate::datetime::{DatetimeFormat, could_be_datetime};

/// Distinct values counted exactly before counting stops (raised to the high-cardinality
/// threshold when that is larger). Past the cap, values are still checked against the set,
/// so a repeat of an early value still shows the column is not unique.
pub const DISTINCT_CAP: usize = 100_000;

/// At least this many rows before a column of unique words counts as an identifier without
/// a name that says so.
const MIN_ROWS_FOR_UNNAMED_IDENTIFIER: u64 = 20;

/// What inference concluded about one column.
#[derive(Debug, Clone, PartialEq)]
pub struct InferredType {
    /// The kind.
    pub kind: ColumnKind,
    /// The storage.
    pub physical: PhysicalType,
    /// How values are written back as text, where the kind does not say (see
    /// [`ColumnInference::format_for`]).
    pub format: Option<ColumnFormat>,
}

/// The running state of inference for one column.
#[derive(Debug, Clone)]
pub struct ColumnInference {
    values: u64,
    nulls: u64,
    int_ok: bool,
    float_ok: bool,
    boolean_mask: u8,
    /// Whether every value so far reads as a boolean (including `1`/`0`), so that a column
    /// declared boolean keeps its spellings too.
    spellings_ok: bool,
    spellings: BooleanSpellings,
    datetime_mask: u32,
    hashes: HashSet<u64, BuildHasherDefault<PassThroughHasher>>,
    cap: usize,
    duplicate_seen: bool,
    total_length: u64,
    with_space: u64,
}

impl ColumnInference {
    /// An accumulator for text cells that may turn out to be numbers, booleans or datetimes.
    /// `high_cardinality_threshold` raises the distinct-count cap when it is larger.
    pub fn new(high_cardinality_threshold: usize, datetime_formats: usize) -> Self {
        let datetime_mask = if datetime_formats >= 32 {
            u32::MAX
        } else {
            (1u32 << datetime_formats) - 1
        };
        Self {
            values: 0,
            nulls: 0,
            int_ok: true,
            float_ok: true,
            boolean_mask: 0b1111,
            spellings_ok: true,
            spellings: BooleanSpellings::default(),
            datetime_mask,
            hashes: HashSet::default(),
            cap: DISTINCT_CAP.max(high_cardinality_threshold + 1),
            duplicate_seen: false,
            total_length: 0,
            with_space: 0,
        }
    }

    /// An accumulator for values whose type is already known (Parquet columns): only
    /// counts, distinct values and string shapes are tracked.
    pub fn typed(high_cardinality_threshold: usize) -> Self {
        Self {
            int_ok: false,
            float_ok: false,
            boolean_mask: 0,
            datetime_mask: 0,
            ..Self::new(high_cardinality_threshold, 0)
        }
    }

    /// Records a null cell.
    pub fn observe_null(&mut self) {
        self.nulls += 1;
    }

    /// Records a non-null text cell, testing it against every type still possible.
    pub fn observe(&mut self, text: &str, formats: &[DatetimeFormat]) {
        if (self.int_ok || self.float_ok) && has_leading_zero(text) {
            self.int_ok = false;
            self.float_ok = false;
        }
        if self.int_ok && parse_int(text).is_none() {
            self.int_ok = false;
        }
        // Every integer is a float, so floats need testing only once integers failed.
        if !self.int_ok && self.float_ok && parse_float(text).is_none() {
            self.float_ok = false;
        }
        if self.boolean_mask != 0 {
            self.boolean_mask &= boolean_pairs(text);
        }
        self.observe_boolean_spelling(text);
        if self.datetime_mask != 0 {
            if could_be_datetime(text) {
                for (i, format) in formats.iter().enumerate().take(32) {
                    let bit = 1u32 << i;
                    if self.datetime_mask & bit != 0 && format.parse(text).is_none() {
                        self.datetime_mask &= !bit;
                    }
                }
            } else {
                self.datetime_mask = 0;
            }
        }
        self.total_length += text.chars().count() as u64;
        if text.contains(' ') {
            self.with_space += 1;
        }
        self.observe_bytes(text.as_bytes());
    }

    /// Counts how a cell that may be a boolean is spelled; [`Self::observe`] does this for
    /// every cell, typed input calls it for the strings it turns into booleans.
    pub fn observe_boolean_spelling(&mut self, text: &str) {
        if self.spellings_ok && self.spellings.observe(text).is_none() {
            self.spellings_ok = false;
        }
    }

    /// Records a non-null value of a known type by its bytes (for distinct counting only).
    pub fn observe_bytes(&mut self, bytes: &[u8]) {
        self.values += 1;
        let hash = hash_bytes(bytes);
        if self.hashes.len() < self.cap {
            if !self.hashes.insert(hash) {
                self.duplicate_seen = true;
            }
        } else if self.hashes.contains(&hash) {
            self.duplicate_seen = true;
        }
    }

    /// Non-null values seen.
    pub fn values(&self) -> u64 {
        self.values
    }

    /// Null cells seen.
    pub fn nulls(&self) -> u64 {
        self.nulls
    }

    /// Distinct non-null values (a lower bound once the cap is reached).
    pub fn distinct(&self) -> u64 {
        self.hashes.len() as u64
    }

    /// Whether no non-null value repeats.
    pub fn all_unique(&self) -> bool {
        !self.duplicate_seen
    }

    /// The storage every value fits, and the datetime format when it is a datetime;
    /// `None` when the column had no values.
    pub fn base_type<'f>(
        &self,
        formats: &'f [DatetimeFormat],
    ) -> Option<(PhysicalType, Option<&'f DatetimeFormat>)> {
        if self.values == 0 {
            return None;
        }
        if self.int_ok {
            return Some((PhysicalType::Int64, None));
        }
        if self.float_ok {
            return Some((PhysicalType::Float64, None));
        }
        if self.boolean_mask != 0 {
            return Some((PhysicalType::Boolean, None));
        }
        if self.datetime_mask != 0 {
            let first = self.datetime_mask.trailing_zeros() as usize;
            if let Some(format) = formats.get(first) {
                return Some((PhysicalType::TimestampMillis, Some(format)));
            }
        }
        Some((PhysicalType::Utf8, None))
    }

    /// The column's type, `None` when it had no values.
    pub fn infer(
        &self,
        name: &str,
        formats: &[DatetimeFormat],
        high_cardinality_threshold: usize,
    ) -> Option<InferredType> {
        let (physical, format) = self.base_type(formats)?;
        let pattern = format.map(DatetimeFormat::pattern);
        let kind = self.kind_for(name, physical, pattern, high_cardinality_threshold);
        let format = self.format_for(&kind, physical, pattern);
        Some(InferredType {
            kind,
            physical,
            format,
        })
    }

    /// The text format of a column of `kind` stored as `physical`, where the kind does not
    /// carry it: the spellings seen, for booleans; `datetime_format` (the source's), for
    /// timestamps whose kind is not [`ColumnKind::Datetime`] (a constant column). `None`
    /// for everything else, and for booleans whose spellings were not seen (typed input).
    pub fn format_for(
        &self,
        kind: &ColumnKind,
        physical: PhysicalType,
        datetime_format: Option<&str>,
    ) -> Option<ColumnFormat> {
        match physical {
            PhysicalType::Boolean if self.spellings_ok => {
                let (true_label, false_label) = self.spellings.labels()?;
                Some(ColumnFormat::Boolean {
                    true_label,
                    false_label,
                })
            }
            PhysicalType::TimestampMillis if !matches!(kind, ColumnKind::Datetime { .. }) => {
                datetime_format.map(|format| ColumnFormat::Datetime {
                    format: format.to_string(),
                })
            }
            _ => None,
        }
    }

    /// The kind of a column stored as `physical` (with `format` for datetimes).
    pub fn kind_for(
        &self,
        name: &str,
        physical: PhysicalType,
        format: Option<&str>,
        high_cardinality_threshold: usize,
    ) -> ColumnKind {
        if self.distinct() == 1 {
            return ColumnKind::Constant;
        }
        let unique = self.all_unique();
        match physical {
            PhysicalType::Boolean => ColumnKind::Boolean,
            PhysicalType::Float64 => ColumnKind::Float,
            PhysicalType::TimestampMillis => ColumnKind::Datetime {
                format: format
                    .unwrap_or(crate::datetime::TIMESTAMP_FORMAT)
                    .to_string(),
            },
            PhysicalType::Int64 if unique && has_identifier_name(name) => ColumnKind::Identifier,
            PhysicalType::Int64 => ColumnKind::Integer,
            PhysicalType::Utf8 => self.string_kind(name, unique, high_cardinality_threshold),
        }
    }

    fn string_kind(&self, name: &str, unique: bool, threshold: usize) -> ColumnKind {
        let values = self.values.max(1) as f64;
        let uniqueness = if unique {
            1.0
        } else {
            self.distinct() as f64 / values
        };
        let mean_length = self.total_length as f64 / values;
        let space_share = self.with_space as f64 / values;
        let enough_rows = self.values >= MIN_ROWS_FOR_UNNAMED_IDENTIFIER;
        if unique && (has_identifier_name(name) || (self.with_space == 0 && enough_rows)) {
            return ColumnKind::Identifier;
        }
        if (mean_length > 30.0 && uniqueness >= 0.5)
            || (space_share >= 0.5 && uniqueness >= 0.9 && enough_rows)
        {
            return ColumnKind::Text;
        }
        if self.distinct() as usize <= threshold {
            ColumnKind::Categorical
        } else {
            ColumnKind::HighCardinality
        }
    }
}

/// Whether a column name says it is a key: `id`, `user_id`, `userId`, `key`, `uuid`, ...
pub fn has_identifier_name(name: &str) -> bool {
    let words = name_words(name);
    words
        .last()
        .is_some_and(|last| matches!(last.as_str(), "id" | "key" | "uuid" | "guid" | "pk"))
        || words.iter().any(|w| w == "uuid" || w == "guid")
}

/// A column name split into lowercase words at non-alphanumerics and camelCase humps.
pub fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// A 64-bit hash of a value's bytes (word-at-a-time multiply-rotate, then a final mix), so
/// distinct counting stores 8 bytes per value and never the value itself.
fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut hash = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    hash = (hash.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    // murmur3's finaliser spreads every input bit over the whole word.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    hash ^ (hash >> 33)
}

/// Passes an already mixed `u64` through as its own hash.
#[derive(Debug, Default, Clone, Copy)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datetime::inferred_formats;

    fn infer(name: &str, cells: &[&str]) -> InferredType {
        let formats = inferred_formats();
        let mut column = ColumnInference::new(500, formats.len());
        for cell in cells {
            column.observe(cell, &formats);
        }
        column.infer(name, &formats, 500).expect("has values")
    }

    #[test]
    fn names_split_into_words() {
        assert_eq!(name_words("userId"), vec!["user", "id"]);
        assert_eq!(name_words("native-country"), vec!["native", "country"]);
        assert_eq!(name_words("date_of_birth"), vec!["date", "of", "birth"]);
        assert!(has_identifier_name("customer_id"));
        assert!(has_identifier_name("ID"));
        assert!(!has_identifier_name("idea"));
        assert!(!has_identifier_name("paid"));
    }

    #[test]
    fn numbers_before_everything_else() {
        assert_eq!(infer("n", &["1", "2", "2"]).physical, PhysicalType::Int64);
        assert_eq!(infer("n", &["1", "2.5", "2"]).kind, ColumnKind::Float);
        assert_eq!(infer("n", &["1", "x"]).kind, ColumnKind::Categorical);
        assert_eq!(
            infer("zip", &["02134", "10001"]).physical,
            PhysicalType::Utf8
        );
        assert_eq!(infer("x", &["0.5", "10"]).physical, PhysicalType::Float64);
    }

    #[test]
    fn a_single_value_is_constant_and_keeps_its_storage() {
        let inferred = infer("c", &["7", "7", "7"]);
        assert_eq!(inferred.kind, ColumnKind::Constant);
        assert_eq!(inferred.physical, PhysicalType::Int64);
    }

    #[test]
    fn booleans_keep_the_spellings_seen() {
        let inferred = infer("b", &["Yes", "No", "no", "Yes", "Yes"]);
        assert_eq!(inferred.kind, ColumnKind::Boolean);
        assert_eq!(
            inferred.format,
            Some(ColumnFormat::Boolean {
                true_label: "Yes".into(),
                false_label: "No".into(),
            })
        );
        assert_eq!(infer("n", &["1", "0", "1"]).format, None);
    }

    #[test]
    fn a_constant_datetime_keeps_its_format() {
        let inferred = infer("d", &["31/12/2020", "31/12/2020"]);
        assert_eq!(inferred.kind, ColumnKind::Constant);
        assert_eq!(inferred.physical, PhysicalType::TimestampMillis);
        assert_eq!(
            inferred.format,
            Some(ColumnFormat::Datetime {
                format: "%d/%m/%Y".into()
            })
        );
        // A datetime kind carries its own format.
        assert_eq!(infer("d", &["2020-01-01", "2020-01-02"]).format, None);
    }

    #[test]
    fn day_first_wins_only_when_month_first_fails() {
        let kind = infer("d", &["01/02/2020", "13/02/2020"]).kind;
        assert_eq!(
            kind,
            ColumnKind::Datetime {
                format: "%d/%m/%Y".into()
            }
        );
        let kind = infer("d", &["01/02/2020", "02/13/2020"]).kind;
        assert_eq!(
            kind,
            ColumnKind::Datetime {
                format: "%m/%d/%Y".into()
            }
        );
    }

    #[test]
    fn the_hash_is_stable_and_spread() {
        assert_eq!(hash_bytes(b"abc"), hash_bytes(b"abc"));
        assert_ne!(hash_bytes(b"abc"), hash_bytes(b"abd"));
        assert_ne!(hash_bytes(b""), hash_bytes(b"\0"));
    }
}
