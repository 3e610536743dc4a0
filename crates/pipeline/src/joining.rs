//! What `|join()`, `|combine()` and `|flatten()` share: times rounded to `.tolerance()` as Go
//! rounds them, and the `.tolerance()`, `.delimiter()` and `.as()` prefixes they read.

use klaxon_tick::{Node, Property};

use crate::DefineError;
use crate::props;

/// Go's `time.Time.Round(d)`: the nearest multiple of `d` counted from Go's zero time (year 1),
/// halves rounded up; unchanged when `d` is not positive.
pub fn round(time: i64, d: i64) -> i64 {
    if d <= 0 {
        return time;
    }
    // Seconds from 0001-01-01 to 1970-01-01.
    const UNIX_TO_ZERO: i128 = 62_135_596_800 * 1_000_000_000;
    let d = i128::from(d);
    let r = (i128::from(time) + UNIX_TO_ZERO).rem_euclid(d);
    let rounded = if r + r < d {
        i128::from(time) - r
    } else {
        i128::from(time) + (d - r)
    };
    i64::try_from(rounded).unwrap_or(time)
}

/// `.tolerance(d)`: a duration, not negative.
pub fn tolerance(p: &Property) -> Result<i64, DefineError> {
    p.expect_args(1, 1)?;
    let tolerance = p.arg(0).as_duration()?;
    if tolerance < 0 {
        return Err(DefineError::new(
            props::first_arg_span(p),
            ".tolerance() must not be negative",
        ));
    }
    Ok(tolerance)
}

/// `.delimiter('.')`.
pub fn delimiter(p: &Property) -> Result<String, DefineError> {
    p.expect_args(1, 1)?;
    Ok(p.arg(0).as_str()?.to_owned())
}

/// Refuses what Kapacitor's `validate` of these nodes refuses: no `.as()`, not one name per
/// `each` (`node`, `lambda`), an empty name, a name containing the delimiter, a name twice.
pub fn prefixes(
    node: &Node,
    names: Option<Vec<String>>,
    expected: usize,
    each: &str,
    delimiter: &str,
) -> Result<Vec<String>, DefineError> {
    let kind = &node.name;
    let Some(names) = names else {
        return Err(DefineError::new(
            node.span,
            format!(
                "|{kind}() needs .as() to name the fields of each {each}, e.g. .as('errors', 'views')"
            ),
        ));
    };
    if names.len() != expected {
        return Err(DefineError::new(
            node.span,
            format!(
                "|{kind}() has {expected} {each}s but .as() gives {} names; give one per {each}",
                names.len()
            ),
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(DefineError::new(
                node.span,
                format!("a .as() name of |{kind}() is empty; give each {each} a prefix"),
            ));
        }
        if !delimiter.is_empty() && name.contains(delimiter) {
            return Err(DefineError::new(
                node.span,
                format!(
                    "the .as() name '{name}' of |{kind}() contains the delimiter '{delimiter}'; rename it or change .delimiter()"
                ),
            ));
        }
        if names[..i].contains(name) {
            return Err(DefineError::new(
                node.span,
                format!("|{kind}() has the .as() name '{name}' twice; give each {each} its own"),
            ));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_as_go_does() {
        let s = 1_000_000_000;
        assert_eq!(round(31_536_000 * s + s, 2 * s), 31_536_000 * s + 2 * s);
        assert_eq!(round(31_536_000 * s + s - 1, 2 * s), 31_536_000 * s);
        assert_eq!(round(5, 0), 5);
    }
}
