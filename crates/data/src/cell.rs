//! Reading single cells: null tokens, numbers and booleans (and how the booleans were
//! spelled), shared by type inference and by the typed readers so that both agree on what a
//! cell means.

/// The null tokens used when [`crate::ReadOptions::na_values`] is left at its default.
pub const DEFAULT_NA_VALUES: [&str; 9] =
    ["", "?", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"];

/// The set of cell texts read as null, compared after trimming ASCII whitespace.
#[derive(Debug, Clone)]
pub struct NullTokens {
    tokens: Vec<String>,
    longest: usize,
}

impl NullTokens {
    /// Null tokens from a list; the empty cell is always null.
    pub fn new(tokens: &[String]) -> Self {
        let mut tokens: Vec<String> = tokens.iter().map(|t| t.trim().to_string()).collect();
        tokens.retain(|t| !t.is_empty());
        tokens.sort();
        tokens.dedup();
        let longest = tokens.iter().map(String::len).max().unwrap_or(0);
        Self { tokens, longest }
    }

    /// Whether the cell is null.
    pub fn is_null(&self, cell: &str) -> bool {
        let cell = cell.trim_ascii();
        if cell.is_empty() {
            return true;
        }
        // Most cells are longer than every token: skip the comparisons.
        cell.len() <= self.longest && self.tokens.iter().any(|t| t == cell)
    }
}

/// Whether the text is a number written with a leading zero (`007`, `-0123`). Inference
/// keeps such columns as strings: they are codes (zip codes, phone numbers) whose zeros
/// matter. A column the user declares numeric still reads them.
pub fn has_leading_zero(text: &str) -> bool {
    let text = text.trim_ascii();
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text).as_bytes();
    digits.len() > 1 && digits[0] == b'0' && digits[1].is_ascii_digit()
}

/// The cell as an integer, if it is one.
pub fn parse_int(text: &str) -> Option<i64> {
    text.trim_ascii().parse().ok()
}

/// The cell as a finite real number, if it is one. Words such as `inf` are not numbers
/// here, so that a column of labels never turns numeric by accident.
pub fn parse_float(text: &str) -> Option<f64> {
    let text = text.trim_ascii();
    let first = *text.as_bytes().first()?;
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(value)
}

/// Pairs of spellings of true and false; a boolean column keeps to one pair.
pub const BOOLEAN_PAIRS: [(&str, &str); 4] =
    [("true", "false"), ("yes", "no"), ("t", "f"), ("y", "n")];

/// Which pairs of [`BOOLEAN_PAIRS`] the cell belongs to, as a bit mask.
pub fn boolean_pairs(text: &str) -> u8 {
    let text = text.trim_ascii();
    if text.len() > 5 {
        return 0;
    }
    let mut mask = 0;
    for (i, (yes, no)) in BOOLEAN_PAIRS.iter().enumerate() {
        if text.eq_ignore_ascii_case(yes) || text.eq_ignore_ascii_case(no) {
            mask |= 1 << i;
        }
    }
    mask
}

/// The cell as a boolean: any spelling of [`BOOLEAN_PAIRS`], or `1` / `0`.
pub fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim_ascii();
    if text == "1" {
        return Some(true);
    }
    if text == "0" {
        return Some(false);
    }
    BOOLEAN_PAIRS.iter().find_map(|(yes, no)| {
        if text.eq_ignore_ascii_case(yes) {
            Some(true)
        } else if text.eq_ignore_ascii_case(no) {
            Some(false)
        } else {
            None
        }
    })
}

/// At most this many spellings are counted per column; a boolean column has a handful.
const MAX_BOOLEAN_SPELLINGS: usize = 16;

/// The spellings of true and false seen in a column, counted, so that booleans are written
/// back the way the source wrote them (`Yes`/`No` rather than `true`/`false`).
#[derive(Debug, Clone, Default)]
pub struct BooleanSpellings {
    /// Each spelling (trimmed, exact case) with the value it reads as and how often it was
    /// seen, in order of first appearance.
    seen: Vec<(String, bool, u64)>,
}

impl BooleanSpellings {
    /// Counts the cell's spelling when it reads as a boolean, and gives its value.
    pub fn observe(&mut self, text: &str) -> Option<bool> {
        let text = text.trim_ascii();
        let value = parse_bool(text)?;
        if let Some(entry) = self.seen.iter_mut().find(|(s, _, _)| s == text) {
            entry.2 += 1;
        } else if self.seen.len() < MAX_BOOLEAN_SPELLINGS {
            self.seen.push((text.to_string(), value, 1));
        }
        Some(value)
    }

