//! The server's memory allocator: mimalloc, for every binary that links the server.
//!
//! Ingest makes and frees a dozen small strings and maps a point, several hundred thousand
//! points a second, on several threads at once. With glibc's malloc that was the largest single
//! cost in profiles of `cargo xtask bench ingest` (malloc, free and their consolidation of freed
//! chunks, which the freeing of a body's point buffer set off, about 40 % of klaxond's CPU);
//! mimalloc's thread-local free lists keep that small. The figures are in docs/benchmarks.md.
//!
//! Its 2.x line (the `v2` feature): with 3.x, pages a blocking-pool thread freed after a write
//! stayed resident while the thread sat idle, about 35 bytes a series more in the state
//! benchmark (323 to 335 against 360 to 376 bytes a series, three and two runs), and ingest
//! was no faster.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
