//! Tests: scripting.
