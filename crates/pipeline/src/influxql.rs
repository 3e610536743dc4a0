//! The InfluxQL of a batch query: one `SELECT` statement cut into its clauses, so that the
//! scheduler can add the time range, the `GROUP BY` and the fill of each run, as Kapacitor
//! does; the clauses it keeps are sent as the user wrote them (whitespace runs made single).
//!
//! This is not a full InfluxQL parser: it finds the clauses at the top level (outside
//! parentheses, quotes and regexes) and leaves their content to InfluxDB, which reports what it
//! cannot run as a query error of the task.

use klaxon_core::Timestamp;

/// A `SELECT` statement cut into its clauses.
///
/// ```
/// use klaxon_pipeline::SelectStatement;
/// let select = SelectStatement::parse("SELECT mean(usage) FROM telegraf.autogen.cpu WHERE host = 'a'").unwrap();
/// assert_eq!(select.from(), "telegraf.autogen.cpu");
/// assert_eq!(select.condition(), Some("host = 'a'"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SelectStatement {
    fields: String,
    into: Option<String>,
    from: String,
    condition: Option<String>,
    /// Whether the condition has an `OR` outside parentheses, and so needs them before the
    /// time range is joined to it with `AND`.
    condition_has_or: bool,
    fill: Option<String>,
    /// `ORDER BY`, `LIMIT`, `OFFSET`, `SLIMIT`, `SOFFSET` and `TZ()`, as written, in order.
    tail: Vec<String>,
}

/// What a batch query adds to its statement at each run.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds<'a> {
    /// `time >= start`.
    pub start: Timestamp,
    /// `time < stop`.
    pub stop: Timestamp,
    /// The `GROUP BY` dimensions, rendered; none leaves the statement ungrouped.
    pub dimensions: &'a [String],
    /// `fill(...)` replacing the statement's own, if any.
    pub fill: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    QuotedIdent,
    Str,
    Regex,
    Punct,
    Space,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
}

/// The clause keywords, in the order InfluxQL prints them.
const CLAUSES: &[&str] = &[
    "SELECT", "INTO", "FROM", "WHERE", "GROUP", "FILL", "ORDER", "LIMIT", "OFFSET", "SLIMIT",
    "SOFFSET", "TZ",
];

impl SelectStatement {
    /// Cuts `query` into its clauses. It must be one `SELECT` statement with a `FROM` and no
    /// `GROUP BY` (the task's `.groupBy()` gives it), as Kapacitor requires.
    pub fn parse(query: &str) -> Result<SelectStatement, String> {
        let tokens = lex(query)?;
        let statements = split_statements(&tokens);
        if statements.len() != 1 {
            return Err(format!(
                "query must be a single select statement, got {} statements",
                statements.len()
            ));
        }
        let tokens = statements[0];
        let first = tokens.iter().find(|t| t.kind != Kind::Space);
        if !first.is_some_and(|t| t.kind == Kind::Word && t.text.eq_ignore_ascii_case("SELECT")) {
            return Err(format!(
                "query is not a select statement {:?}",
                render(tokens).trim()
            ));
        }
        let clauses = split_clauses(tokens)?;
        let mut select = SelectStatement {
            fields: String::new(),
            into: None,
            from: String::new(),
            condition: None,
            condition_has_or: false,
            fill: None,
            tail: Vec::new(),
        };
        for (keyword, body) in clauses {
            let text = render(body).trim().to_owned();
            match keyword {
                "SELECT" => select.fields = text,
                "INTO" => select.into = Some(text),
                "FROM" => select.from = text,
                "WHERE" => {
                    select.condition_has_or = has_top_level_or(body);
                    select.condition = Some(text);
                }
                "GROUP" => {
                    return Err(format!(
                        "the query has a GROUP BY clause ({text}); remove it and use the query's .groupBy() instead"
                    ));
                }
                "FILL" => select.fill = Some(text),
                _ => select.tail.push(text),
            }
        }
        if select.fields.is_empty() {
            return Err("failed to parse InfluxQL query: SELECT has no fields".to_owned());
        }
        if select.from.is_empty() {
            return Err(
                "failed to parse InfluxQL query: no FROM clause; write SELECT ... FROM \"db\".\"rp\".\"measurement\""
                    .to_owned(),
            );
        }
        Ok(select)
    }

    /// The `FROM` clause as written.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// The `WHERE` condition as written.
    pub fn condition(&self) -> Option<&str> {
        self.condition.as_deref()
    }

