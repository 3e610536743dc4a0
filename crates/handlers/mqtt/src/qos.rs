//! The `qos` option: MQTT's quality of service, written as Kapacitor takes it (a number, or
//! the names of its `QoSLevel`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The quality of service a message is published with. Written as `0`, `1` or `2`, or as
/// Kapacitor's names `"at-most-once"`, `"at-least-once"` and `"exactly-once"` (or
/// `"exactly-one"`, the only spelling of 2 that Kapacitor reads); shown as the names.
///
/// ```
/// use klaxon_handler_mqtt::Qos;
///
/// let qos: Qos = serde_json::from_str("1").unwrap();
/// assert_eq!(qos, Qos::AtLeastOnce);
/// assert_eq!(serde_json::to_string(&qos).unwrap(), r#""at-least-once""#);
///
/// let err = serde_json::from_str::<Qos>("3").unwrap_err().to_string();
/// assert!(err.starts_with("3 is not a QoS level; write 0 (at most once)"), "{err}");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Qos {
    /// 0: the broker gets the message once or not at all; nothing is acknowledged.
    #[default]
    AtMostOnce,
    /// 1: the broker acknowledges the message (PUBACK); it may get it twice.
    AtLeastOnce,
    /// 2: the broker gets the message exactly once (PUBREC, PUBREL, PUBCOMP).
    ExactlyOnce,
}

impl Qos {
    /// Kapacitor's name for the level.
    pub fn name(self) -> &'static str {
        match self {
            Qos::AtMostOnce => "at-most-once",
            Qos::AtLeastOnce => "at-least-once",
            Qos::ExactlyOnce => "exactly-once",
        }
    }

    /// The level as rumqttc takes it.
    pub(crate) fn to_mqtt(self) -> rumqttc::QoS {
        match self {
            Qos::AtMostOnce => rumqttc::QoS::AtMostOnce,
            Qos::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
            Qos::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
        }
    }
}

impl Serialize for Qos {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Qos {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Qos, D::Error> {
        struct QosVisitor;

        impl Visitor<'_> for QosVisitor {
            type Value = Qos;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0, 1, 2, \"at-most-once\", \"at-least-once\" or \"exactly-once\"")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Qos, E> {
                match v {
                    0 => Ok(Qos::AtMostOnce),
                    1 => Ok(Qos::AtLeastOnce),
                    2 => Ok(Qos::ExactlyOnce),
                    _ => Err(not_a_level(v)),
                }
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Qos, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(not_a_level(v)),
                }
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Qos, E> {
                // JSON numbers from Kapacitor's clients may be floats (1.0).
                if v.fract() == 0.0 && (0.0..=2.0).contains(&v) {
                    return self.visit_u64(v as u64);
                }
                Err(not_a_level(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Qos, E> {
                match v {
                    "at-most-once" => Ok(Qos::AtMostOnce),
                    "at-least-once" => Ok(Qos::AtLeastOnce),
                    // Kapacitor reads only "exactly-one" and writes "exactly-once": both work.
                    "exactly-once" | "exactly-one" => Ok(Qos::ExactlyOnce),
                    _ => Err(E::custom(format!(
                        "{v:?} is not a QoS level; write \"at-most-once\", \"at-least-once\" or \
                         \"exactly-once\", or 0, 1 or 2"
                    ))),
                }
            }
        }

        deserializer.deserialize_any(QosVisitor)
    }
}

fn not_a_level<E: de::Error>(v: impl fmt::Display) -> E {
    E::custom(format!(
        "{v} is not a QoS level; write 0 (at most once), 1 (at least once) or 2 (exactly once)"
    ))
}

impl schemars::JsonSchema for Qos {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Qos".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["integer", "string"],
            "description": "MQTT quality of service: 0, 1 or 2, or \"at-most-once\", \"at-least-once\" or \"exactly-once\""
        })
    }
}
