//! A hand-written scanner for the lines almost every writer sends (no escapes, no backslash in a
//! string, no comment), borrowing every name and string from the body; any other line, valid or
//! not, goes to InfluxData's parser, so results and error messages stay exactly that parser's.
//!
//! The scanner only ever says "this line is X" when InfluxData's parser would say the same:
//! whatever it does not recognise it hands over (`None`) rather than judge. The tests below
//! check that against the parser on generated lines, on soup and on the corpus.

use std::borrow::Cow;

use influxdb_line_protocol::{EscapedStr, FieldValue as LpValue, ParsedLine};

/// A field's value as written, strings borrowed from the body when they can be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Float(f64),
    Int(i64),
    UInt(u64),
    Str(Cow<'a, str>),
    Bool(bool),
}

/// One line of line protocol, in the order written (tags and fields unsorted, duplicates kept, as
/// InfluxData's parser gives them). Reused from line to line so a body allocates its vectors
/// once.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Line<'a> {
    pub measurement: Cow<'a, str>,
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub fields: Vec<(Cow<'a, str>, Value<'a>)>,
    pub timestamp: Option<i64>,
}

impl<'a> Line<'a> {
    fn clear(&mut self) {
        self.measurement = Cow::Borrowed("");
        self.tags.clear();
        self.fields.clear();
        self.timestamp = None;
    }

    /// Fills the line from what InfluxData's parser made of it.
    pub fn fill_from(&mut self, parsed: ParsedLine<'a>) {
        self.clear();
        self.measurement = cow(parsed.series.measurement);
        for (key, value) in parsed.series.tag_set.into_iter().flatten() {
            self.tags.push((cow(key), cow(value)));
        }
        for (key, value) in parsed.field_set {
            let value = match value {
                LpValue::F64(f) => Value::Float(f),
                LpValue::I64(i) => Value::Int(i),
                LpValue::U64(u) => Value::UInt(u),
                LpValue::String(s) => Value::Str(cow(s)),
                LpValue::Boolean(b) => Value::Bool(b),
            };
            self.fields.push((cow(key), value));
        }
        self.timestamp = parsed.timestamp;
    }
}

fn cow(s: EscapedStr<'_>) -> Cow<'_, str> {
    match s {
        EscapedStr::SingleSlice(s) => Cow::Borrowed(s),
        EscapedStr::CopiedValue(s) => Cow::Owned(s),
    }
}

/// Bytes a name may hold on the fast path. Left out: what separates or escapes (space, tab,
/// newline, comma, equals, backslash), what InfluxData's parser treats specially somewhere
/// (double quote, NUL) and carriage return, so that a CRLF line gets that parser's error. A
/// multi-byte UTF-8 character has no byte below 0x80, so scanning bytes never splits one.
const PLAIN: [bool; 256] = {
    let mut table = [true; 256];
    let special = [b' ', b'\t', b'\n', b'\r', 0, b',', b'=', b'\\', b'"'];
    let mut i = 0;
    while i < special.len() {
        table[special[i] as usize] = false;
        i += 1;
    }
    table
};

/// Scans `raw`, one line as `split_lines` cut it, into `line`: `true` when the line is of the
/// plain shape and `line` holds exactly what InfluxData's parser would make of it, `false`
/// (with `line` in any state) when that parser must decide.
pub(crate) fn scan<'a>(raw: &'a str, line: &mut Line<'a>) -> bool {
    line.clear();
    let b = raw.as_bytes();
    // A comment or leading blanks: the parser trims them.
    if b.first() == Some(&b'#') {
        return false;
    }
    let mut i = 0;
    let Some(measurement) = name(raw, &mut i) else {
        return false;
    };
    line.measurement = Cow::Borrowed(measurement);
    while b.get(i) == Some(&b',') {
        i += 1;
        let Some(key) = name(raw, &mut i) else {
            return false;
        };
        if b.get(i) != Some(&b'=') {
            return false;
        }
        i += 1;
        let Some(value) = name(raw, &mut i) else {
            return false;
        };
        line.tags.push((Cow::Borrowed(key), Cow::Borrowed(value)));
    }
    if !spaces(b, &mut i) {
        return false;
    }
    loop {
        let Some(key) = name(raw, &mut i) else {
            return false;
        };
        if b.get(i) != Some(&b'=') {
            return false;
        }
        i += 1;
        let value = if b.get(i) == Some(&b'"') {
            // A string without a backslash ends at the next quote; with one, the parser
            // unescapes it.
            let start = i + 1;
            let Some(len) = b[start..].iter().position(|&c| c == b'"' || c == b'\\') else {
                return false;
            };
            if b[start + len] != b'"' {
                return false;
            }
            i = start + len + 1;
            Value::Str(Cow::Borrowed(&raw[start..start + len]))
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' && b[i] != b' ' {
                i += 1;
            }
            let Some(value) = value(&raw[start..i]) else {
                return false;
            };
            value
        };
        line.fields.push((Cow::Borrowed(key), value));
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b' ') | None => break,
            Some(_) => return false,
        }
    }
    if i == b.len() {
        return true;
    }
    // Blanks then a timestamp then blanks; blanks without a timestamp are an error.
    spaces(b, &mut i);
    let start = i;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    if !digits(b, &mut i) {
        return false;
    }
    let Ok(timestamp) = raw[start..i].parse::<i64>() else {
        return false;
    };
    spaces(b, &mut i);
    line.timestamp = Some(timestamp);
    i == b.len()
}

