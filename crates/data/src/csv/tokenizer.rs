//! A byte-level CSV tokenizer: RFC 4180 quoting with `""` escapes, quoted delimiters and
//! newlines, LF, CRLF and lone CR line ends, and a leading UTF-8 byte-order mark.
//!
//! It is a small state machine over a [`BufRead`], so that every error can say on which
//! physical line it happened, and so that a record's fields land in one reused buffer
//! (no allocation per cell).

use std::io::BufRead;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Why tokenizing stopped.
#[derive(Debug)]
pub enum TokenizeError {
    /// Reading the underlying stream failed.
    Io(std::io::Error),
    /// The stream ended inside a quoted field that began on `line`.
    UnterminatedQuote {
        /// The 1-based line where the quoted field begins.
        line: u64,
    },
}

/// One record: the bytes of its fields back to back, and where each field ends.
#[derive(Debug, Default, Clone)]
pub struct RawRecord {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    field_lines: Vec<u64>,
    line: u64,
}

impl RawRecord {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The 1-based physical line where the record begins.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The 1-based physical line where field `index` begins.
    pub fn field_line(&self, index: usize) -> u64 {
        self.field_lines.get(index).copied().unwrap_or(self.line)
    }

    /// The raw bytes of field `index` (already unquoted and, if asked, trimmed).
    pub fn field_bytes(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }

    /// Field `index` as text, or `None` when its bytes are not UTF-8.
    pub fn field(&self, index: usize) -> Option<&str> {
        std::str::from_utf8(self.field_bytes(index)).ok()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.field_lines.clear();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first byte of a field.
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: an escape or the closing quote.
    QuoteInQuoted,
}

/// Splits a byte stream into records.
#[derive(Debug)]
pub struct Tokenizer<R> {
    reader: R,
    delimiter: u8,
    trim: bool,
    /// The line the next byte is on.
    line: u64,
    /// Bytes of the stream consumed so far (only the first three matter, for the BOM).
    offset: u64,
    /// A CR ended the last line; an LF right after it belongs to the same line end.
    after_cr: bool,
    done: bool,
}

impl<R: BufRead> Tokenizer<R> {
    /// A tokenizer splitting fields at `delimiter`; with `trim`, ASCII whitespace around
    /// unquoted fields and outside quotes is dropped.
    pub fn new(reader: R, delimiter: u8, trim: bool) -> Self {
        Self {
            reader,
            delimiter,
            trim,
            line: 1,
            offset: 0,
            after_cr: false,
            done: false,
        }
    }

    /// Reads the next non-blank record into `record`; `Ok(false)` at the end of the stream.
    pub fn next_record(&mut self, record: &mut RawRecord) -> Result<bool, TokenizeError> {
        loop {
            if !self.read_record(record)? {
                return Ok(false);
            }
            let blank = record.len() == 1 && record.bytes.is_empty();
            if !blank {
                return Ok(true);
            }
        }
    }

    fn read_record(&mut self, record: &mut RawRecord) -> Result<bool, TokenizeError> {
        record.clear();
        if self.done {
            return Ok(false);
        }
        let mut state = State::FieldStart;
        let mut field_start = 0usize;
        // Bytes before this position came from inside quotes and are never trimmed.
        let mut kept = 0usize;
        let mut quote_line = self.line;
        let mut started = false;
        record.line = self.line;
        record.field_lines.push(self.line);
        loop {
            let buffer = match self.reader.fill_buf() {
                Ok(buffer) => buffer,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(TokenizeError::Io(e)),
            };
            if buffer.is_empty() {
                self.done = true;
                if state == State::Quoted {
                    return Err(TokenizeError::UnterminatedQuote { line: quote_line });
                }
                if !started {
                    record.clear();
                    return Ok(false);
                }
                end_field(self.trim, record, field_start, kept, state);
                return Ok(true);
            }
            let mut consumed = 0;
            let mut finished = false;
            for &byte in buffer {
                consumed += 1;
                if self.offset < 3 {
                    self.offset += 1;
                    if byte == BOM[self.offset as usize - 1]
                        && record.bytes.len() as u64 + 1 == self.offset
                    {
                        // Part of a byte-order mark so far: hold it back.
                        record.bytes.push(byte);
                        if self.offset == 3 {
                            record.bytes.clear();
                        }
                        continue;
                    }
                }
                if self.after_cr {
                    self.after_cr = false;
                    if byte == b'\n' {
                        continue;
                    }
                }
                started = true;
                match state {
                    State::FieldStart => {
                        if byte == b'"' {
                            state = State::Quoted;
                            quote_line = self.line;
                        } else if byte == self.delimiter {
                            end_field(self.trim, record, field_start, kept, state);
                            field_start = record.bytes.len();
                            kept = field_start;
                            record.field_lines.push(self.line);
                        } else if byte == b'\n' || byte == b'\r' {
                            (self.line, self.after_cr) = (self.line + 1, byte == b'\r');
                            end_field(self.trim, record, field_start, kept, state);
                            finished = true;
                            break;
                        } else if self.trim && is_blank(byte) {
                            // Leading whitespace of a field.
                        } else {
                            record.bytes.push(byte);
                            state = State::Unquoted;
                        }
                    }
                    State::Unquoted => {
                        if byte == self.delimiter {
                            end_field(self.trim, record, field_start, kept, state);
                            field_start = record.bytes.len();
                            kept = field_start;
                            record.field_lines.push(self.line);
                            state = State::FieldStart;
                        } else if byte == b'\n' || byte == b'\r' {
                            (self.line, self.after_cr) = (self.line + 1, byte == b'\r');
                            end_field(self.trim, record, field_start, kept, state);
                            finished = true;
                            break;
                        } else {
                            record.bytes.push(byte);
                        }
                    }
                    State::Quoted => {
                        if byte == b'"' {
                            state = State::QuoteInQuoted;
                        } else {
                            if byte == b'\n' {
                                self.line += 1;
                            }
                            record.bytes.push(byte);
                        }
                    }
                    State::QuoteInQuoted => {
                        if byte == b'"' {
                            record.bytes.push(b'"');
                            state = State::Quoted;
                        } else if byte == self.delimiter {
                            end_field(self.trim, record, field_start, record.bytes.len(), state);
                            field_start = record.bytes.len();
                            kept = field_start;
                            record.field_lines.push(self.line);
                            state = State::FieldStart;
                        } else if byte == b'\n' || byte == b'\r' {
                            (self.line, self.after_cr) = (self.line + 1, byte == b'\r');
                            end_field(self.trim, record, field_start, record.bytes.len(), state);
                            finished = true;
                            break;
                        } else {
                            // Text after a closing quote (`"ab"c`): keep it, as most readers do.
                            kept = record.bytes.len();
                            if !(self.trim && is_blank(byte)) {
                                record.bytes.push(byte);
                            }
                            state = State::Unquoted;
                        }
                    }
                }
            }
            self.reader.consume(consumed);
            if finished {
                return Ok(true);
            }
        }
    }
}

/// Closes the current field: with `trim`, drops trailing whitespace that did not come from
/// inside quotes (bytes before `kept` did).
fn end_field(trim: bool, record: &mut RawRecord, field_start: usize, kept: usize, state: State) {
    if trim && state != State::QuoteInQuoted {
        let floor = kept.max(field_start);
        while record.bytes.len() > floor && record.bytes.last().is_some_and(|&b| is_blank(b)) {
            record.bytes.pop();
        }
    }
    record.ends.push(record.bytes.len());
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t' || byte == b'\x0b' || byte == b'\x0c'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &[u8], delimiter: u8, trim: bool) -> Result<Vec<Vec<String>>, TokenizeError> {
        let mut tokenizer = Tokenizer::new(text, delimiter, trim);
        let mut record = RawRecord::default();
        let mut out = Vec::new();
        while tokenizer.next_record(&mut record)? {
            out.push(
                (0..record.len())
                    .map(|i| String::from_utf8_lossy(record.field_bytes(i)).into_owned())
                    .collect(),
            );
        }
        Ok(out)
    }

