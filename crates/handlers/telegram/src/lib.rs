//! The `telegram` alert handler: sends each alert message to a Telegram chat through a bot's
//! `sendMessage`.
//!
//! For every event the handler sends, as Kapacitor does,
//!
//! ```text
//! POST https://api.telegram.org/bot<token>/sendMessage
//! Content-Type: application/json
//!
//! {"chat_id":"123456789","disable_notification":true,"disable_web_page_preview":true,"parse_mode":"Markdown","text":"cpu:nil is CRITICAL"}
//! ```
//!
//! followed by a newline. The URL is `[telegram] url` with the token and `/sendMessage` appended
//! (Go's `path.Join`, so `.../bot/` gives `.../bot/<token>/sendMessage`). The text is the
//! alert's rendered `.message()`. `chat_id` is always sent (the handler's, else the configured
//! one); `parse_mode` only when the handler or the configuration sets one, as written; each flag
//! only when true, in the handler or in the configuration.
//!
//! # Options
//!
//! | option                     | type   | meaning                                                       |
//! |----------------------------|--------|---------------------------------------------------------------|
//! | `chat-id`                  | string | User, group or channel ID, or `@channel`. Empty: `[telegram] chat-id`. A whole number is taken as its text. |
//! | `parse-mode`               | string | `Markdown`, `MarkdownV2` or `HTML`, any case. Empty: `[telegram] parse-mode`. |
//! | `disable-web-page-preview` | bool   | No link previews. `false` leaves `[telegram] disable-web-page-preview` in force. |
//! | `disable-notification`     | bool   | Send silently. `false` leaves `[telegram] disable-notification` in force. |
//!
//! # In a handler file
//!
//! ```yaml
//! topic: topic-name
//! id: handler-id
//! kind: telegram
//! options:
//!   chat-id: '123456789'
//!   parse-mode: 'Markdown'
//!   disable-web-page-preview: false
//!   disable-notification: false
//! ```
//!
//! # In TICKscript
//!
//! `.telegram()` takes no argument; the options are chained properties, spelled as in
//! Kapacitor (the two flags take no argument):
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .stateChangesOnly()
//!     .message('Hey, check your CPU')
//!     .telegram()
//!       .chatId('123456789')
//!       .disableNotification()
//!       .disableWebPagePreview()
//!       .parseMode('Markdown')
//! ```
//!
//! # Configuration
//!
//! ```toml
//! [telegram]
//!   enabled = true
//!   # The Bot API URL; it should not need changing.
//!   url = "https://api.telegram.org/bot"
//!   # The bot's token, from @BotFather. Secret.
//!   token = "123456789:AAE..."
//!   # The chat for handlers that name none.
//!   chat-id = "123456789"
//!   parse-mode = "Markdown"
//!   disable-web-page-preview = false
//!   disable-notification = false
//!   # Send every alert of every task, even without .telegram(); with state-changes-only,
//!   # every alert node emits only state changes.
//!   global = false
//!   state-changes-only = false
//! ```
//!
//! Refused at start and through the config API: enabling the service without a token
//! (`telegram: token is required when enabled: ...`) or without a URL, a URL that is not
//! http(s) with a host, and a parse mode Telegram does not know. The token is secret:
//! `klaxond config` and the config API show only whether it is set, and messages show
//! `[token]` in its place. Configuration changes apply to the next alert of every telegram
//! handler.
//!
//! # Failures
//!
//! A handler with an unknown parse mode is refused where it is defined
//! (`telegram: parse-mode "Markdown2" is not one of Markdown, MarkdownV2 or HTML`). At
//! delivery, each of these fails it; the engine logs it and, where marked, retries:
//!
//! - the service is disabled: `service is not enabled`;
//! - Telegram answers an error, with its description:
//!   `POST https://api.telegram.org/bot[token]/sendMessage: 400 Bad Request: Bad Request: chat not found`;
//!   retried for 5xx and 429, after the `Retry-After` header or Telegram's own `retry_after`;
//! - Telegram cannot be reached, or does not answer within 30 seconds (retried);
//! - the TLS handshake fails, naming the host (not retried).
//!
//! # Service test
//!
//! `klaxon service-tests telegram` (or `POST /kapacitor/v1/service-tests/telegram`) sends
//! `test telegram message` with Kapacitor's options, which default to the configuration:
//! `{"chat-id": <chat-id>, "parse-mode": <parse-mode>, "message": "test telegram message",
//! "disable-web-page-preview": <...>, "disable-notification": <...>}`.
//!
//! # Differences from Kapacitor
//!
//! - Parse modes are checked where they are written (Kapacitor: at each alert), and
//!   `MarkdownV2` is accepted (Kapacitor refuses it).
//! - A chat ID written as a number (`chat-id: 123456789` in YAML, `.chatId(123456789)`) is
//!   taken as its text; Kapacitor refuses it.
//! - Any 2xx answer is a success (Kapacitor: only 200). Failures go back to the engine, which
//!   retries 5xx and 429; Kapacitor logs them and drops the alert. Each request is bounded by 30
//!   seconds; Kapacitor's has no limit.
//! - No message shows the token; Kapacitor's transport errors show the URL, token included.
//! - `global` attaches a handler only while the service is enabled; Kapacitor attaches one to
//!   every alert node even when disabled, and each fails with `service is not enabled`.

mod config;
mod handler;

pub use config::{Config, DEFAULT_URL};
pub use handler::{Options, TelegramService, TestOptions};

klaxon_core::register_service!(TelegramService);

#[cfg(test)]
mod tests;
