//! Email addresses as Kapacitor's configuration and options write them: `oncall@example.com` or
//! `On Call <oncall@example.com>` (RFC 5322 mailboxes, parsed by lettre).

use klaxon_core::Invalid;
use lettre::Address;
use lettre::message::Mailbox;

/// The address of the mailbox `value`, the `field` of the configuration or options; refuses
/// anything that is not one mailbox.
///
/// ```text
/// parse("to[0]", "On Call <oncall@example.com>") -> oncall@example.com
/// ```
pub(crate) fn parse(field: &str, value: &str) -> Result<Address, Invalid> {
    value
        .parse::<Mailbox>()
        .map(|mailbox| mailbox.email)
        .map_err(|_| {
            Invalid::new(format!(
                "{field} {value:?} is not an email address; write one address, like \"oncall@example.com\" or \"On Call <oncall@example.com>\""
            ))
        })
}