    fn ok(text: &str) -> Vec<Vec<String>> {
        records(text.as_bytes(), b',', true).expect("tokenizes")
    }

    #[test]
    fn splits_plain_fields_and_lines() {
        assert_eq!(ok("a,b\n1,2\n"), vec![vec!["a", "b"], vec!["1", "2"]]);
        assert_eq!(ok("a,b\r\n1,2"), vec![vec!["a", "b"], vec!["1", "2"]]);
        assert_eq!(ok("a,b\r1,2\r"), vec![vec!["a", "b"], vec!["1", "2"]]);
        assert_eq!(ok("a,,\n"), vec![vec!["a", "", ""]]);
    }

    #[test]
    fn quotes_hold_delimiters_newlines_and_escaped_quotes() {
        assert_eq!(
            ok("\"a,b\",\"say \"\"hi\"\"\"\n\"two\nlines\",x\n"),
            vec![vec!["a,b", "say \"hi\""], vec!["two\nlines", "x"]]
        );
        assert_eq!(ok("\"\",x"), vec![vec!["", "x"]]);
    }

    #[test]
    fn trims_outside_quotes_only() {
        assert_eq!(ok(" a , \" b \" ,c \n"), vec![vec!["a", " b ", "c"]]);
        let kept = records(b" a ,b", b',', false).expect("tokenizes");
        assert_eq!(kept, vec![vec![" a ", "b"]]);
    }

    #[test]
    fn skips_blank_lines_and_the_bom() {
        assert_eq!(
            ok("\u{feff}a,b\n\n1,2\n\n"),
            vec![vec!["a", "b"], vec!["1", "2"]]
        );
    }

    #[test]
    fn a_partial_bom_is_kept_as_data() {
        let out = records(&[0xEF, 0xBB, b'x', b'\n'], b',', true).expect("tokenizes");
        assert_eq!(out[0][0].len(), "\u{fffd}".len() + 1);
    }

    #[test]
    fn records_know_their_lines() {
        let mut tokenizer = Tokenizer::new(&b"a,b\n\"x\ny\",1\n3,4\n"[..], b',', true);
        let mut record = RawRecord::default();
        let mut lines = Vec::new();
        while tokenizer.next_record(&mut record).expect("ok") {
            lines.push((record.line(), record.field_line(1)));
        }
        assert_eq!(lines, vec![(1, 1), (2, 3), (4, 4)]);
    }

    #[test]
    fn an_open_quote_names_its_line() {
        let err = records(b"a,b\n1,2\n3,\"oops\n4,5\n", b',', true).expect_err("open quote");
        assert!(
            matches!(err, TokenizeError::UnterminatedQuote { line: 3 }),
            "{err:?}"
        );
    }

    #[test]
    fn other_delimiters() {
        let out = records(b"a;b\n1;2", b';', true).expect("ok");
        assert_eq!(out, vec![vec!["a", "b"], vec!["1", "2"]]);
        let out = records(b"a\tb\n1\t2", b'\t', true).expect("ok");
        assert_eq!(out, vec![vec!["a", "b"], vec!["1", "2"]]);
    }
}
