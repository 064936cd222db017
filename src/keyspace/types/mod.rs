//! One module per collection type: the data structure, its small (packed)
//! and large encodings, and the operations the command handlers need.

pub mod hash;
pub mod list;
pub mod set;
pub mod stream;
pub mod zset;

use std::sync::LazyLock;

/// The hash seed of every field table (large hashes) in the process.
///
/// One seed per process, not per table: equal field sets inserted in the
/// same order then iterate in the same order in every hash, as they do in
/// Redis's dicts. Clients depend on that without knowing it: V8 gives an
/// object one hidden class per key order, so BullMQ turning each job's
/// HGETALL into an object went megamorphic (and cost its Worker ~15 µs of
/// CPU per job) while every job hash listed its fields in its own order.
/// The seed is still random per process, against collision flooding.
pub(crate) static FIELD_HASHER: LazyLock<foldhash::fast::RandomState> =
    LazyLock::new(Default::default);

/// The hash seed of every member table (large sets), for the same reason:
/// equal sets list their members in the same order.
pub(crate) static MEMBER_HASHER: LazyLock<foldhash::quality::RandomState> =
    LazyLock::new(Default::default);
