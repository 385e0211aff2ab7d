//! Helpers for the integration tests (see `corpus.rs`).
