//! Integration tests: eviction (see the module's owner in the commit log).