    /// The statement for one run: its condition joined to the time range, then `GROUP BY`,
    /// `fill` and the rest, as Kapacitor prints it.
    ///
    /// ```
    /// use klaxon_core::Timestamp;
    /// use klaxon_pipeline::{Bounds, SelectStatement};
    /// let select = SelectStatement::parse("SELECT mean(usage) FROM cpu WHERE a = 1 OR b = 2").unwrap();
    /// let dims = ["time(1m, 0s)".to_owned(), "host".to_owned()];
    /// let bounds = Bounds {
    ///     start: Timestamp::from_nanos(0),
    ///     stop: Timestamp::from_nanos(60_000_000_000),
    ///     dimensions: &dims,
    ///     fill: Some("fill(none)"),
    /// };
    /// assert_eq!(
    ///     select.render(&bounds),
    ///     "SELECT mean(usage) FROM cpu WHERE (a = 1 OR b = 2) AND time >= '1970-01-01T00:00:00Z' \
    ///      AND time < '1970-01-01T00:01:00Z' GROUP BY time(1m, 0s), host fill(none)"
    /// );
    /// ```
    pub fn render(&self, bounds: &Bounds<'_>) -> String {
        let mut out = format!("SELECT {}", self.fields);
        if let Some(into) = &self.into {
            out.push_str(" INTO ");
            out.push_str(into);
        }
        out.push_str(" FROM ");
        out.push_str(&self.from);
        out.push_str(" WHERE ");
        match &self.condition {
            Some(c) if self.condition_has_or => {
                out.push('(');
                out.push_str(c);
                out.push_str(") AND ");
            }
            Some(c) => {
                out.push_str(c);
                out.push_str(" AND ");
            }
            None => {}
        }
        out.push_str(&format!(
            "time >= '{}' AND time < '{}'",
            bounds.start.to_rfc3339_nano(),
            bounds.stop.to_rfc3339_nano()
        ));
        if !bounds.dimensions.is_empty() {
            out.push_str(" GROUP BY ");
            out.push_str(&bounds.dimensions.join(", "));
        }
        if let Some(fill) = bounds.fill.or(self.fill.as_deref()) {
            out.push(' ');
            out.push_str(fill);
        }
        for clause in &self.tail {
            out.push(' ');
            out.push_str(clause);
        }
        out
    }
}

