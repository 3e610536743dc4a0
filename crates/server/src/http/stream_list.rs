//! Long JSON lists (a topic's events, the tasks) written a page at a time, byte for byte as Go's
//! `json.MarshalIndent` writes them whole: three readers of a topic with 200 000 events cost
//! three pages of memory rather than three copies of a quarter-gigabyte answer, and each page is
//! read and rendered on the blocking pool, off the async workers that answer `/ping`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use serde_json::Value;
use tokio::task::JoinHandle;

/// Stands in the document for the list, whose text is cut around it.
const SENTINEL: &str = "@@klaxon-streamed-list@@";

/// One page of a list: its items, and where the next page starts (`None` after the last).
#[derive(Debug)]
pub struct Page<C> {
    /// The items, in the list's order.
    pub items: Vec<Value>,
    /// The cursor of the next page.
    pub next: Option<C>,
}

/// Reads the page a cursor points at. Runs on the blocking pool.
type Fetch<C> = Arc<dyn Fn(C) -> Page<C> + Send + Sync>;

/// A `200` answer: `document` (an object) with its `key` set to the list that `fetch` reads page
/// by page from `start`. The document's other keys are written before the list is read.
pub fn pretty_list<C>(
    document: Value,
    key: &str,
    start: C,
    fetch: impl Fn(C) -> Page<C> + Send + Sync + 'static,
) -> Response
where
    C: Send + Unpin + 'static,
{
    let mut document = document;
    document[key] = Value::Array(vec![Value::String(SENTINEL.to_owned())]);
    let text = klaxon_core::json::to_go_string_pretty(&document);
    let quoted = format!("\"{SENTINEL}\"");
    let at = text
        .find(&quoted)
        .expect("the sentinel is in the document it was put in");
    let head = text[..at].to_owned();
    let tail = text[at + quoted.len()..].to_owned();
    let indent: Arc<str> = head.rsplit('\n').next().unwrap_or_default().into();
    let body = ListBody {
        head: Some(head),
        tail: Some(tail),
        indent,
        next: Some(start),
        pending: None,
        wrote_items: false,
        fetch: Arc::new(fetch),
    };
    let mut response = (StatusCode::OK, Body::new(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

struct ListBody<C> {
    /// The document up to the list's first item, held back until an item is known: an empty
    /// list is written `[]` on one line.
    head: Option<String>,
    /// The document after the list's last item.
    tail: Option<String>,
    /// The indentation of the list's items.
    indent: Arc<str>,
    /// The cursor of the next page to read; `None` once the last page is read.
    next: Option<C>,
    /// The page being read and rendered.
    pending: Option<JoinHandle<(String, Option<C>)>>,
    wrote_items: bool,
    fetch: Fetch<C>,
}

/// The items of `page` as they appear in the whole document, after a comma unless `first`.
fn render(items: &[Value], indent: &str, mut first: bool) -> String {
    let mut out = String::new();
    let newline = format!("\n{indent}");
    for item in items {
        if !first {
            out.push(',');
            out.push_str(&newline);
        }
        first = false;
        out.push_str(&klaxon_core::json::to_go_string_pretty(item).replace('\n', &newline));
    }
    out
}

impl<C: Send + Unpin + 'static> http_body::Body for ListBody<C> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        loop {
            if let Some(pending) = this.pending.as_mut() {
                let done = std::task::ready!(Pin::new(pending).poll(cx));
                this.pending = None;
                match done {
                    Ok((chunk, next)) => {
                        this.next = next;
                        if !chunk.is_empty() {
                            this.wrote_items = true;
                            let mut out = this.head.take().unwrap_or_default();
                            out.push_str(&chunk);
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                        }
                    }
                    // The runtime is shutting down (or the page panicked): the list ends here,
                    // still well-formed.
                    Err(e) => tracing::error!(error = %e, "a page of a list could not be read"),
                }
                continue;
            }
            if let Some(cursor) = this.next.take() {
                let fetch = Arc::clone(&this.fetch);
                let indent = Arc::clone(&this.indent);
                let first = !this.wrote_items;
                this.pending = Some(tokio::task::spawn_blocking(move || {
                    let page = fetch(cursor);
                    (render(&page.items, &indent, first), page.next)
                }));
                continue;
            }
            let Some(tail) = this.tail.take() else {
                return Poll::Ready(None);
            };
            let out = match this.head.take() {
                Some(head) => format!("{}{}", head.trim_end(), tail.trim_start()),
                None => tail,
            };
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// Pages of `size` items out of `items`, some of them empty as a filter leaves them.
    fn paged(items: Vec<Value>, size: usize) -> impl Fn(usize) -> Page<usize> {
        move |at| {
            let end = (at + size).min(items.len());
            Page {
                items: items[at..end]
                    .iter()
                    .filter(|v| !v["skip"].as_bool().unwrap_or(false))
                    .cloned()
                    .collect(),
                next: (end < items.len()).then_some(end),
            }
        }
    }

    #[tokio::test]
    async fn a_list_written_in_pages_is_the_document_written_whole() {
        let items: Vec<Value> = (0..7)
            .map(|i| json!({"id": format!("e{i}"), "state": {"level": "OK", "n": i}, "skip": i == 3 || i == 4}))
            .collect();
        let kept: Vec<Value> = items
            .iter()
            .filter(|v| !v["skip"].as_bool().unwrap())
            .cloned()
            .collect();
        for (list, size) in [(items.clone(), 2), (items.clone(), 100), (Vec::new(), 3)] {
            let wanted: Vec<Value> = if list.is_empty() {
                Vec::new()
            } else {
                kept.clone()
            };
            let document =
                json!({"link": {"rel": "self", "href": "/x"}, "topic": "t", "events": null});
            let mut whole = document.clone();
            whole["events"] = Value::Array(wanted);
            let response = pretty_list(document, "events", 0, paged(list, size));
            assert_eq!(
                text(response).await,
                klaxon_core::json::to_go_string_pretty(&whole)
            );
        }
    }

    #[tokio::test]
    async fn pages_that_are_all_filtered_out_give_an_empty_list() {
        let items = vec![json!({"skip": true}), json!({"skip": true})];
        let response = pretty_list(json!({"tasks": null}), "tasks", 0, paged(items, 1));
        assert_eq!(text(response).await, "{\n    \"tasks\": []\n}");
    }
}
