//! The snmptrap handler: sends each alert as an SNMPv2c trap whose data are templates of the
//! alert.

use std::sync::Arc;

use klaxon_core::template::{Template, TemplateOptions, Value, template_data};
use klaxon_core::{
    Chained, Event, Handler, HandlerError, Init, Invalid, Live, Service, TickShape, async_trait,
};
use rasn::types::ObjectIdentifier;
use rasn_snmp::v2::VarBind;
use serde::{Deserialize, Serialize};

use crate::data::{Data, DataList, Kind};
use crate::{Config, trap};

/// The options of one snmptrap handler (and of the service test): the same type decodes
/// handler files, the HTTP API and TICKscript calls.
///
/// ```json
/// {"trap-oid": "1.3.6.1.4.1.1", "data-list": [{"oid": "1.3.6.1.4.1.1.5", "type": "s", "value": "{{ .Level }}"}]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The trap's OID, sent as snmpTrapOID.0, such as "1.3.6.1.4.1.1". Required.
    pub trap_oid: String,
    /// The data sent after sysUpTime.0 and snmpTrapOID.0, in order: each an oid, a type (c, i,
    /// n, s or t) and a value, a template of the alert.
    pub data_list: DataList,
}

/// The `snmptrap` handler kind: sends each alert as an SNMPv2c trap.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_snmptrap::{Config, Data, DataList, Options, SnmpTrapService};
///
/// let service = SnmpTrapService::new(Init::new(Config::default())).unwrap();
/// let data = Data { oid: "1.3.6.1.4.1.1.5".into(), kind: "s".into(), value: "{{ .Level }}".into() };
/// let options = Options { trap_oid: "1.3.6.1.4.1.1".into(), data_list: DataList(vec![data]) };
/// assert!(service.handler(options.clone()).is_ok());
///
/// let ip = Data { oid: "1.3.6.1.4.1.1.6".into(), kind: "a".into(), value: "10.0.0.1".into() };
/// let options = Options { data_list: DataList(vec![ip]), ..options };
/// assert_eq!(
///     service.handler(options).unwrap_err().to_string(),
///     r#"data "1.3.6.1.4.1.1.6" has type "a" (IP address), which Kapacitor does not send; use c, i, n, s or t"#
/// );
/// ```
#[derive(Debug)]
pub struct SnmpTrapService {
    config: Live<Config>,
}

/// The chained property of `.snmpTrap(trapOid)`: `.data(oid, type, value)`, once per data.
/// TICKscript gives the arguments of every call one after the other; `data-list` reads them in
/// threes.
const CHAINED: &[Chained] = &[Chained::list("data", "data-list")];

/// The trap of Kapacitor's service test.
const TEST_TRAP_OID: &str = "1.1.1.1";
const TEST_DATA_OID: &str = "1.1.1.1.2";
const TEST_MESSAGE: &str = "test snmptrap message";

#[async_trait]
impl Service for SnmpTrapService {
    const KIND: &'static str = "snmptrap";
    const DESCRIPTION: &'static str = "sends each alert as an SNMPv2c trap";
    const TICK: TickShape = TickShape::new("snmpTrap")
        .args(&["trap-oid"])
        .chained(CHAINED);
    type Config = Config;
    type Options = Options;
    type TestOptions = Options;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        Ok(SnmpTrapService {
            config: init.config,
        })
    }

    /// Refuses a missing or malformed trap OID, a data OID that is malformed, a type Kapacitor
    /// does not send, a value template that does not parse, and a literal value that is not a
    /// number of its type.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        let trap = Trap::compile(&options, Values::Templates).map_err(Invalid::new)?;
        Ok(Arc::new(SnmpTrapHandler {
            trap,
            config: self.config.clone(),
        }))
    }

    /// Kapacitor's: one string data, `test snmptrap message`, in trap 1.1.1.1.
    fn test_options(&self) -> Options {
        Options {
            trap_oid: TEST_TRAP_OID.to_owned(),
            data_list: DataList(vec![Data {
                oid: TEST_DATA_OID.to_owned(),
                kind: "s".to_owned(),
                value: TEST_MESSAGE.to_owned(),
            }]),
        }
    }

    /// Sends the trap of `options`, whose values are sent as written, as Kapacitor does.
    async fn test(&self, options: Options) -> Result<(), HandlerError> {
        let config = self.config.get();
        enabled(&config)?;
        let trap = Trap::compile(&options, Values::Literal).map_err(HandlerError::permanent)?;
        trap.send(&config, None).await
    }
}

