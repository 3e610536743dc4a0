//! An SNMPv2c trap as Kapacitor's library (snmpgo) writes it, and its one UDP datagram:
//!
//! ```text
//! SEQUENCE { version 1 (v2c), community,
//!   SNMPv2-Trap-PDU [7] { request-id (random), error-status 0, error-index 0, variable-bindings {
//!     1.3.6.1.2.1.1.3.0 (sysUpTime.0)    TimeTicks 1000
//!     1.3.6.1.6.3.1.1.4.1.0 (snmpTrapOID.0) OBJECT IDENTIFIER <trap-oid>
//!     <oid> <value>, for each data in order } } }
//! ```
//!
//! The BER encoding is librasn's (rasn-snmp's message types, RFC 1901 and RFC 3416).

use std::time::Duration;

use klaxon_core::HandlerError;
use rasn::types::{Integer, ObjectIdentifier, OctetString};
use rasn_smi::v1::TimeTicks;
use rasn_smi::v2::{ApplicationSyntax, Counter64, ObjectSyntax, SimpleSyntax};
use rasn_snmp::v2::{Pdu, Pdus, Trap, VarBind, VarBindValue};
use rasn_snmp::v2c::Message;

use crate::data::Kind;

/// sysUpTime.0: Kapacitor always sends 1000 (ten seconds).
const SYS_UP_TIME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
const UP_TIME_TICKS: u32 = 1000;

/// snmpTrapOID.0.
const SNMP_TRAP_OID: [u32; 11] = [1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0];

/// How long resolving the receiver's address and sending may take (snmpgo's timeout).
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// An OID in dotted form ("1.3.6.1.4.1.1", a leading "." allowed), with snmpgo's limits: at
/// least two sub-identifiers (BER has no other form), the first 0 to 2, the second below 40
/// under 0 and 1, each at most 4294967295, at most 128.
pub(crate) fn oid(text: &str) -> Result<ObjectIdentifier, String> {
    let digits = text.strip_prefix('.').unwrap_or(text);
    let arcs = digits
        .split('.')
        .map(|arc| arc.parse::<u32>())
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| {
            format!(
                "{text:?} is not an OID; write numbers from 0 to 4294967295 separated by dots, \
                 such as 1.3.6.1.4.1.1"
            )
        })?;
    if arcs.len() < 2 || arcs.len() > 128 {
        return Err(format!(
            "{text:?} is not an OID; it needs from 2 to 128 numbers, such as 1.3.6.1.4.1.1"
        ));
    }
    if arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) {
        return Err(format!(
            "{text:?} is not an OID; the first number is 0, 1 or 2, and the second below 40 \
             unless the first is 2"
        ));
    }
    ObjectIdentifier::new(arcs).ok_or_else(|| format!("{text:?} is not an OID"))
}

/// The value of a data of `kind` from its text, as Kapacitor converts it, refusing what it
/// would have truncated or wrapped.
pub(crate) fn value(kind: Kind, text: &str) -> Result<VarBindValue, String> {
    let number = || {
        text.parse::<i128>()
            .map_err(|_| format!("value {text:?} is not a whole number"))
    };
    let range = |low: i128, high: i128, what: &str| {
        let n = number()?;
        if (low..=high).contains(&n) {
            Ok(n)
        } else {
            Err(format!(
                "value {text:?} is out of range for {what} ({low} to {high})"
            ))
        }
    };
    let syntax = match kind {
        Kind::Null => return Ok(VarBindValue::Unspecified),
        Kind::String => ObjectSyntax::Simple(SimpleSyntax::String(OctetString::from(
            text.as_bytes().to_vec(),
        ))),
        Kind::Integer => {
            let n = range(i32::MIN.into(), i32::MAX.into(), "an integer")?;
            ObjectSyntax::Simple(SimpleSyntax::Integer(Integer::from(n as i64)))
        }
        Kind::Counter => {
            let n = range(0, u64::MAX.into(), "a counter")?;
            ObjectSyntax::ApplicationWide(ApplicationSyntax::BigCounter(Counter64(n as u64)))
        }
        Kind::TimeTicks => {
            let n = range(0, u32::MAX.into(), "time ticks")?;
            ObjectSyntax::ApplicationWide(ApplicationSyntax::Ticks(TimeTicks(n as u32)))
        }
    };
    Ok(VarBindValue::Value(syntax))
}

/// The datagram of a trap with OID `trap_oid` and the variable bindings `data`.
pub(crate) fn encode(
    community: &str,
    trap_oid: &ObjectIdentifier,
    data: Vec<VarBind>,
) -> Result<Vec<u8>, String> {
    let known =
        |arcs: &'static [u32]| ObjectIdentifier::new(arcs).unwrap_or_else(|| unreachable!());
    let mut bindings = vec![
        VarBind {
            name: known(&SYS_UP_TIME),
            value: VarBindValue::Value(ObjectSyntax::ApplicationWide(ApplicationSyntax::Ticks(
                TimeTicks(UP_TIME_TICKS),
            ))),
        },
        VarBind {
            name: known(&SNMP_TRAP_OID),
            value: VarBindValue::Value(ObjectSyntax::Simple(SimpleSyntax::ObjectId(
                trap_oid.clone(),
            ))),
        },
    ];
    bindings.extend(data);
    let message = Message {
        version: Integer::from(1),
        community: OctetString::from(community.as_bytes().to_vec()),
        data: Pdus::Trap(Trap(Pdu {
            // snmpgo's request IDs are random 31-bit numbers; nothing answers a trap.
            request_id: fastrand::i32(1..i32::MAX),
            error_status: Pdu::ERROR_STATUS_NO_ERROR,
            error_index: 0,
            variable_bindings: bindings,
        })),
    };
    rasn::ber::encode(&message).map_err(|e| format!("cannot encode the trap: {e}"))
}

/// Sends `datagram` to `addr` (host:port) over UDP, from a port of its own.
pub(crate) async fn send(addr: &str, datagram: &[u8]) -> Result<(), HandlerError> {
    let send = async {
        let target = tokio::net::lookup_host(addr)
            .await
            // A name that does not resolve may be a resolver that is down: retryable, within
            // the engine's retry budget.
            .map_err(|e| HandlerError::transient(format!("resolve {addr}: {e}")))?
            .next()
            .ok_or_else(|| {
                HandlerError::transient(format!("resolve {addr}: the name has no address"))
            })?;
        let local = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = tokio::net::UdpSocket::bind(local)
            .await
            .map_err(|e| HandlerError::io("open a UDP socket", &e))?;
        socket
            .connect(target)
            .await
            .map_err(|e| HandlerError::io(format_args!("send the trap to {addr}"), &e))?;
        let sent = socket
            .send(datagram)
            .await
            .map_err(|e| HandlerError::io(format_args!("send the trap to {addr}"), &e))?;
        if sent < datagram.len() {
            return Err(HandlerError::transient(format!(
                "send the trap to {addr}: only {sent} of {} bytes went out",
                datagram.len()
            )));
        }
        Ok(())
    };
    tokio::time::timeout(SEND_TIMEOUT, send)
        .await
        .unwrap_or_else(|_| {
            Err(HandlerError::timed_out(
                format_args!("send the trap to {addr}"),
                SEND_TIMEOUT,
            ))
        })
}
