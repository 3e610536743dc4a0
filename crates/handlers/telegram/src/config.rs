//! The `[telegram]` configuration section, and the checks its values and the handlers' share.

use klaxon_core::{Global, Invalid, ServiceConfig};
use klaxon_http::Url;
use serde::{Deserialize, Deserializer, Serialize};

/// Kapacitor's Telegram Bot API URL, to which the token is appended.
pub const DEFAULT_URL: &str = "https://api.telegram.org/bot";

/// The `[telegram]` section of the server configuration.
///
/// ```toml
/// [telegram]
/// enabled = true
/// url = "https://api.telegram.org/bot"
/// token = "123456789:AAE..."
/// chat-id = "123456789"
/// parse-mode = "Markdown"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the Telegram service is enabled. While it is not, telegram handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// The Telegram Bot API URL; the token and "/sendMessage" are appended to it. It should not
    /// need changing, but for a proxy or a local Bot API server.
    pub url: String,
    /// The bot's token, from @BotFather ("123456789:AAE..."). Required when enabled. Secret: the
    /// config API shows only whether it is set, and no message shows it.
    pub token: String,
    /// The chat (user, group or channel ID, or "@channelname") for handlers that name none.
    #[serde(deserialize_with = "chat_id")]
    pub chat_id: String,
    /// "Markdown", "MarkdownV2" or "HTML" (any case), for Telegram to format the message; empty
    /// for plain text. For handlers that name none.
    pub parse_mode: String,
    /// Send messages without link previews (a handler cannot turn this off).
    pub disable_web_page_preview: bool,
    /// Send messages silently (a handler cannot turn this off).
    pub disable_notification: bool,
    /// Whether every alert of every TICKscript task goes to Telegram, even without .telegram().
    pub global: bool,
    /// With global, every alert node emits only state changes.
    pub state_changes_only: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            url: DEFAULT_URL.to_owned(),
            token: String::new(),
            chat_id: String::new(),
            parse_mode: String::new(),
            disable_web_page_preview: false,
            disable_notification: false,
            global: false,
            state_changes_only: false,
        }
    }
}

impl Config {
    /// `global` and `state-changes-only`, while the service is enabled.
    pub(crate) fn global(&self) -> Global {
        Global::from_keys(self.enabled && self.global, self.state_changes_only)
    }

    /// The sendMessage URL of the bot: Kapacitor's `path.Join(url path + token, "sendMessage")`.
    /// `token` is the token, or a placeholder for messages.
    pub(crate) fn send_message_url(&self, token: &str) -> Result<Url, Invalid> {
        let mut url = klaxon_http::check_url("url", &self.url)?;
        let path = clean(&format!("{}{token}/sendMessage", url.path()));
        url.set_path(&path);
        Ok(url)
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["token"];

    fn validate(&self) -> Result<(), Invalid> {
        if self.enabled && self.url.is_empty() {
            return Err(Invalid::new(format!(
                "url is required when enabled; Telegram's is \"{DEFAULT_URL}\""
            )));
        }
        if self.enabled && self.token.is_empty() {
            return Err(Invalid::new(
                "token is required when enabled: the bot's token, from @BotFather",
            ));
        }
        if !self.url.is_empty() {
            klaxon_http::check_url("url", &self.url)?;
        }
        check_parse_mode("parse-mode", &self.parse_mode)
    }
}

/// Refuses a parse mode Telegram does not know (`field` names the key or option). Kapacitor
/// checks only at each alert and refuses MarkdownV2, which Telegram has had since 2020.
pub(crate) fn check_parse_mode(field: &str, mode: &str) -> Result<(), Invalid> {
    let known = ["markdown", "markdownv2", "html"];
    if mode.is_empty() || known.contains(&mode.to_ascii_lowercase().as_str()) {
        return Ok(());
    }
    Err(Invalid::new(format!(
        "{field} {mode:?} is not one of Markdown, MarkdownV2 or HTML"
    )))
}

/// A chat ID given as text, or as a whole number (chat IDs are numbers; an unquoted one in YAML
/// or TICKscript is one, which Kapacitor refuses).
pub(crate) fn chat_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(id) => Ok(id),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a chat ID, as text or a whole number, got {other}"
        ))),
    }
}

/// Go's `path.Clean` of an absolute path: no empty or `.` segments, `..` resolved, no trailing
/// slash.
fn clean(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    format!("/{}", segments.join("/"))
}
