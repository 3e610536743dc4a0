//! The pipeline's tests through its public API, one module per concern, in one test binary (one
//! link instead of one per file, which is most of their build time on two cores).

mod batch_query;
mod combine;
mod corpus;
mod deadman;
mod define_errors;
mod events;
mod flatten;
mod http_post;
mod inhibit;
mod join;
mod joining;
mod kapacitor_cases;
mod max_series;
mod proptest;
