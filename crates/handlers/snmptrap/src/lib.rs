//! The `snmptrap` alert handler: sends each alert as an SNMPv2c trap.
//!
//! For every event the handler sends, as Kapacitor does, one SNMPv2c trap (an SNMPv2-Trap-PDU
//! in a community message, one UDP datagram) to the configured `addr`, with the configured
//! community:
//!
//! ```text
//! 1.3.6.1.2.1.1.3.0      (sysUpTime.0)     TimeTicks 1000         always, as in Kapacitor
//! 1.3.6.1.6.3.1.1.4.1.0  (snmpTrapOID.0)   OBJECT IDENTIFIER      the handler's trap-oid
//! <oid>                                    <type>                 each data of data-list, in order
//! ```
//!
//! Each data's value is a Go text/template of Kapacitor's template data (`.ID`, `.Message`,
//! `.Level`, `.Time`, `.Duration`, `.Details`, `.Name`, `.TaskName`, `.Group`, `.Tags`,
//! `.Fields`), rendered for the alert and sent as its type:
//!
//! | type | sent as                                   | value                                   |
//! |------|-------------------------------------------|-----------------------------------------|
//! | `c`  | Counter64 (Kapacitor's counter: 64 bits)  | a whole number, 0 to 18446744073709551615 |
//! | `i`  | INTEGER                                   | a whole number, 32 bits                 |
//! | `n`  | NULL                                      | ignored                                 |
//! | `s`  | OCTET STRING                              | any text, its bytes                     |
//! | `t`  | TimeTicks                                 | hundredths of a second, 0 to 4294967295 |
//!
//! Kapacitor's other letters (`a` IP address, `d` decimal string, `o` object ID, `u` unsigned,
//! `x` hexadecimal) it refuses to send, and so does Klaxon. The trap is encoded with librasn's
//! ASN.1 codec (rasn-snmp's message types): pure Rust, no net-snmp library.
//!
//! # Options
//!
//! | option      | type   | meaning                                                         |
//! |-------------|--------|-----------------------------------------------------------------|
//! | `trap-oid`  | string | The trap's OID, such as `1.3.6.1.4.1.1`. Required.              |
//! | `data-list` | list   | The data, each `{oid, type, value}` (strings; a number value is taken as its text). |
//!
//! # In a handler file
//!
//! ```yaml
//! id: handler-id
//! topic: topic-name
//! kind: snmptrap
//! options:
//!   trap-oid: 1.3.6.1.4.1.1
//!   data-list:
//!     - oid: 1.3.6.1.4.1.1.5
//!       type: s
//!       value: '{{ .Level }}'
//!     - oid: 1.3.6.1.4.1.1.6
//!       type: i
//!       value: 50
//!     - oid: 1.3.6.1.4.1.1.7
//!       type: c
//!       value: '{{ index .Fields "num_requests" }}'
//!     - oid: 1.3.6.1.4.1.1.8
//!       type: s
//!       value: '{{ .Message }}'
//! ```
//!
//! # In TICKscript
//!
//! The one argument is the trap OID; each `.data(oid, type, value)` adds a data, all three
//! strings, as in Kapacitor:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .snmpTrap('1.3.6.1.4.1.1')
//!       .data('1.3.6.1.4.1.1.5', 's', '{{ .Level }}')
//!       .data('1.3.6.1.4.1.1.6', 'i', '50')
//!       .data('1.3.6.1.4.1.1.8', 's', '{{ .Message }}')
//! ```
//!
//! # Configuration
//!
//! ```toml
//! [snmptrap]
//!   enabled = true
//!   # The trap receiver, host:port (UDP).
//!   addr = "localhost:162"
//!   # The SNMPv2c community. Secret: klaxond config and the config API show only whether it
//!   # is set.
//!   community = "kapacitor"
//!   # Accepted for compatibility; a trap is sent once, failures are retried by [alert]'s policy.
//!   retries = 1
//! ```
//!
//! Enabling the service without `addr`, and an `addr` that is not host:port, are refused:
//! `snmptrap: addr "localhost" has no port; write it as host:port`. Configuration changes apply
//! to the next alert of every snmptrap handler.
//!
//! # Failures
//!
//! These refuse the handler definition, naming the data: a missing trap OID (`you must supply a
//! trap Oid, ...`), an OID that is not one, a type other than `c`, `i`, `n`, `s` and `t`
//! (`unsupported data type "q" for data entry "1.1.2.1"; ...`), a value template that does not
//! parse, and a value without template that is not a number of its type. At delivery, each of
//! these fails it; the engine logs it and, where marked, retries:
//!
//! - the service is disabled: `service is not enabled`;
//! - a value template fails (`{{ .Field }}`, which does not exist), or gives text that is not a
//!   number of its type: `data "1.1.2.1": value "high" is not a whole number`;
//! - `addr` does not resolve, or the datagram cannot be sent (retried).
//!
//! A trap is a UDP datagram that nothing acknowledges: a receiver that is down, or that drops a
//! trap of the wrong community, is not seen, as in Kapacitor.
//!
//! # Service test
//!
//! `klaxon service-tests snmptrap` (or `POST /kapacitor/v1/service-tests/snmptrap`) sends
//! Kapacitor's test trap, `{"trap-oid": "1.1.1.1", "data-list": [{"oid": "1.1.1.1.2", "type":
//! "s", "value": "test snmptrap message"}]}`, or the options given; their values are sent as
//! written, not as templates.
//!
//! # Differences from Kapacitor
//!
//! - Handler files are checked as TICKscript is (trap OID, types, OIDs, numbers) when they are
//!   defined; Kapacitor checks them only at each alert.
//! - A `value` written as a number in YAML (`value: 50`, as Kapacitor's documentation writes it)
//!   is taken as its text; Kapacitor refuses the handler file.
//! - A number out of its type's range is refused; Kapacitor truncates an integer to 32 bits,
//!   time ticks to 32 bits, and wraps a negative counter.
//! - `retries` has no effect: Kapacitor's library resends only after waiting for an answer,
//!   which a trap never has, so Kapacitor sent each trap once too. A failed send goes back to
//!   the engine, which retries it.
//! - Each trap is sent from a UDP socket of its own (Kapacitor keeps one), bounded by 5 seconds
//!   with resolving `addr`.

mod config;
mod data;
mod handler;
mod trap;

pub use config::Config;
pub use data::{Data, DataList};
pub use handler::Options;
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::SnmpTrapService;

klaxon_core::register_service!(SnmpTrapService);

#[cfg(test)]
mod tests;
