//! The API's paged collections (tasks, templates, recordings, replays) as the CLI reads them:
//! by glob pattern, 100 at a time as Kapacitor's CLI asks, and by several arguments at once.

use serde_json::Value;

use super::nothing_matched;
use crate::client::{Client, ClientError, encode_query};

/// One collection: its path under `/kapacitor/v1` and JSON key, and how the CLI names it.
#[derive(Debug, Clone, Copy)]
pub struct Collection {
    /// The path segment and the key of the list in a page (`tasks`).
    pub name: &'static str,
    /// One item, in errors (`task`).
    pub singular: &'static str,
    /// Extra query parameters for a list (`&fields=type,vars`), or empty.
    pub fields: &'static str,
}

impl Collection {
    /// `/kapacitor/v1/tasks`.
    pub const TASKS: Collection = Collection {
        name: "tasks",
        singular: "task",
        fields: "",
    };
    /// `/kapacitor/v1/templates`, with the fields `list templates` shows.
    pub const TEMPLATES: Collection = Collection {
        name: "templates",
        singular: "template",
        fields: "&fields=type,vars",
    };
    /// `/kapacitor/v1/recordings`.
    pub const RECORDINGS: Collection = Collection {
        name: "recordings",
        singular: "recording",
        fields: "",
    };
    /// `/kapacitor/v1/replays`.
    pub const REPLAYS: Collection = Collection {
        name: "replays",
        singular: "replay",
        fields: "",
    };

    /// The items whose IDs match `pattern` (every item for an empty one), page by page.
    pub async fn matching_one(
        &self,
        client: &Client,
        pattern: &str,
    ) -> Result<Vec<Value>, ClientError> {
        const PAGE: usize = 100;
        let mut all = Vec::new();
        loop {
            let page = client
                .get(&format!(
                    "/{}?pattern={}{}&offset={}&limit={PAGE}",
                    self.name,
                    encode_query(pattern),
                    self.fields,
                    all.len()
                ))
                .await?;
            let items = page[self.name].as_array().cloned().unwrap_or_default();
            let n = items.len();
            all.extend(items);
            if n < PAGE {
                return Ok(all);
            }
        }
    }

    /// The items matching any of `patterns` (all when none), sorted by ID and without repeats;
    /// with `require`, an argument that matches nothing (a typo) is an error naming it.
    pub async fn matching(
        &self,
        client: &Client,
        patterns: &[String],
        require: bool,
    ) -> Result<Vec<Value>, ClientError> {
        let all_items = [String::new()];
        let patterns = if patterns.is_empty() {
            &all_items[..]
        } else {
            patterns
        };
        let mut items: Vec<Value> = Vec::new();
        for pattern in patterns {
            let found = self.matching_one(client, pattern).await?;
            if require && found.is_empty() {
                let listing = format!("klaxon list {}", self.name);
                return Err(nothing_matched(self.singular, pattern, &listing));
            }
            for item in found {
                if !items.iter().any(|i| i["id"] == item["id"]) {
                    items.push(item);
                }
            }
        }
        items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        Ok(items)
    }
}