/// Sends each event as a trap.
#[derive(Debug)]
struct SnmpTrapHandler {
    trap: Trap,
    config: Live<Config>,
}

#[async_trait]
impl Handler for SnmpTrapHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let config = self.config.get();
        enabled(&config)?;
        self.trap.send(&config, Some(event)).await
    }
}

/// Kapacitor's refusal while the service is disabled.
fn enabled(config: &Config) -> Result<(), HandlerError> {
    if config.enabled {
        Ok(())
    } else {
        Err(HandlerError::permanent("service is not enabled"))
    }
}

/// Whether data values are templates (handlers) or sent as written (the service test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Values {
    Templates,
    Literal,
}

/// A trap checked and parsed once, when its handler is defined.
#[derive(Debug)]
struct Trap {
    oid: ObjectIdentifier,
    data: Vec<TrapData>,
}

/// One data of a trap.
#[derive(Debug)]
struct TrapData {
    /// The OID as written, for messages.
    name: String,
    oid: ObjectIdentifier,
    kind: Kind,
    value: Template,
}

impl Trap {
    fn compile(options: &Options, values: Values) -> Result<Trap, String> {
        if options.trap_oid.is_empty() {
            return Err(
                "you must supply a trap Oid, such as .snmpTrap('1.3.6.1.4.1.1') or \
                        trap-oid: 1.3.6.1.4.1.1"
                    .to_owned(),
            );
        }
        let oid = trap::oid(&options.trap_oid).map_err(|e| format!("trap-oid {e}"))?;
        let data = options
            .data_list
            .0
            .iter()
            .map(|data| TrapData::compile(data, values))
            .collect::<Result<_, _>>()?;
        Ok(Trap { oid, data })
    }

    /// Sends the trap, its values rendered for `event` (as written without one).
    async fn send(&self, config: &Config, event: Option<&Event>) -> Result<(), HandlerError> {
        let templates = self.data.iter().any(|d| !d.value.is_plain());
        // Made once for all the values of a trap.
        let data = match event {
            Some(event) if templates => Some(template_data(event)),
            _ => None,
        };
        let bindings = self
            .data
            .iter()
            .map(|d| d.binding(data.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(HandlerError::permanent)?;
        let datagram = trap::encode(&config.community, &self.oid, bindings)
            .map_err(HandlerError::permanent)?;
        trap::send(&config.addr, &datagram).await
    }
}

impl TrapData {
    fn compile(data: &Data, values: Values) -> Result<TrapData, String> {
        let kind = Kind::of(&data.kind, &data.oid)?;
        let oid = trap::oid(&data.oid).map_err(|e| format!("data {e}"))?;
        let value = match values {
            Values::Templates => TemplateOptions::new()
                // The dot stands for a Go struct, where a field that does not exist is an
                // error, as Kapacitor's documented `.Field` (for `.Fields`) is there.
                .missing_key_error()
                .parse("data", &data.value)
                .map_err(|e| format!("data {:?}: value {:?}: {e}", data.oid, data.value))?,
            Values::Literal => Template::literal(data.value.as_str()),
        };
        let data = TrapData {
            name: data.oid.clone(),
            oid,
            kind,
            value,
        };
        // A value without template actions is checked now rather than at every alert.
        if data.value.is_plain() {
            trap::value(data.kind, data.value.source())
                .map_err(|e| format!("data {:?}: {e}", data.name))?;
        }
        Ok(data)
    }

    /// The variable binding, the value rendered with the template data `data`.
    fn binding(&self, data: Option<&Value>) -> Result<VarBind, String> {
        let text = match (self.value.is_plain(), data) {
            (true, _) => self.value.source().to_owned(),
            (false, Some(data)) => self.value.render_with(data).map_err(|e| {
                format!(
                    "data {:?}: value template {:?}: {e}",
                    self.name,
                    self.value.source()
                )
            })?,
            (false, None) => self.value.source().to_owned(),
        };
        let value =
            trap::value(self.kind, &text).map_err(|e| format!("data {:?}: {e}", self.name))?;
        Ok(VarBind {
            name: self.oid.clone(),
            value,
        })
    }
}