/// Quotes an identifier for InfluxQL when it is not a plain one (`cpu`, `"my tag"`).
pub fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !CLAUSES.iter().any(|k| k.eq_ignore_ascii_case(name))
        && !["AND", "OR", "BY", "AS", "TIME"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(name));
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// InfluxQL's duration literal of `nanos`: the largest unit that divides it (`1m`, `90s`).
pub fn format_duration(nanos: i64) -> String {
    const UNITS: &[(i64, &str)] = &[
        (7 * 24 * 3_600_000_000_000, "w"),
        (24 * 3_600_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (size, unit) in UNITS {
        if nanos % size == 0 {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

fn lex(query: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = query.as_bytes();
    let mut tokens: Vec<Token<'_>> = Vec::new();
    let mut i = 0;
    let mut in_from = false;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = if c.is_ascii_whitespace() {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            Kind::Space
        } else if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            // A comment runs to the end of the line: it is whitespace.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            Kind::Space
        } else if c == b'"' || c == b'\'' {
            i = quoted(bytes, i, c).ok_or_else(|| {
                format!(
                    "failed to parse InfluxQL query: unterminated {} starting at byte {start}",
                    if c == b'"' { "identifier" } else { "string" }
                )
            })?;
            if c == b'"' {
                Kind::QuotedIdent
            } else {
                Kind::Str
            }
        } else if c == b'/' && regex_may_start(&tokens, in_from) {
            i = quoted(bytes, i, b'/').ok_or_else(|| {
                format!(
                    "failed to parse InfluxQL query: unterminated regex starting at byte {start}"
                )
            })?;
            Kind::Regex
        } else if c.is_ascii_alphanumeric() || c == b'_' || !c.is_ascii() {
            let number = c.is_ascii_digit();
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'_'
                    || !bytes[i].is_ascii()
                    || (number && bytes[i] == b'.'))
            {
                i += 1;
            }
            Kind::Word
        } else {
            let two = query.get(i..i + 2).unwrap_or("");
            i += if ["=~", "!~", "!=", "<>", "<=", ">=", "::"].contains(&two) {
                2
            } else {
                1
            };
            Kind::Punct
        };
        let text = &query[start..i];
        if kind == Kind::Word {
            let upper = text.to_ascii_uppercase();
            if upper == "FROM" {
                in_from = true;
            } else if CLAUSES.contains(&upper.as_str()) {
                in_from = false;
            }
        }
        tokens.push(Token { kind, text });
    }
    Ok(tokens)
}

/// The end (exclusive) of the quoted token opening at `start` with `quote`; `None` when it is
/// not closed. A backslash escapes the next byte.
fn quoted(bytes: &[u8], start: usize, quote: u8) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// A `/` opens a regex after `=~` and `!~`, and where a measurement may stand in `FROM`.
fn regex_may_start(tokens: &[Token<'_>], in_from: bool) -> bool {
    let previous = tokens.iter().rev().find(|t| t.kind != Kind::Space);
    match previous {
        Some(t) if t.kind == Kind::Punct => {
            t.text == "=~" || t.text == "!~" || (in_from && (t.text == "." || t.text == ","))
        }
        Some(t) if t.kind == Kind::Word => t.text.eq_ignore_ascii_case("FROM"),
        _ => false,
    }
}

/// The statements, split at `;` outside parentheses; empty ones (a trailing `;`) left out.
fn split_statements<'t, 'a>(tokens: &'t [Token<'a>]) -> Vec<&'t [Token<'a>]> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        match (t.kind, t.text) {
            (Kind::Punct, "(") => depth += 1,
            (Kind::Punct, ")") => depth = depth.saturating_sub(1),
            (Kind::Punct, ";") if depth == 0 => {
                out.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&tokens[start..]);
    out.retain(|s| s.iter().any(|t| t.kind != Kind::Space));
    out
}

/// The clauses of one statement at the top level: each keyword (upper case) with the tokens of
/// its body; `GROUP BY` loses its keywords, and the clauses sent as written (`fill(...)`,
/// `ORDER BY`, `LIMIT`...) keep theirs in the body.
fn split_clauses<'t, 'a>(
    tokens: &'t [Token<'a>],
) -> Result<Vec<(&'static str, &'t [Token<'a>])>, String> {
    let mut marks: Vec<(&'static str, usize, usize)> = Vec::new();
    let mut depth = 0usize;
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|i| tokens[*i].kind != Kind::Space)
        .collect();
    for (n, &i) in significant.iter().enumerate() {
        let t = tokens[i];
        match (t.kind, t.text) {
            (Kind::Punct, "(") => depth += 1,
            (Kind::Punct, ")") => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    "failed to parse InfluxQL query: a ')' closes no '('".to_owned()
                })?;
            }
            (Kind::Word, word) if depth == 0 => {
                let Some(keyword) = CLAUSES.iter().find(|k| k.eq_ignore_ascii_case(word)) else {
                    continue;
                };
                let next = significant.get(n + 1).map(|&j| tokens[j]);
                let next_is = |text: &str| next.is_some_and(|t| t.text.eq_ignore_ascii_case(text));
                match *keyword {
                    "GROUP" if next_is("BY") => {
                        let by = significant[n + 1];
                        marks.push((keyword, i, by + 1));
                    }
                    "ORDER" if next_is("BY") => marks.push((keyword, i, i)),
                    "GROUP" | "ORDER" => {}
                    // fill and tz are functions: their body starts at the keyword itself.
                    "FILL" | "TZ" if next_is("(") => marks.push((keyword, i, i)),
                    "FILL" | "TZ" => {}
                    "SELECT" | "INTO" | "FROM" | "WHERE" => marks.push((keyword, i, i + 1)),
                    // The clauses sent as written keep their keyword.
                    _ => marks.push((keyword, i, i)),
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("failed to parse InfluxQL query: a '(' is not closed".to_owned());
    }
    let mut clauses = Vec::with_capacity(marks.len());
    for (n, (keyword, _, body)) in marks.iter().enumerate() {
        let end = marks.get(n + 1).map_or(tokens.len(), |m| m.1);
        if clauses.iter().any(|(k, _)| k == keyword) {
            return Err(format!(
                "failed to parse InfluxQL query: {keyword} appears twice"
            ));
        }
        clauses.push((*keyword, &tokens[*body..end]));
    }
    Ok(clauses)
}

/// Tokens as text, each whitespace run (and comment) made one space.
fn render(tokens: &[Token<'_>]) -> String {
    let mut out = String::new();
    for t in tokens {
        if t.kind == Kind::Space {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push_str(t.text);
        }
    }
    out.trim_end().to_owned()
}

fn has_top_level_or(tokens: &[Token<'_>]) -> bool {
    let mut depth = 0usize;
    for t in tokens {
        match (t.kind, t.text) {
            (Kind::Punct, "(") => depth += 1,
            (Kind::Punct, ")") => depth = depth.saturating_sub(1),
            (Kind::Word, w) if depth == 0 && w.eq_ignore_ascii_case("OR") => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(dims: &[String], fill: Option<&'static str>) -> Bounds<'static> {
        Bounds {
            start: Timestamp::from_nanos(0),
            stop: Timestamp::from_nanos(10_000_000_000),
            dimensions: Box::leak(dims.to_vec().into_boxed_slice()),
            fill,
        }
    }

    #[test]
    fn kapacitors_invalid_queries_are_refused_with_its_messages() {
        assert_eq!(
            SelectStatement::parse("SELECT value FROM db.rp.m; DROP DATABASE _internal")
                .unwrap_err(),
            "query must be a single select statement, got 2 statements"
        );
        assert_eq!(
            SelectStatement::parse("DROP DATABASE _internal").unwrap_err(),
            "query is not a select statement \"DROP DATABASE _internal\""
        );
    }

    #[test]
    fn bad_queries_name_what_is_wrong() {
        for (query, wanted) in [
            ("SELECT value", "no FROM clause"),
            (
                "SELECT value FROM cpu WHERE host = 'a",
                "unterminated string",
            ),
            ("SELECT value FROM \"cpu", "unterminated identifier"),
            ("SELECT mean(value FROM cpu", "is not closed"),
            ("SELECT value) FROM cpu", "closes no"),
            (
                "SELECT value FROM cpu GROUP BY host",
                "GROUP BY clause (host)",
            ),
            ("", "got 0 statements"),
        ] {
            let err = SelectStatement::parse(query).unwrap_err();
            assert!(err.contains(wanted), "{query}: {err}");
        }
    }

    #[test]
    fn a_multi_line_query_is_sent_on_one_line_with_the_time_range() {
        let select = SelectStatement::parse(
            "\n    SELECT mean(\"value\")\n    FROM \"telegraf\".\"default\".cpu_usage_idle\n    WHERE \"host\" = 'serverA'\n",
        )
        .unwrap();
        assert_eq!(
            select.render(&bounds(&["time(10s, 0s)".into(), "cpu".into()], None)),
            "SELECT mean(\"value\") FROM \"telegraf\".\"default\".cpu_usage_idle WHERE \"host\" = 'serverA' \
             AND time >= '1970-01-01T00:00:00Z' AND time < '1970-01-01T00:00:10Z' GROUP BY time(10s, 0s), cpu"
        );
    }

    #[test]
    fn clauses_inside_subqueries_strings_and_regexes_stay_where_they_are() {
        let select = SelectStatement::parse(
            "SELECT max(v) FROM (SELECT v FROM a WHERE x = 'where from' GROUP BY host) WHERE host =~ /from|where/ fill(0) LIMIT 5",
        )
        .unwrap();
        assert_eq!(
            select.render(&bounds(&[], None)),
            "SELECT max(v) FROM (SELECT v FROM a WHERE x = 'where from' GROUP BY host) WHERE host =~ /from|where/ \
             AND time >= '1970-01-01T00:00:00Z' AND time < '1970-01-01T00:00:10Z' fill(0) LIMIT 5"
        );
        let select = SelectStatement::parse("SELECT v / 2 FROM db.rp./cpu.*/").unwrap();
        assert_eq!(select.from(), "db.rp./cpu.*/");
        assert_eq!(
            select.render(&bounds(&[], Some("fill(previous)"))),
            "SELECT v / 2 FROM db.rp./cpu.*/ WHERE time >= '1970-01-01T00:00:00Z' AND time < '1970-01-01T00:00:10Z' fill(previous)"
        );
    }

    #[test]
    fn durations_and_identifiers_print_as_influxql() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(60_000_000_000), "1m");
        assert_eq!(format_duration(90_000_000_000), "90s");
        assert_eq!(format_duration(7 * 24 * 3_600_000_000_000), "1w");
        assert_eq!(format_duration(1_500_000), "1500u");
        assert_eq!(format_duration(-5_000_000_000), "-5s");
        assert_eq!(quote_ident("cpu"), "cpu");
        assert_eq!(quote_ident("my tag"), "\"my tag\"");
        assert_eq!(quote_ident("from"), "\"from\"");
    }
}
