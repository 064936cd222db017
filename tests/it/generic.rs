//! Tests: generic.
