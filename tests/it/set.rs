//! Tests: set.