/// A non-empty run of [`PLAIN`] bytes from `*i`.
fn name<'a>(raw: &'a str, i: &mut usize) -> Option<&'a str> {
    let b = raw.as_bytes();
    let start = *i;
    while *i < b.len() && PLAIN[b[*i] as usize] {
        *i += 1;
    }
    (*i > start).then(|| &raw[start..*i])
}

/// Skips one or more spaces; `false` when there is none.
fn spaces(b: &[u8], i: &mut usize) -> bool {
    let start = *i;
    while b.get(*i) == Some(&b' ') {
        *i += 1;
    }
    *i > start
}

/// Skips one or more ASCII digits; `false` when there is none.
fn digits(b: &[u8], i: &mut usize) -> bool {
    let start = *i;
    while b.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    *i > start
}

/// A field value other than a string, as the parser reads it: `-12i`, `12u`, a float in one of
/// its four forms (`-1`, `-1.5`, `1e9`, `-1.5E-3`), or one of its ten spellings of a bool.
/// `None` for anything else, including integers out of range, whose errors the parser words.
fn value(token: &str) -> Option<Value<'static>> {
    let b = token.as_bytes();
    match b.last()? {
        b'i' => {
            let digits_part = &token[..token.len() - 1];
            let mut i = usize::from(digits_part.starts_with('-'));
            (digits(digits_part.as_bytes(), &mut i) && i == digits_part.len())
                .then(|| digits_part.parse().ok().map(Value::Int))
                .flatten()
        }
        b'u' => {
            let digits_part = &token[..token.len() - 1];
            let mut i = 0;
            (digits(digits_part.as_bytes(), &mut i) && i == digits_part.len())
                .then(|| digits_part.parse().ok().map(Value::UInt))
                .flatten()
        }
        _ => match token {
            "t" | "T" | "true" | "True" | "TRUE" => Some(Value::Bool(true)),
            "f" | "F" | "false" | "False" | "FALSE" => Some(Value::Bool(false)),
            _ => float_syntax(b)
                .then(|| token.parse().ok().map(Value::Float))
                .flatten(),
        },
    }
}

/// `-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?`: the union of the parser's four float forms.
fn float_syntax(b: &[u8]) -> bool {
    let mut i = usize::from(b.first() == Some(&b'-'));
    if !digits(b, &mut i) {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(b, &mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if !digits(b, &mut i) {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests;
