//! Tests: acl.
