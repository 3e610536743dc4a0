//! Handler URLs: `http` or `https`, with a host, refused where they are defined.

use klaxon_core::Invalid;

/// Checks that `url` (the value of the option or key `field`) is an absolute `http` or `https`
/// URL with a host, and returns it parsed. The error names the field and the value and says how
/// to write it.
///
/// ```
/// assert!(klaxon_http::check_url("url", "https://hooks.example.com/alert").is_ok());
/// assert_eq!(
///     klaxon_http::check_url("url", "hooks.example.com/alert").unwrap_err().to_string(),
///     "url \"hooks.example.com/alert\" has no scheme; write it like \"https://hooks.example.com/alert\""
/// );
/// assert_eq!(
///     klaxon_http::check_url("url", "ftp://example.com/").unwrap_err().to_string(),
///     "url \"ftp://example.com/\" has the scheme \"ftp\"; only http and https are supported"
/// );
/// assert_eq!(
///     klaxon_http::check_url("url", "http:///path").unwrap_err().to_string(),
///     "url \"http:///path\" has no host; write it like \"http://host:port/path\""
/// );
/// ```
pub fn check_url(field: &str, url: &str) -> Result<reqwest::Url, Invalid> {
    if url.is_empty() {
        return Err(Invalid::new(format!(
            "{field} is required; write it like \"https://host/path\""
        )));
    }
    if !url.contains("://") {
        return Err(Invalid::new(format!(
            "{field} {url:?} has no scheme; write it like \"https://{}\"",
            url.trim_start_matches('/')
        )));
    }
    let scheme = url
        .split("://")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(Invalid::new(format!(
            "{field} {url:?} has the scheme {scheme:?}; only http and https are supported"
        )));
    }
    let after_scheme = &url[scheme.len() + 3..];
    if after_scheme.is_empty() || after_scheme.starts_with(['/', '?', '#']) {
        return Err(Invalid::new(format!(
            "{field} {url:?} has no host; write it like \"{scheme}://host:port/path\""
        )));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Invalid::new(format!("{field} {url:?} is not a valid URL: {e}")))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Invalid::new(format!(
            "{field} {url:?} has no host; write it like \"{scheme}://host:port/path\""
        )));
    }
    Ok(parsed)
}

/// `url` with `segments` added to its path (after any trailing `/`), empty ones left out and each
/// percent-encoded: Kapacitor's `path.Join` of a configured URL and keys (OpsGenie's recoveries,
/// VictorOps' API and routing keys). The error names the URL.
///
/// ```
/// let url = klaxon_http::append_segments("https://alert.victorops.com/integrations/", &["key", "", "route 1"]).unwrap();
/// assert_eq!(url.as_str(), "https://alert.victorops.com/integrations/key/route%201");
/// ```
pub fn append_segments(url: &str, segments: &[&str]) -> Result<reqwest::Url, Invalid> {
    let invalid = |reason: String| Invalid::new(format!("url {url:?} {reason}"));
    let mut parsed =
        reqwest::Url::parse(url).map_err(|e| invalid(format!("is not a valid URL: {e}")))?;
    parsed
        .path_segments_mut()
        .map_err(|()| invalid("cannot have a path".to_owned()))?
        .pop_if_empty()
        .extend(segments.iter().filter(|s| !s.is_empty()));
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn accepts_what_a_webhook_looks_like() {
        for url in [
            "http://127.0.0.1:8080/",
            "https://hooks.slack.com/services/T/B/X",
            "HTTPS://Example.com",
            "http://[::1]:9/alert?x=1",
            "https://user:pass@example.com/path",
        ] {
            assert!(check_url("url", url).is_ok(), "{url}");
        }
    }

    #[test]
    fn refuses_what_cannot_be_posted_to_naming_the_field() {
        for (url, reason) in [
            ("", "endpoint is required"),
            ("example.com", "has no scheme"),
            ("/relative/path", "has no scheme"),
            ("mailto://x", "has the scheme \"mailto\""),
            ("http://", "has no host"),
            ("https://?q", "has no host"),
            ("http://exa mple.com/", "is not a valid URL"),
            ("http://:80/", "is not a valid URL"),
        ] {
            let err = check_url("endpoint", url).expect_err(url).to_string();
            assert!(err.contains(reason), "{url}: {err}");
            assert!(err.starts_with("endpoint"), "{url}: {err}");
        }
    }
}
