//! The chat handlers (slack, teams, telegram, discord) in a real klaxond: Kapacitor's documented
//! configuration sections pasted into klaxon.toml, its documented TICKscripts and handler files
//! typed as written, each delivering to a local stand-in for the service, and
//! `klaxon service-tests <kind>` reaching the stand-in.

use klaxon_e2e::Klaxond;
use klaxon_http::testing::{Received, Receiver};

/// Starts klaxond with `config` appended to the harness's configuration.
fn start(config: &str) -> Klaxond {
    // The harness's blocking client is reqwest with rustls and no crypto provider of its own:
    // klaxon-http installs ring.
    klaxon_http::install_crypto_provider();
    Klaxond::builder().config(config).start()
}

/// Defines the enabled stream task `id` from a TICKscript as written (no dbrp: every database).
fn define(server: &Klaxond, id: &str, tick: &str) {
    let (status, answer) = server.define_task(id, tick, &[]);
    assert_eq!(status, 200, "{answer}");
}

fn write_point(server: &Klaxond, line: &str) {
    let response = server.send("POST", "/write?db=telegraf&rp=autogen&precision=s", line);
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
}

/// Checks a JSON post: method, path and query, content type and body.
fn assert_post(request: &Received, target: &str, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, target);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), body);
}

/// Kapacitor's documented CPU alert publishing to topic `cpu`, for the handler files.
const CPU_TOPIC_TICK: &str = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .warn(lambda: \"usage_idle\" < 20)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .topic('cpu')\n";

/// The same alert from measurement `disk`: it publishes to topic `cpu` while a task on `cpu`
/// stays quiet.
fn disk_topic_tick() -> String {
    CPU_TOPIC_TICK.replace("('cpu')\n  |alert", "('disk')\n  |alert")
}

const MESSAGE: &str = "Hey, check your CPU";

// slack ------------------------------------------------------------------------------------------

/// The Slack body Kapacitor posts, with its newline.
fn slack_body(message: &str, color: &str, channel: &str, icon: &str, username: &str) -> String {
    format!(
        "{{\"attachments\":[{{\"fallback\":\"{message}\",\"color\":\"{color}\",\"text\":\"{message}\",\"mrkdwn_in\":[\"text\"]}}],\"channel\":\"{channel}\",\"icon_emoji\":\"{icon}\",\"text\":\"\",\"username\":\"{username}\"}}\n"
    )
}

/// Kapacitor's Slack documentation: its `[[slack]]` section (the URL pointed at a stand-in, the
/// TLS file lines left out) beside a webhook workspace, its TICKscript and handler file, and the
/// service test.
#[test]
fn slack_as_kapacitors_documentation_writes_it() {
    let app = Receiver::http(vec![]);
    let webhook = Receiver::http(vec![]);
    let server = start(&format!(
        r##"
[[slack]]
  enabled = true
  default = true
  workspace = "example.slack.com"
  url = "{app}api/chat.postMessage"
  token = "mY5uP3Rs3CrE7t0keN"
  channel = "#alerts"
  username = "kapacitor"
  global = false
  state-changes-only = false
  insecure-skip-verify = false

[[slack]]
  enabled = true
  workspace = "alerts"
  url = "{webhook}services/T000/B000/XXXX"
"##,
        app = app.url(),
        webhook = webhook.url()
    ));

    define(
        &server,
        "slack_cpu",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .warn(lambda: \"usage_idle\" < 20)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .slack()\n      .iconEmoji(':exclamation:')\n",
    );
    define(&server, "cpu_alert", CPU_TOPIC_TICK);
    server.define_handler_from_file("slack_cpu_handler.yaml",
        "id: slack-cpu-alert\ntopic: cpu\nkind: slack\noptions:\n  workspace: 'alerts'\n  icon-emoji: ':fire:'\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=10");

    let request = app.next();
    assert_post(
        &request,
        "/api/chat.postMessage",
        &slack_body(MESSAGE, "warning", "#alerts", ":exclamation:", "kapacitor"),
    );
    assert_eq!(
        request.header("authorization"),
        Some("Bearer mY5uP3Rs3CrE7t0keN")
    );
    // A workspace written without channel or username sends them empty, as Kapacitor does.
    let request = webhook.next();
    assert_post(
        &request,
        "/services/T000/B000/XXXX",
        &slack_body(MESSAGE, "warning", "", ":fire:", ""),
    );
    assert_eq!(request.header("authorization"), None);

    server.assert_service_test_passes("slack");
    assert_post(
        &app.next(),
        "/api/chat.postMessage",
        &slack_body("test slack message", "danger", "#alerts", "", "kapacitor"),
    );
}

// teams ------------------------------------------------------------------------------------------

/// Kapacitor's Teams card (no newline; the summary cut at 70 bytes, then `...`).
fn teams_card(level: &str, id: &str, message: &str, color: &str) -> String {
    let summary = format!("{level}: [{id}] - {message}");
    format!(
        "{{\"@type\":\"MessageCard\",\"@context\":\"http://schema.org/extensions\",\"title\":\"{level}: [{id}]\",\"text\":\"{message}\",\"summary\":\"{}...\",\"themeColor\":\"{color}\"}}",
        &summary[..summary.len().min(70)]
    )
}

/// Kapacitor's Teams documentation: its `[teams]` section (with the `default` key Kapacitor
/// ignores), its TICKscripts (`.teams()` and `.teams().channelURL(...)`), a handler file, and
/// the service test.
#[test]
fn teams_as_kapacitors_documentation_writes_it() {
    let configured = Receiver::http(vec![]);
    let own = Receiver::http(vec![]);
    let server = start(&format!(
        "[teams]\n  enabled = true\n  default = true\n  channel-url =  \"{}webhook/abc\"\n  global = false\n  state-changes-only = false\n",
        configured.url()
    ));

    define(
        &server,
        "teams_cpu",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .warn(lambda: \"usage_idle\" < 20)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .teams()\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=10");
    let card = teams_card("WARNING", "cpu:nil", MESSAGE, "FFA533");
    assert_post(&configured.next(), "/webhook/abc", &card);

    define(
        &server,
        "teams_url",
        &format!(
            "stream\n  |from()\n    .measurement('mem')\n  |alert()\n    .warn(lambda: \"used\" > 80)\n    .message('Hey, check your CPU')\n    .teams()\n    .channelURL('{}webhook/def')\n",
            own.url()
        ),
    );
    write_point(&server, "mem,host=serverA used=90");
    let card = teams_card("WARNING", "mem:nil", MESSAGE, "FFA533");
    assert_post(&own.next(), "/webhook/def", &card);

    server.define_handler_from_file("teams_cpu_handler.yaml",
        &format!(
            "id: teams-cpu-alert\ntopic: cpu\nkind: teams\noptions:\n  channel-url: '{}webhook/ghi'\n",
            own.url()
        ),
    );
    define(&server, "disk_topic", &disk_topic_tick());
    write_point(&server, "disk,host=serverB usage_idle=5");
    let card = teams_card("WARNING", "disk:nil", MESSAGE, "FFA533");
    assert_post(&own.next(), "/webhook/ghi", &card);

    server.assert_service_test_passes("teams");
    let card = teams_card("CRITICAL", "foo/bar/bat", "test teams message", "CC4A31");
    assert_post(&configured.next(), "/webhook/abc", &card);
}

// telegram ---------------------------------------------------------------------------------------

/// Kapacitor's Telegram documentation: the sample kapacitor.conf section (the URL pointed at a
/// stand-in), its TICKscript, a handler file, and the service test.
#[test]
fn telegram_as_kapacitors_documentation_writes_it() {
    let telegram = Receiver::http(vec![]);
    let server = start(&format!(
        "[telegram]\n  enabled = true\n  url = \"{}bot\"\n  token = \"123456789:AAE\"\n  chat-id = \"xxxxxxxxx\"\n  parse-mode = \"Markdown\"\n  disable-web-page-preview = true\n  disable-notification = false\n  global = false\n  state-changes-only = false\n",
        telegram.url()
    ));
    let send_message = "/bot123456789:AAE/sendMessage";

    define(
        &server,
        "telegram_cpu",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .telegram()\n      .chatId('123456789')\n      .disableNotification()\n      .disableWebPagePreview()\n      .parseMode('Markdown')\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=5");
    assert_post(
        &telegram.next(),
        send_message,
        "{\"chat_id\":\"123456789\",\"disable_notification\":true,\"disable_web_page_preview\":true,\"parse_mode\":\"Markdown\",\"text\":\"Hey, check your CPU\"}\n",
    );

    server.define_handler_from_file(
        "telegram_cpu_handler.yaml",
        "id: telegram-cpu-alert\ntopic: cpu\nkind: telegram\noptions:\n  chat-id: '987654321'\n",
    );
    define(&server, "disk_topic", &disk_topic_tick());
    write_point(&server, "disk,host=serverB usage_idle=15");
    assert_post(
        &telegram.next(),
        send_message,
        "{\"chat_id\":\"987654321\",\"disable_web_page_preview\":true,\"parse_mode\":\"Markdown\",\"text\":\"Hey, check your CPU\"}\n",
    );

    server.assert_service_test_passes("telegram");
    assert_post(
        &telegram.next(),
        send_message,
        "{\"chat_id\":\"xxxxxxxxx\",\"disable_web_page_preview\":true,\"parse_mode\":\"Markdown\",\"text\":\"test telegram message\"}\n",
    );
}

// discord ----------------------------------------------------------------------------------------

/// The Discord body Kapacitor posts, with its newline.
fn discord_body(
    avatar: &str,
    color: u32,
    title: &str,
    message: &str,
    time: &str,
    user: &str,
) -> String {
    format!(
        "{{\"avatar_url\":\"{avatar}\",\"embeds\":[{{\"color\":{color},\"title\":\"{title}\",\"description\":\"{message}\",\"timestamp\":\"{time}\"}}],\"username\":\"{user}\"}}\n"
    )
}

const AVATAR: &str =
    "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png";

/// Kapacitor's Discord documentation: its `[[discord]]` section (the URL pointed at a stand-in,
/// the TLS file lines left out) beside a second workspace, its TICKscript and handler file, and
/// the service test.
#[test]
fn discord_as_kapacitors_documentation_writes_it() {
    let channel = Receiver::http(vec![]);
    let alerts = Receiver::http(vec![]);
    let server = start(&format!(
        r#"
[[discord]]
  enabled = true
  default = true
  url = "{channel}api/webhooks/1/xxxx"
  workspace = "guild-channel"
  timestamp = true
  username = "Kapacitor"
  avatar-url = "{AVATAR}"
  embed-title = "Kapacitor Alert"
  global = false
  state-changes-only = false
  insecure-skip-verify = false

[[discord]]
  enabled = true
  workspace = "guild-alerts"
  url = "{alerts}api/webhooks/2/yyyy"
"#,
        channel = channel.url(),
        alerts = alerts.url()
    ));

    define(
        &server,
        "discord_cpu",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .warn(lambda: \"usage_idle\" < 20)\n    .stateChangesOnly()\n    .message('Hey, check your CPU')\n    .discord()\n      .embedTitle('Uh Oh!')\n",
    );
    define(&server, "cpu_alert", CPU_TOPIC_TICK);
    server.define_handler_from_file("discord_cpu_handler.yaml",
        "id: discord-cpu-alert\ntopic: cpu\nkind: discord\noptions:\n  workspace: 'guild-alerts'\n  embed-title: 'Hey, Listen!'\n",
    );
    write_point(&server, "cpu,host=serverA usage_idle=10 60");

    assert_post(
        &channel.next(),
        "/api/webhooks/1/xxxx",
        &discord_body(
            AVATAR,
            16_026_936,
            "Uh Oh!",
            MESSAGE,
            "1970-01-01T00:01:00Z",
            "Kapacitor",
        ),
    );
    assert_post(
        &alerts.next(),
        "/api/webhooks/2/yyyy",
        &discord_body("", 16_026_936, "Hey, Listen!", MESSAGE, "", ""),
    );

    server.assert_service_test_passes("discord");
    assert_post(
        &channel.next(),
        "/api/webhooks/1/xxxx",
        &discord_body(
            AVATAR,
            8_021_490,
            "Kapacitor Alert",
            "test discord message",
            "1970-01-01T00:00:01Z",
            "Kapacitor",
        ),
    );
}

/// `global = true` gives every alert node a telegram handler without `.telegram()`, and
/// `state-changes-only = true` makes every alert node emit only state changes.
#[test]
fn telegram_global_and_state_changes_only_reach_tasks_without_the_handler() {
    let telegram = Receiver::http(vec![]);
    let server = start(&format!(
        "[telegram]\n  enabled = true\n  url = \"{}bot\"\n  token = \"T:1\"\n  chat-id = \"42\"\n  global = true\n  state-changes-only = true\n",
        telegram.url()
    ));
    define(
        &server,
        "cpu_alert",
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n",
    );

    write_point(&server, "cpu usage_idle=5");
    write_point(&server, "cpu usage_idle=6");
    write_point(&server, "cpu usage_idle=50");

    let body = |text: &str| format!("{{\"chat_id\":\"42\",\"text\":\"{text}\"}}\n");
    assert_post(
        &telegram.next(),
        "/botT:1/sendMessage",
        &body("cpu:nil is CRITICAL"),
    );
    // The second CRITICAL is not a state change: the next message is the recovery.
    assert_post(
        &telegram.next(),
        "/botT:1/sendMessage",
        &body("cpu:nil is OK"),
    );
}
