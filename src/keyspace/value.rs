//! Collection values (hash, list, set, sorted set, stream).
//!
//! Strings live inline in their [`Entry`](super::entry::Entry); everything
//! else is an `Object` the entry points to. Each variant keeps its own byte
//! count up to date so that the DB's memory accounting stays O(1) per write.

/// A collection value. The data-types issue adds the variants; until then no
/// collection can be created, and every type-dispatching `match` is total.
#[derive(Debug, Clone)]
pub enum Object {}

impl Object {
    /// Heap bytes owned by the collection (excluding the `Object` itself).
    pub fn mem_usage(&self) -> usize {
        match *self {}
    }

    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match *self {}
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding(&self) -> &'static str {
        match *self {}
    }
}
