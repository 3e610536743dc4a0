//! End-to-end tests: a real klaxond process on a loopback port, driven over HTTP and through the
//! real `klaxon` CLI. One test binary (modules below) keeps link time down.

mod alert_delivery;
mod cli_topics;
mod config;
mod config_api;
mod custom_binary;
mod delivery_faults;
mod influxdb;
mod limits;
mod load_dir;
mod ping;
mod registry;
mod security;
mod service_tests;
mod tasks;
mod topic_handlers;
mod windows;
mod xtask;
