//! A body cut into lines exactly where InfluxData's `split_lines` cuts it, without decoding a
//! character for the lines that hold neither a double quote nor a backslash (nearly all).
//!
//! `split_lines` keeps a newline inside a quoted string value in its line, and skips the
//! character after a backslash; everything it tracks starts anew after each cut. So a stretch up
//! to the next newline with no quote and no backslash is always one line, and any other line is
//! left to `split_lines` itself, from that line's start.

use influxdb_line_protocol::split_lines;

/// The bytes after which the cut is `split_lines`'s to make.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'\n' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The lines of a body, as `split_lines` yields them (a trailing newline gives a last, empty
/// line), with each line's end known.
#[derive(Debug, Clone)]
pub(crate) struct Lines<'a> {
    body: &'a str,
    /// Where the next line starts; past `body.len()` once the last line was given.
    next: usize,
}

impl<'a> Lines<'a> {
    /// The lines of `body` from byte `from`, which must start a line.
    pub fn from(body: &'a str, from: usize) -> Lines<'a> {
        Lines { body, next: from }
    }

    /// Where the line after the last one given starts (past the body's end after the last).
    pub fn offset(&self) -> usize {
        self.next
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.body.get(self.next..)?;
        let bytes = rest.as_bytes();
        let stop = bytes.iter().position(|&b| SPECIAL[usize::from(b)]);
        let line = match stop {
            Some(i) if bytes[i] == b'\n' => &rest[..i],
            None => rest,
            // A quote or a backslash before the next newline: this line ends where
            // `split_lines` says (it always yields at least one, possibly empty, line).
            Some(_) => split_lines(rest).next().unwrap_or(rest),
        };
        // The cut is one newline byte, or the end of the body.
        self.next += line.len() + 1;
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn both(body: &str) -> (Vec<&str>, Vec<&str>) {
        (Lines::from(body, 0).collect(), split_lines(body).collect())
    }

    #[test]
    fn lines_are_cut_where_split_lines_cuts_them() {
        for body in [
            "",
            "\n",
            "a",
            "a\n",
            "a\nb",
            "a\n\nb\n",
            "m v=\"x\ny\" 1\nm v=1",
            "m v=\"x\\\"\ny\"\nz",
            "m\\\nv=1\nn v=2",
            "m v=\"open\nnever closed",
            "m,t=\"x v=1\nn v=2",
            "é v=\"ü\n\" 1\n",
        ] {
            let (ours, theirs) = both(body);
            assert_eq!(ours, theirs, "{body:?}");
        }
    }

    #[test]
    fn offset_is_where_the_next_line_starts() {
        let body = "a v=1\nb v=\"x\ny\"\nc v=3";
        let mut lines = Lines::from(body, 0);
        assert_eq!(lines.next(), Some("a v=1"));
        assert_eq!(&body[lines.offset()..], "b v=\"x\ny\"\nc v=3");
        assert_eq!(lines.next(), Some("b v=\"x\ny\""));
        assert_eq!(&body[lines.offset()..], "c v=3");
        let from = lines.offset();
        assert_eq!(lines.next(), Some("c v=3"));
        assert!(lines.offset() > body.len());
        assert_eq!(lines.next(), None);
        assert_eq!(Lines::from(body, from).collect::<Vec<_>>(), ["c v=3"]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// On any text made of what matters to the cut, the lines are `split_lines`'s.
        #[test]
        fn same_lines_as_split_lines(body in "[a= ,\"\\\\\n\té#]{0,60}") {
            let (ours, theirs) = both(&body);
            prop_assert_eq!(ours, theirs);
        }
    }
}
