//! Tests: limits.
