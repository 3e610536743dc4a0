#![deny(unused_crate_dependencies)]
use klaxon_handler_tcp as _;
fn main() -> std::process::ExitCode {
    klaxon_server::main()
}
