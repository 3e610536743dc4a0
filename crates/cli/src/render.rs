//! Showing where in a file an error is: the file, line and column, the source line and a caret
//! under the column, as compilers do.
//!
//! ```text
//! invalid TICKscript: line 4, column 32: expected ')' after argument list, found '.'
//!  --> cpu_alert.tick:4:32
//!   |
//! 4 |     .crit(lambda: "value" > 10 .warn(lambda: TRUE)
//!   |                                ^
//! ```

/// `message`, then the location in `path` and the source line of `source` with a caret under
/// `column` (both 1-based; columns count characters, as editors do). A line outside the source
/// gives the location alone.
pub fn at(message: &str, path: &str, source: &str, line: usize, column: usize) -> String {
    let mut out = format!("{message}\n --> {path}:{line}:{column}");
    let Some(text) = source.lines().nth(line.saturating_sub(1)) else {
        return out;
    };
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    // Tabs stay tabs under the line, so that the caret lines up however the terminal shows them.
    let indent: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    out.push_str(&format!(
        "\n{gutter} |\n{number} | {text}\n{gutter} | {indent}^"
    ));
    out
}

/// The line and column an error message names: Klaxon's `line 4, column 32` or Kapacitor's
/// `line 4 char 32`.
pub fn position(message: &str) -> Option<(usize, usize)> {
    let number = |text: &str| -> Option<usize> {
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        rest = &rest[at + 5..];
        let Some(line) = number(rest) else { continue };
        let after = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        let column = after
            .strip_prefix(", column ")
            .or_else(|| after.strip_prefix(" char "))
            .and_then(number);
        if let Some(column) = column {
            return Some((line, column));
        }
    }
    None
}

/// The line and column of key `key` in a YAML or JSON document `text`: its first occurrence as
/// a key (`key:`, `"key":`, `'key':`, `- key:`) at or after the line of key `within`, when
/// given (the options of a handler file). Good enough for the flat files a handler is written
/// in; `None` when the key is not found.
pub fn find_key(text: &str, key: &str, within: Option<&str>) -> Option<(usize, usize)> {
    let start = match within {
        Some(parent) => find_key(text, parent, None).map_or(0, |(line, _)| line - 1),
        None => 0,
    };
    for (index, line) in text.lines().enumerate().skip(start) {
        for quoted in [format!("\"{key}\""), format!("'{key}'"), key.to_owned()] {
            let mut from = 0;
            while let Some(found) = line[from..].find(&quoted) {
                let column = from + found;
                let before = line[..column].trim_end();
                let after = line[column + quoted.len()..].trim_start();
                let starts_key = before.is_empty()
                    || before.ends_with(['{', ',', '-'])
                    || before.ends_with("- ");
                if starts_key && after.starts_with(':') {
                    return Some((index + 1, line[..column].chars().count() + 1));
                }
                from = column + quoted.len();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caret_sits_under_the_column() {
        let source = "stream\n  |from()\n\t.crit(lambda: x)\n";
        assert_eq!(
            at("line 3, column 3: oops", "a.tick", source, 3, 3),
            "line 3, column 3: oops\n --> a.tick:3:3\n  |\n3 | \t.crit(lambda: x)\n  | \t ^"
        );
        assert_eq!(
            at("m", "a.tick", source, 9, 1),
            "m\n --> a.tick:9:1",
            "a line past the end gives the location alone"
        );
    }

    #[test]
    fn positions_are_read_in_both_servers_words() {
        assert_eq!(
            position("invalid TICKscript: line 4, column 32: expected ')'"),
            Some((4, 32))
        );
        assert_eq!(
            position("invalid TICKscript: parser: unexpected EOF line 2 char 7"),
            Some((2, 7))
        );
        assert_eq!(position("the pipeline has a line of nodes"), None);
    }

    #[test]
    fn keys_are_found_in_yaml_and_json() {
        let yaml = "id: x\ntopic: cpu\nkind: tcp\noptions:\n  adress: 127.0.0.1:7777\n";
        assert_eq!(find_key(yaml, "adress", Some("options")), Some((5, 3)));
        assert_eq!(find_key(yaml, "kind", None), Some((3, 1)));
        let json = "{\n  \"id\": \"x\",\n  \"options\": {\"id\": 1, \"adress\": \"a\"}\n}";
        assert_eq!(find_key(json, "id", Some("options")), Some((3, 15)));
        assert_eq!(find_key(json, "adress", Some("options")), Some((3, 24)));
        assert_eq!(find_key(yaml, "missing", None), None);
    }
}
