//! Tests: sorted_set.
