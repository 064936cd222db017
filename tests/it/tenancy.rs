//! Integration tests: tenancy (see the module's owner in the commit log).
