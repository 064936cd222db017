//! Collection values (hash, list, set, sorted set).
//!
//! Strings live inline in their [`Entry`](super::entry::Entry); everything
//! else is an `Object` the entry points to. Each type keeps its own byte
//! count up to date so that the DB's memory accounting stays O(1) per write.

use super::types::{
    hash::HashValue, list::ListValue, set::SetValue, stream::StreamValue, zset::ZSetValue,
};

#[derive(Debug, Clone)]
pub enum Object {
    Hash(HashValue),
    List(ListValue),
    Set(SetValue),
    ZSet(ZSetValue),
    /// Boxed: a stream's header is 112 bytes, and the enum is as large as
    /// its largest variant — every small hash would pay for it.
    Stream(Box<StreamValue>),
}

impl Object {
    /// Heap bytes owned by the collection (excluding the `Object` itself).
    pub fn mem_usage(&self) -> usize {
        match self {
            Object::Hash(v) => v.mem_usage(),
            Object::List(v) => v.mem_usage(),
            Object::Set(v) => v.mem_usage(),
            Object::ZSet(v) => v.mem_usage(),
            Object::Stream(v) => v.mem_usage(),
        }
    }

    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Hash(_) => "hash",
            Object::List(_) => "list",
            Object::Set(_) => "set",
            Object::ZSet(_) => "zset",
            Object::Stream(_) => "stream",
        }
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            Object::Hash(v) => v.encoding(),
            Object::List(v) => v.encoding(),
            Object::Set(v) => v.encoding(),
            Object::ZSet(v) => v.encoding(),
            Object::Stream(v) => v.encoding(),
        }
    }

    /// A copy for a snapshot that shares what it can with `self`: for the
    /// large encodings, the chunks (list nodes, set and hash segments,
    /// sorted-set node blocks, stream nodes and consumer-group leaves), so
    /// taking it costs O(chunks), and a later write to `self` copies only
    /// the chunk it changes. Small encodings are copied; they are bounded by the
    /// `*-max-listpack-*` thresholds.
    pub fn share(&self) -> Object {
        match self {
            Object::ZSet(z) => Object::ZSet(z.share()),
            // Their `Clone` shares the large encodings' chunks (a
            // stream's consumer groups included).
            Object::List(_) | Object::Set(_) | Object::Hash(_) | Object::Stream(_) => self.clone(),
        }
    }

    /// Bytes [`Object::share`] copies (the rest is shared).
    pub fn share_cost(&self) -> usize {
        match self {
            Object::List(v) => v.share_cost(),
            Object::Set(v) => v.share_cost(),
            Object::ZSet(v) => v.share_cost(),
            Object::Hash(v) => v.share_cost(),
            Object::Stream(v) => v.share_cost(),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Object::Hash(v) => v.is_empty(),
            Object::List(v) => v.is_empty(),
            Object::Set(v) => v.is_empty(),
            Object::ZSet(v) => v.is_empty(),
            Object::Stream(v) => v.is_empty(),
        }
    }
}

/// Encoding thresholds (redis.conf names in comments); CONFIG SET-able.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// hash-max-listpack-entries
    pub hash_max_listpack_entries: usize,
    /// hash-max-listpack-value
    pub hash_max_listpack_value: usize,
    /// set-max-intset-entries
    pub set_max_intset_entries: usize,
    /// set-max-listpack-entries
    pub set_max_listpack_entries: usize,
    /// set-max-listpack-value
    pub set_max_listpack_value: usize,
    /// zset-max-listpack-entries
    pub zset_max_listpack_entries: usize,
    /// zset-max-listpack-value
    pub zset_max_listpack_value: usize,
    /// list-max-listpack-size (negative: -1..-5 = 4..64 KiB per node; positive: entries per node)
    pub list_max_listpack_size: i64,
    /// stream-node-max-entries, stream-node-max-bytes
    pub stream_node: crate::keyspace::types::stream::NodeLimits,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            stream_node: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every collection key pays for one boxed `Object`; a large variant
    /// inflates them all (a 120-byte enum cost small hashes 64 B each).
    #[test]
    fn object_stays_small() {
        assert!(std::mem::size_of::<super::Object>() <= 64);
    }
}
