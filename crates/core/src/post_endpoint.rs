//! The named HTTP endpoints a service offers to TICKscript's `|httpPost()` node (Kapacitor's
//! `[[httppost]]` endpoints, which its node uses through `.endpoint('name')`), so that the engine
//! finds them by asking every linked service ([`crate::Service::http_post_endpoints`]) instead of
//! naming the crate or the kind that has them.

use std::collections::BTreeMap;

/// One endpoint as the `|httpPost()` node uses it: where to post (a Go template over the posted
/// row), the headers to send, the basic-auth credentials and the body template, its file already
/// read.
///
/// ```
/// let endpoint = klaxon_core::PostEndpoint {
///     name: "rows".to_owned(),
///     url: "http://127.0.0.1:9000/{{ .Name }}".to_owned(),
///     headers: [("From".to_owned(), "klaxon".to_owned())].into(),
///     basic_auth: None,
///     row_template: Some("{{ .Name }} {{ len .Values }}".to_owned()),
/// };
/// assert_eq!(endpoint.name, "rows");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostEndpoint {
    /// The name `.endpoint('name')` gives.
    pub name: String,
    /// The URL, a Go template executed with the row (`.Name`, `.Tags`, `.Values`).
    pub url: String,
    /// Headers sent with every post, before the node's own `.header()`s.
    pub headers: BTreeMap<String, String>,
    /// HTTP basic-auth credentials (user name, password), when both are set.
    pub basic_auth: Option<(String, String)>,
    /// The body template for each row, when the endpoint has one; otherwise the row is posted as
    /// JSON.
    pub row_template: Option<String>,
}
