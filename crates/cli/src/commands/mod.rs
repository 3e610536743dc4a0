//! One module per group of Kapacitor CLI commands.

pub mod service_tests;
