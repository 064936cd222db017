//! Tests: string.
