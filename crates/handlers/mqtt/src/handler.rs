//! The mqtt handler: publishes each alert's message to a topic of an MQTT broker.

use std::sync::Arc;

use klaxon_core::template::{Template, TemplateOptions};
use klaxon_core::{
    Chained, Event, Handler, HandlerError, Init, Invalid, Live, Service, TickShape, async_trait,
};
use serde::{Deserialize, Serialize};

use crate::config::{Broker, Transport};
use crate::connection::Connections;
use crate::{Config, Qos};

/// The options of one mqtt handler: the same type decodes handler files, the HTTP API and
/// TICKscript calls.
///
/// ```json
/// {"broker-name": "localhost", "topic": "alerts/{{ .TaskName }}", "qos": 1, "retained": true}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The `[[mqtt]]` broker to publish to, by its name. Empty: the default broker.
    pub broker_name: String,
    /// The topic, a Go template of the alert (`alerts/{{ .TaskName }}`). Required.
    pub topic: String,
    /// The quality of service: 0 (at most once), 1 (at least once) or 2 (exactly once), or
    /// "at-most-once", "at-least-once", "exactly-once".
    pub qos: Qos,
    /// Whether the broker keeps the message as the topic's last, for clients that subscribe
    /// later.
    pub retained: bool,
}

/// The options of the MQTT service test, Kapacitor's: a message published as given (the topic
/// is not a template).
///
/// ```json
/// {"broker-name": "localhost", "topic": "test", "message": "test MQTT message", "qos": "at-most-once", "retained": false}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestOptions {
    /// The broker; defaults to the default broker's name.
    pub broker_name: String,
    /// The topic. Required.
    pub topic: String,
    /// The message.
    pub message: String,
    /// The quality of service.
    pub qos: Qos,
    /// Whether the broker keeps the message as the topic's last.
    pub retained: bool,
}

/// The `mqtt` handler kind: publishes each alert's message to an MQTT broker.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_mqtt::{Broker, Config, MqttService, Options};
///
/// let config = Config::new(vec![Broker {
///     enabled: true,
///     name: "localhost".into(),
///     url: "tcp://localhost:1883".into(),
///     ..Broker::default()
/// }]);
/// let service = MqttService::new(Init::new(config)).unwrap();
/// let options = Options { topic: "alerts".into(), ..Options::default() };
/// assert!(service.handler(options.clone()).is_ok());
///
/// let elsewhere = Options { broker_name: "other".into(), ..options };
/// assert_eq!(
///     service.handler(elsewhere).unwrap_err().to_string(),
///     r#"unknown MQTT broker "other"; the [[mqtt]] brokers are: "localhost""#
/// );
/// ```
#[derive(Debug)]
pub struct MqttService {
    mqtt: Arc<Mqtt>,
}

/// The service's state, shared with its handlers: the live configuration and one connection
/// per broker.
#[derive(Debug)]
struct Mqtt {
    config: Live<Config>,
    connections: Connections,
}

/// The chained properties of `.mqtt(topic)`, spelled as in Kapacitor. `.topic()` after
/// `.mqtt()` sets the MQTT topic, as it does there.
const CHAINED: &[Chained] = &[
    Chained::value("brokerName", "broker-name"),
    Chained::value("qos", "qos"),
    Chained::value("retained", "retained"),
    Chained::value("topic", "topic"),
];

/// The message of the service test.
const TEST_MESSAGE: &str = "test MQTT message";

