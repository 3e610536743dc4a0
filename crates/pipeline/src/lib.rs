//! Klaxon's stream-task logic, pure: points in, alert events out. No IO, no async.
