//! Glob patterns with Go's `path.Match` semantics, as Kapacitor's `pattern=` parameters use them;
//! silences match topics and alert IDs with them too, so that both read alike.
//!
//! Written here rather than taken from a glob crate because the API must match exactly what
//! Kapacitor matched: `*` and `?` never cross `/`, classes negate with `^`, `\` escapes, and there
//! is no `**` or `{a,b}`.

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(char),
    AnyChar,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A malformed pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern {0:?}")]
pub struct BadPattern(String);

impl Pattern {
    /// Parses `pattern`.
    pub fn new(pattern: &str) -> Result<Pattern, BadPattern> {
        let bad = || BadPattern(pattern.to_owned());
        let mut items = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            items.push(match c {
                '*' => Item::Star,
                '?' => Item::AnyChar,
                '\\' => Item::Literal(chars.next().ok_or_else(bad)?),
                '[' => {
                    let negated = chars.next_if_eq(&'^').is_some();
                    let mut ranges = Vec::new();
                    loop {
                        let lo = match chars.next().ok_or_else(bad)? {
                            ']' if !ranges.is_empty() => break,
                            ']' => return Err(bad()),
                            '\\' => chars.next().ok_or_else(bad)?,
                            '-' => return Err(bad()),
                            c => c,
                        };
                        let hi = if chars.next_if_eq(&'-').is_some() {
                            match chars.next().ok_or_else(bad)? {
                                '\\' => chars.next().ok_or_else(bad)?,
                                ']' | '-' => return Err(bad()),
                                c => c,
                            }
                        } else {
                            lo
                        };
                        if hi < lo {
                            return Err(bad());
                        }
                        ranges.push((lo, hi));
                    }
                    Item::Class { negated, ranges }
                }
                c => Item::Literal(c),
            });
        }
        Ok(Pattern { items })
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let text: Vec<char> = name.chars().collect();
        // Classic backtracking over the most recent star; stars never cross '/'.
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            if p < self.items.len() {
                match &self.items[p] {
                    Item::Star => {
                        star = Some((p, t));
                        p += 1;
                        continue;
                    }
                    item if item.matches_char(text[t]) => {
                        p += 1;
                        t += 1;
                        continue;
                    }
                    _ => {}
                }
            }
            match star {
                Some((sp, st)) if text[st] != '/' => {
                    star = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                _ => return false,
            }
        }
        self.items[p..].iter().all(|i| *i == Item::Star)
    }
}

impl Item {
    fn matches_char(&self, c: char) -> bool {
        match self {
            Item::Literal(l) => *l == c,
            Item::AnyChar => c != '/',
            Item::Star => false,
            Item::Class { negated, ranges } => {
                c != '/' && ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_like_go_path_match() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            ("*", "", true),
            ("*", "a/b", false),
            ("s*", "slack", true),
            ("s*", "tls", false),
            ("main:*", "main:task:alert2", true),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("[^a-c]x", "dx", true),
            ("\\*", "*", true),
            ("\\*", "x", false),
            ("handler*", "handler2", true),
            ("*x*y", "axbxy", true),
            ("exact", "exact", true),
            ("exact", "exact2", false),
        ];
        for &(pattern, name, expected) in cases {
            assert_eq!(
                Pattern::new(pattern).unwrap().matches(name),
                expected,
                "{pattern} ~ {name}"
            );
        }
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for pattern in ["[", "[]", "[a-", "\\", "[z-a]"] {
            assert!(Pattern::new(pattern).is_err(), "{pattern}");
        }
    }
}
