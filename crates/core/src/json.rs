//! JSON written byte for byte as Go's `encoding/json` writes it.
//!
//! Kapacitor's clients and the programs behind exec and tcp handlers see Go's output, so Klaxon
//! copies its three habits that serde_json does not share: `<`, `>`, `&`, U+2028 and U+2029 are
//! escaped as `\u003c` and so on; floats print in the shortest form with no `.0` for integral values
//! (`10`, not `10.0`); and the exponent form appears only below 1e-6 or from 1e21 up (`1e-7`,
//! `1e+21`). Struct fields keep declaration order and `BTreeMap`s sort their keys, as Go does.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};

/// Encodes `value` as compact JSON the way Go's `json.Marshal` does (no trailing newline).
///
/// ```
/// use std::collections::BTreeMap;
///
/// let mut fields = BTreeMap::new();
/// fields.insert("value", 10.0);
/// fields.insert("<b>", 1e-7);
/// assert_eq!(
///     klaxon_core::json::to_go_string(&fields),
///     r#"{"\u003cb\u003e":1e-7,"value":10}"#
/// );
/// ```
pub fn to_go_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(256);
    write_go(&mut out, value);
    bytes_to_string(out)
}

/// Appends the compact Go encoding of `value` to `out`.
pub fn write_go<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let mut ser = serde_json::Serializer::with_formatter(out, GoFormatter(CompactFormatter));
    // Writing into a Vec cannot fail, and every type we encode serializes infallibly.
    let _ = value.serialize(&mut ser);
}

/// Writes `fragment` (text serde_json has already escaped for JSON) with Go's extra escapes.
/// Scans bytes, not chars: the escaped characters are ASCII, or U+2028 and U+2029, whose UTF-8
/// (E2 80 A8, E2 80 A9) no other character's encoding contains, and decoding every char was
/// the larger part of encoding an alert (docs/benchmarks.md, tcp).
fn write_go_fragment<W: ?Sized + io::Write>(writer: &mut W, fragment: &str) -> io::Result<()> {
    let bytes = fragment.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        let (escaped, len): (&[u8], usize) = match bytes[i] {
            b'<' => (b"\\u003c", 1),
            b'>' => (b"\\u003e", 1),
            b'&' => (b"\\u0026", 1),
            0xE2 if bytes.get(i + 1) == Some(&0x80) => match bytes.get(i + 2) {
                Some(0xA8) => (b"\\u2028", 3),
                Some(0xA9) => (b"\\u2029", 3),
                _ => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                i += 1;
                continue;
            }
        };
        writer.write_all(&bytes[start..i])?;
        writer.write_all(escaped)?;
        i += len;
        start = i;
    }
    writer.write_all(&bytes[start..])
}

/// Encodes `value` the way Go's `json.MarshalIndent(v, "", "    ")` does: four-space indents, no
/// trailing newline. This is the shape of Kapacitor's HTTP API responses.
///
/// ```
/// let v = serde_json::json!({"id": "cpu", "level": "OK"});
/// assert_eq!(
///     klaxon_core::json::to_go_string_pretty(&v),
///     "{\n    \"id\": \"cpu\",\n    \"level\": \"OK\"\n}"
/// );
/// ```
pub fn to_go_string_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(512);
    let formatter = GoFormatter(PrettyFormatter::with_indent(b"    "));
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    let _ = value.serialize(&mut ser);
    bytes_to_string(out)
}

fn bytes_to_string(bytes: Vec<u8>) -> String {
    // serde_json only ever writes UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Formats a float the way Go's `encoding/json` does.
///
/// ```
/// use klaxon_core::json::go_float;
/// assert_eq!(go_float(1.0), "1");
/// assert_eq!(go_float(0.000001), "0.000001");
/// assert_eq!(go_float(0.0000001), "1e-7");
/// assert_eq!(go_float(1e21), "1e+21");
/// assert_eq!(go_float(2.469916402324427), "2.469916402324427");
/// ```
pub fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        // Rust's Display is the shortest round-trip form and never uses an exponent, like Go's 'f'.
        return format!("{f}");
    }
    // Rust gives "1.5e-7" / "1e21"; Go gives "1.5e-7" (after encoding/json trims "e-07") / "1e+21".
    let text = format!("{f:e}");
    match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => text,
    }
}

/// A serde_json formatter that escapes and prints numbers as Go does, wrapping the compact or
/// pretty formatter for layout.
#[derive(Debug, Clone)]
struct GoFormatter<F>(F);

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(go_float(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_go_fragment(writer, fragment)
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        self.0.write_char_escape(writer, char_escape)
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_key(writer)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_follow_go_thresholds() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (10.0, "10"),
            (-3.5, "-3.5"),
            (0.1, "0.1"),
            (1e-6, "0.000001"),
            (1.5e-7, "1.5e-7"),
            (1e-10, "1e-10"),
            (123456789.0, "123456789"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.2345e22, "1.2345e+22"),
            (-1e21, "-1e+21"),
            (0.3053477916297622, "0.3053477916297622"),
        ];
        for &(f, text) in cases {
            assert_eq!(go_float(f), text, "{f:?}");
        }
    }

    #[test]
    fn html_and_line_separators_are_escaped() {
        let s = "a<b>&c\u{2028}d\u{2029}é\"\\\n\t\u{1}";
        assert_eq!(
            to_go_string(s),
            r#""a\u003cb\u003e\u0026c\u2028d\u2029é\"\\\n\t\u0001""#
        );
    }

    /// Go's escapes, char by char: what the byte scan must equal.
    fn go_escaped_by_chars(fragment: &str) -> String {
        let mut out = String::new();
        for c in fragment.chars() {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
        out
    }

    proptest::proptest! {
        /// The invariant: for any text, the byte scan writes what escaping char by char writes,
        /// including the characters whose UTF-8 starts as U+2028's does (U+2000 to U+203F, and
        /// E2 itself in other positions).
        #[test]
        fn byte_scan_escapes_as_chars_do(
            fragment in "([<>&a\u{2028}\u{2029}\u{2027}\u{202a}\u{2000}\u{20ac}é]|.){0,40}"
        ) {
            let mut out = Vec::new();
            write_go_fragment(&mut out, &fragment).expect("a Vec takes every write");
            proptest::prop_assert_eq!(String::from_utf8(out).expect("utf-8"), go_escaped_by_chars(&fragment));
        }
    }

    #[test]
    fn non_finite_floats_become_null_instead_of_failing() {
        assert_eq!(to_go_string(&[f64::NAN, f64::INFINITY]), "[null,null]");
    }

    #[test]
    fn pretty_output_matches_go_marshal_indent() {
        let v = serde_json::json!({"a": [], "b": {}, "c": [1, 2.5]});
        assert_eq!(
            to_go_string_pretty(&v),
            "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n        2.5\n    ]\n}"
        );
    }
}
