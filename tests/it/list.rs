//! Tests: list.
