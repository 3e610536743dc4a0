//! `klaxond`, the stock Klaxon server.
//!
//! A Klaxon server binary is the list of handler crates it bundles plus `klaxon_server::main()`.
//! Each handler crate registers itself at link time, but only if the binary names it: hence one
//! `use klaxon_handler_x as _;` line per crate below, and `unused_crate_dependencies` denied so a
//! crate added to Cargo.toml without its line fails to compile instead of silently vanishing.
#![deny(unused_crate_dependencies)]

// The bundled handler crates, sorted.
use klaxon_handler_exec as _;
use klaxon_handler_foo as _;
use klaxon_handler_tcp as _;

fn main() -> std::process::ExitCode {
    klaxon_server::main()
}
