//! Integration tests: scopes (see the module's owner in the commit log).
