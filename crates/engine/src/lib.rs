//! Klaxon's alert service: topics, topic handlers, delivery workers and storage.
