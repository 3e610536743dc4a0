//! One module per group of Kapacitor CLI commands.

pub mod service_tests;
pub mod tasks;
pub mod topic_handlers;
pub mod topics;