#[async_trait]
impl Service for MqttService {
    const KIND: &'static str = "mqtt";
    const DESCRIPTION: &'static str = "publishes each alert's message to an MQTT broker";
    const TICK: TickShape = TickShape::new("mqtt").args(&["topic"]).chained(CHAINED);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        // TLS files that cannot be used refuse to start, rather than failing every alert.
        check_tls(&init.config.get())?;
        Ok(MqttService {
            mqtt: Arc::new(Mqtt {
                config: init.config,
                connections: Connections::default(),
            }),
        })
    }

    /// Refuses TLS files that cannot be used; connections to brokers that changed are dropped
    /// (each reconnects with its new settings at its next message).
    fn reconfigure(&self, config: &Config) -> Result<(), Invalid> {
        check_tls(config)?;
        self.mqtt
            .connections
            .retain(|broker| config.broker(&broker.name).is_ok_and(|b| b == broker));
        Ok(())
    }

    /// Refuses a broker the configuration does not have (naming those it has), a missing topic,
    /// a topic template that does not parse, and a topic MQTT does not allow.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        self.mqtt.config.get().broker(&options.broker_name)?;
        if options.topic.is_empty() {
            return Err(Invalid::new(
                "topic is required: the MQTT topic to publish to, such as .mqtt('alerts') or \
                 topic: alerts",
            ));
        }
        let topic = TemplateOptions::new()
            // The dot stands for a Go struct, where a field that does not exist is an error: a
            // typo should say so rather than publish to a topic nobody reads.
            .missing_key_error()
            .parse("topic", &options.topic)
            .map_err(|e| Invalid::new(format!("topic {:?}: {e}", options.topic)))?;
        if topic.is_plain() {
            check_topic(&options.topic).map_err(Invalid::new)?;
        }
        Ok(Arc::new(MqttHandler {
            broker_name: options.broker_name,
            topic,
            qos: options.qos,
            retained: options.retained,
            mqtt: Arc::clone(&self.mqtt),
        }))
    }

    fn test_options(&self) -> TestOptions {
        let config = self.mqtt.config.get();
        TestOptions {
            broker_name: config
                .default_broker()
                .map(|b| b.name.clone())
                .unwrap_or_default(),
            message: TEST_MESSAGE.to_owned(),
            ..TestOptions::default()
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        if options.topic.is_empty() {
            return Err(HandlerError::permanent("missing MQTT topic"));
        }
        check_topic(&options.topic).map_err(HandlerError::permanent)?;
        let config = self.mqtt.config.get();
        let broker = config
            .broker(&options.broker_name)
            .map_err(|e| HandlerError::permanent(e.message()))?;
        self.mqtt
            .publish(
                broker,
                &options.topic,
                options.qos,
                options.retained,
                &options.message,
            )
            .await
    }

    async fn close(&self) {
        self.mqtt.connections.close().await;
    }
}

/// Publishes each event's message with one handler's options.
#[derive(Debug)]
struct MqttHandler {
    broker_name: String,
    topic: Template,
    qos: Qos,
    retained: bool,
    mqtt: Arc<Mqtt>,
}

#[async_trait]
impl Handler for MqttHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let config = self.mqtt.config.get();
        let broker = config
            .broker(&self.broker_name)
            .map_err(|e| HandlerError::permanent(e.message()))?;
        let topic = self.topic.render(event).map_err(|e| {
            HandlerError::permanent(format!("topic template {:?}: {e}", self.topic.source()))
        })?;
        if topic.is_empty() {
            return Err(HandlerError::permanent(format!(
                "missing MQTT topic: the topic template {:?} gave an empty topic",
                self.topic.source()
            )));
        }
        check_topic(&topic).map_err(HandlerError::permanent)?;
        self.mqtt
            .publish(
                broker,
                &topic,
                self.qos,
                self.retained,
                &event.state.message,
            )
            .await
    }
}

impl Mqtt {
    /// Publishes `message` as it is (Kapacitor's payload: the alert message's bytes, no
    /// newline) to `topic` on `broker`.
    async fn publish(
        &self,
        broker: &Broker,
        topic: &str,
        qos: Qos,
        retained: bool,
        message: &str,
    ) -> Result<(), HandlerError> {
        if !broker.enabled {
            return Err(HandlerError::permanent(format!(
                "MQTT broker {:?} is not enabled; set enabled = true in its [[mqtt]] section",
                broker.name
            )));
        }
        let connection = self.connections.get(broker)?;
        connection
            .publish(topic, qos.to_mqtt(), retained, message.as_bytes())
            .await
    }
}

/// What MQTT allows as the topic of a published message: some text, without the wildcards `+`
/// and `#` (for subscriptions only) or a NUL character, at most 65535 bytes.
fn check_topic(topic: &str) -> Result<(), String> {
    if topic.contains(['+', '#']) {
        return Err(format!(
            "topic {topic:?} has a wildcard (+ or #), which MQTT allows only in subscriptions"
        ));
    }
    if topic.contains('\0') {
        return Err(format!("topic {topic:?} has a NUL character"));
    }
    if topic.len() > usize::from(u16::MAX) {
        return Err(format!(
            "topic of {} bytes is longer than MQTT allows (65535)",
            topic.len()
        ));
    }
    Ok(())
}

/// Builds the TLS settings of every enabled ssl:// or wss:// broker, refusing, naming the broker,
/// files that cannot be used.
fn check_tls(config: &Config) -> Result<(), Invalid> {
    for broker in config.iter().filter(|b| b.enabled) {
        let secure = match broker.transport() {
            Ok(Transport::Tls { .. }) | Ok(Transport::WebSocket { tls: true, .. }) => true,
            Ok(_) | Err(_) => false,
        };
        if secure {
            klaxon_http::rustls_client(&broker.tls())
                .map_err(|e| Invalid::new(format!("broker {:?}: {e}", broker.name)))?;
        }
    }
    Ok(())
}
