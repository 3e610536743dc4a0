//! Kapacitor's `snmptraptest` server: a UDP port that decodes SNMPv2c traps (BER) into their
//! PDU type and variable bindings, each as an OID, a value as text and a type named as
//! `snmpgo` names it (`TimeTicks`, `Oid`, `Counter64`, `OctetString`, `Integer`, `Null`).

use std::net::UdpSocket;
use std::sync::mpsc;
use std::time::Duration;

use serde::Deserialize;

/// One variable binding as Kapacitor's test lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VarBind {
    pub oid: String,
    pub value: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A trap: its PDU type (`SNMPTrapV2`), error status (`NoError`) and bindings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trap {
    pub pdu: String,
    pub error_status: String,
    pub var_binds: Vec<VarBind>,
}

/// The UDP receiver; the community is Kapacitor's test server's, `public`.
pub struct TrapSink {
    pub addr: String,
    traps: mpsc::Receiver<Result<Trap, String>>,
}

impl TrapSink {
    pub fn start() -> TrapSink {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind an SNMP trap port");
        let addr = socket.local_addr().expect("the trap port").to_string();
        let (tx, traps) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = socket.recv(&mut buf) {
                if tx.send(decode(&buf[..n])).is_err() {
                    break;
                }
            }
        });
        TrapSink { addr, traps }
    }

    pub fn next_within(&self, timeout: Duration) -> Option<Result<Trap, String>> {
        self.traps.recv_timeout(timeout).ok()
    }
}

/// One BER element: its tag and contents.
fn element(data: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = data.split_first().ok_or("truncated element")?;
    let (&first, mut rest) = rest.split_first().ok_or("truncated length")?;
    let len = if first & 0x80 == 0 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count > rest.len() || count > 4 {
            return Err("bad length".into());
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |n, b| (n << 8) | usize::from(*b));
        rest = &rest[count..];
        len
    };
    if len > rest.len() {
        return Err("truncated contents".into());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn unsigned(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b))
}

fn integer(bytes: &[u8]) -> i64 {
    let mut n: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        -1
    } else {
        0
    };
    for b in bytes {
        n = (n << 8) | i64::from(*b);
    }
    n
}

fn oid(bytes: &[u8]) -> String {
    let mut ids = Vec::new();
    let mut n: u64 = 0;
    for b in bytes {
        n = (n << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            ids.push(n);
            n = 0;
        }
    }
    // The first sub-identifier holds the first two arcs.
    let mut parts = Vec::new();
    if let Some((first, rest)) = ids.split_first() {
        let arc = (first / 40).min(2);
        parts.push(arc);
        parts.push(first - 40 * arc);
        parts.extend_from_slice(rest);
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn decode(data: &[u8]) -> Result<Trap, String> {
    let (_, message, _) = element(data)?;
    let (_, _version, rest) = element(message)?;
    let (_, _community, rest) = element(rest)?;
    let (pdu_tag, pdu, _) = element(rest)?;
    let pdu_name = match pdu_tag {
        0xa7 => "SNMPTrapV2".to_owned(),
        0xa6 => "InformRequest".to_owned(),
        other => format!("pdu 0x{other:02x}"),
    };
    let (_, _request_id, rest) = element(pdu)?;
    let (_, error_status, rest) = element(rest)?;
    let (_, _error_index, rest) = element(rest)?;
    let (_, mut binds, _) = element(rest)?;
    let mut var_binds = Vec::new();
    while !binds.is_empty() {
        let (_, bind, rest) = element(binds)?;
        binds = rest;
        let (_, name, value) = element(bind)?;
        let (tag, value, _) = element(value)?;
        let (kind, text) = match tag {
            0x02 => ("Integer", integer(value).to_string()),
            0x04 => ("OctetString", String::from_utf8_lossy(value).into_owned()),
            0x05 => ("Null", String::new()),
            0x06 => ("Oid", oid(value)),
            0x40 => (
                "Ipaddress",
                value
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            0x41 => ("Counter32", unsigned(value).to_string()),
            0x42 => ("Gauge32", unsigned(value).to_string()),
            0x43 => ("TimeTicks", unsigned(value).to_string()),
            0x46 => ("Counter64", unsigned(value).to_string()),
            other => return Err(format!("an unknown value type 0x{other:02x}")),
        };
        var_binds.push(VarBind {
            oid: oid(name),
            value: text,
            kind: kind.to_owned(),
        });
    }
    Ok(Trap {
        pdu: pdu_name,
        error_status: if integer(error_status) == 0 {
            "NoError".to_owned()
        } else {
            format!("error {}", integer(error_status))
        },
        var_binds,
    })
}