    /// The labels for true and false: for each, the spelling seen most often (the first seen
    /// on a tie). A value never seen is spelled like its partner (`No` for `Yes`, `0` for
    /// `1`). `None` when nothing was seen.
    pub fn labels(&self) -> Option<(String, String)> {
        let most_seen = |value: bool| {
            let mut best: Option<&(String, bool, u64)> = None;
            for entry in self.seen.iter().filter(|e| e.1 == value) {
                if best.is_none_or(|b| entry.2 > b.2) {
                    best = Some(entry);
                }
            }
            best.map(|(spelling, _, _)| spelling.clone())
        };
        match (most_seen(true), most_seen(false)) {
            (Some(yes), Some(no)) => Some((yes, no)),
            (Some(yes), None) => {
                let no = partner_spelling(&yes);
                Some((yes, no))
            }
            (None, Some(no)) => Some((partner_spelling(&no), no)),
            (None, None) => None,
        }
    }
}

/// The other value's spelling in the same pair and case: `No` for `Yes`, `F` for `T`, `0` for
/// `1`.
fn partner_spelling(spelling: &str) -> String {
    let partner = match spelling {
        "1" => return "0".into(),
        "0" => return "1".into(),
        _ => BOOLEAN_PAIRS.iter().find_map(|(yes, no)| {
            if spelling.eq_ignore_ascii_case(yes) {
                Some(*no)
            } else if spelling.eq_ignore_ascii_case(no) {
                Some(*yes)
            } else {
                None
            }
        }),
    };
    let Some(partner) = partner else {
        return spelling.to_string();
    };
    if spelling == spelling.to_ascii_uppercase() {
        return partner.to_ascii_uppercase();
    }
    if spelling.starts_with(|c: char| c.is_ascii_uppercase()) {
        return partner[..1].to_ascii_uppercase() + &partner[1..];
    }
    partner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_tokens_are_compared_trimmed() {
        let defaults: Vec<String> = DEFAULT_NA_VALUES.iter().map(|s| s.to_string()).collect();
        let nulls = NullTokens::new(&defaults);
        for cell in ["", " ", " ?", "NA", "N/A ", "nan", "NULL", "None"] {
            assert!(nulls.is_null(cell), "{cell:?}");
        }
        for cell in ["0", "n", "State-gov", "Nan"] {
            assert!(!nulls.is_null(cell), "{cell:?}");
        }
    }

    #[test]
    fn numbers_with_leading_zeros_stay_text() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("-7"), Some(-7));
        assert_eq!(parse_int("0"), Some(0));
        assert!(has_leading_zero("007"));
        assert!(has_leading_zero(" -0123"));
        assert!(!has_leading_zero("0"));
        assert!(!has_leading_zero("0.5"));
        assert_eq!(parse_int("007"), Some(7));
        assert_eq!(parse_float("0.5"), Some(0.5));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_float("abc"), None);
    }

    #[test]
    fn booleans_keep_to_a_pair() {
        assert_eq!(boolean_pairs("TRUE"), 1);
        assert_eq!(boolean_pairs("no"), 2);
        assert_eq!(boolean_pairs("maybe"), 0);
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("nope"), None);
    }

    fn labels(cells: &[&str]) -> Option<(String, String)> {
        let mut spellings = BooleanSpellings::default();
        for cell in cells {
            spellings.observe(cell);
        }
        spellings.labels()
    }

    fn pair(yes: &str, no: &str) -> Option<(String, String)> {
        Some((yes.to_string(), no.to_string()))
    }

    #[test]
    fn the_most_seen_spelling_of_each_value_wins() {
        assert_eq!(
            labels(&["Yes", "no", "No", "yes", "Yes"]),
            pair("Yes", "no")
        );
        assert_eq!(labels(&[" T", "F ", "t"]), pair("T", "F"));
        assert_eq!(labels(&["1", "0", "maybe"]), pair("1", "0"));
        assert_eq!(labels(&["True", "FALSE"]), pair("True", "FALSE"));
        assert_eq!(labels(&["maybe", ""]), None);
    }

    #[test]
    fn an_unseen_value_is_spelled_like_its_partner() {
        assert_eq!(labels(&["Yes", "Yes"]), pair("Yes", "No"));
        assert_eq!(labels(&["FALSE"]), pair("TRUE", "FALSE"));
        assert_eq!(labels(&["y"]), pair("y", "n"));
        assert_eq!(labels(&["N"]), pair("Y", "N"));
        assert_eq!(labels(&["1"]), pair("1", "0"));
        assert_eq!(labels(&["t"]), pair("t", "f"));
    }
}
