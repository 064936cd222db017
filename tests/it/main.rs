//! The one integration-test binary: a module per area, `support/` for the
//! in-process server, clients, the raw-socket helper and the redis-server
//! oracle used by differential tests.

// The binary's allocator, counted: INFO memory's process figures
// (`used_memory` from the allocator's count) are tested as they run.
#[global_allocator]
static GLOBAL: keyward::alloc::Counting<mimalloc::MiMalloc> =
    keyward::alloc::Counting(mimalloc::MiMalloc);

mod support;

mod absent;
mod acl;
mod bitmap;
mod blocking;
mod boundary;
mod command_set;
mod config;
mod connection;
mod debug;
mod dump;
mod effects;
mod eviction;
mod functions;
mod generic;
mod geo;
mod hash;
mod hll;
mod latency;
mod leaks;
mod limits;
mod list;
mod lolwut;
mod memory;
mod meta;
mod metrics;
mod notifications;
mod obuf;
mod ops;
mod pause;
mod persistence;
mod proxy;
mod pubsub;
mod rdb;
mod redisconf;
mod replication;
mod scenario;
mod scopes;
mod scripting;
mod server;
mod set;
mod signals;
mod sort;
mod sorted_set;
mod stream;
mod string;
mod tenancy;
mod tls;
mod tracking;
mod transactions;
