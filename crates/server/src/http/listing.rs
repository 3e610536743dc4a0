//! The list routes' query (`?pattern=&fields=&offset=&limit=`) for the collections that build
//! their whole list in memory (templates, recordings, replays): a page of it with the fields
//! asked for, `id` and `link` always.

use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use crate::pattern::Pattern;

/// `?pattern=&fields=&offset=&limit=`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pattern: Option<String>,
    offset: Option<String>,
    limit: Option<String>,
    fields: Option<String>,
}

impl ListQuery {
    /// The `pattern` glob (`*` when absent or empty).
    pub fn pattern(&self) -> Result<Pattern, ApiError> {
        let text = self
            .pattern
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("*");
        Pattern::new(text).map_err(|e| ApiError::bad_request(format!("invalid pattern: {e}")))
    }

    /// The page of `items` that `offset` and `limit` (100 unless given) ask for, each keeping
    /// the `fields` asked for out of `all` (by default those of `default`) in `all`'s order.
    pub fn page(
        &self,
        items: impl IntoIterator<Item = Value>,
        all: &[&str],
        default: &[&str],
    ) -> Result<Vec<Value>, ApiError> {
        let number = |name: &str, text: Option<&str>, default: usize| match text {
            None | Some("") => Ok(default),
            Some(text) => text.parse::<usize>().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid {name} parameter {text:?}: must be a non-negative integer"
                ))
            }),
        };
        let offset = number("offset", self.offset.as_deref(), 0)?;
        let limit = number("limit", self.limit.as_deref(), 100)?;
        let fields: Vec<&str> = match self.fields.as_deref().filter(|f| !f.is_empty()) {
            None => default.to_vec(),
            Some(fields) => {
                let mut wanted: Vec<&str> = fields.split(',').collect();
                if let Some(unknown) = wanted.iter().find(|f| !all.contains(f)) {
                    return Err(ApiError::bad_request(format!(
                        "unsupported field {unknown:?}; the fields are {}",
                        all.join(", ")
                    )));
                }
                wanted.extend(["id", "link"]);
                wanted
            }
        };
        Ok(items
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|full| {
                let picked: serde_json::Map<String, Value> = all
                    .iter()
                    .filter(|f| fields.contains(f))
                    .map(|f| ((*f).to_owned(), full[*f].clone()))
                    .collect();
                Value::Object(picked)
            })
            .collect())
    }
}
