//! `klaxond`, the stock Klaxon server.
//!
//! A Klaxon server binary is the list of handler crates it bundles plus `klaxon_server::main()`.
//! Each handler crate registers itself at link time, but only if the binary names it: hence one
//! `use klaxon_handler_x as _;` line per crate below, and `unused_crate_dependencies` denied so a
//! crate added to Cargo.toml without its line fails to compile instead of silently vanishing.
#![deny(unused_crate_dependencies)]

// The bundled handler crates, sorted.
use klaxon_handler_alerta as _;
use klaxon_handler_bigpanda as _;
use klaxon_handler_discord as _;
use klaxon_handler_exec as _;
use klaxon_handler_foo as _;
use klaxon_handler_kafka as _;
use klaxon_handler_log as _;
use klaxon_handler_mqtt as _;
use klaxon_handler_opsgenie as _;
use klaxon_handler_opsgenie2 as _;
use klaxon_handler_pagerduty as _;
use klaxon_handler_pagerduty2 as _;
use klaxon_handler_post as _;
use klaxon_handler_pushover as _;
use klaxon_handler_sensu as _;
use klaxon_handler_servicenow as _;
use klaxon_handler_slack as _;
use klaxon_handler_smtp as _;
use klaxon_handler_snmptrap as _;
use klaxon_handler_talk as _;
use klaxon_handler_tcp as _;
use klaxon_handler_teams as _;
use klaxon_handler_telegram as _;
use klaxon_handler_victorops as _;
use klaxon_handler_zenoss as _;

fn main() -> std::process::ExitCode {
    klaxon_server::main()
}
