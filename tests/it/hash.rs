//! Tests: hash.
