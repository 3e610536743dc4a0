//! A Klaxon server binary with only the tcp handler: the whole of a custom server.
#![deny(unused_crate_dependencies)]
use klaxon_handler_tcp as _;
fn main() -> std::process::ExitCode {
    klaxon_server::main()
}
