//! Integration tests: metrics (see the module's owner in the commit log).
