//! Credentials inside URLs (`https://user:secret@host/...`) kept out of what the server shows:
//! the config API's sections, service-test answers and every log line (issue #25: the foo
//! handler's URL credentials were shown to read users and written to the info log).
//!
//! The password becomes `xxxxx`, as Go's `url.URL.Redacted` writes it; a user name without a
//! password (a token passed as the user, as some services take one) becomes `xxxxx` too.

use std::borrow::Cow;
use std::io;

use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

/// What a redacted secret reads as.
pub const REDACTED: &str = "xxxxx";

/// `text` with the credentials of every URL in it redacted.
///
/// ```
/// use klaxon_server::redact::url_credentials;
/// assert_eq!(
///     url_credentials("POST https://ops:s3cr3t@hooks.example.com/x failed"),
///     "POST https://ops:xxxxx@hooks.example.com/x failed"
/// );
/// assert_eq!(url_credentials("https://t0ken@api.example.com"), "https://xxxxx@api.example.com");
/// assert_eq!(url_credentials("mailto:ops@example.com, https://example.com/@x"),
///     "mailto:ops@example.com, https://example.com/@x");
/// ```
pub fn url_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends where the path, query or fragment starts, or the text does.
        let end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == '"' || c == '\''
            })
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                if let Some((user, _)) = userinfo.split_once(':') {
                    out.push_str(user);
                    out.push(':');
                }
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Redacts URL credentials in every string of `value`, in place.
pub fn json_urls(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(redacted) = url_credentials(s) {
                *s = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json_urls),
        Value::Object(map) => map.values_mut().for_each(json_urls),
        _ => {}
    }
}

/// A log writer maker whose writers redact URL credentials in every line.
#[derive(Debug)]
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

/// Writes through to the inner writer with URL credentials redacted; tracing writes each event
/// in one call, so a URL is never split between two.
#[derive(Debug)]
pub struct RedactingWriter<W>(W);

impl<W: io::Write> io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf).map(url_credentials) {
            Ok(Cow::Owned(redacted)) => self.0.write_all(redacted.as_bytes())?,
            _ => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_credentials_of_urls_change() {
        for (text, redacted) in [
            ("http://a:b@h:1/p?q=c:d@e", "http://a:xxxxx@h:1/p?q=c:d@e"),
            (
                "x http://a:b@h y https://c@d z",
                "x http://a:xxxxx@h y https://xxxxx@d z",
            ),
            ("url=\"https://u:p@h/x\"", "url=\"https://u:xxxxx@h/x\""),
            ("https://h/p@q", "https://h/p@q"),
            ("no url @ all", "no url @ all"),
            ("ends with ://", "ends with ://"),
        ] {
            assert_eq!(url_credentials(text), redacted, "{text}");
        }
        let mut json = serde_json::json!({"url": "https://u:p@h", "list": ["https://t@h"], "n": 1});
        json_urls(&mut json);
        assert_eq!(
            json,
            serde_json::json!({"url": "https://u:xxxxx@h", "list": ["https://xxxxx@h"], "n": 1})
        );
    }
}
