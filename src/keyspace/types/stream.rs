//! The stream value. (Placeholder until the streams work fills it in.)

use crate::keyspace::value::Thresholds;

#[derive(Debug, Clone, Default)]
pub struct StreamValue {
    len: usize,
}

impl StreamValue {
    pub fn new(_t: &Thresholds) -> Self {
        StreamValue::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// A stream key exists even when empty (XADD then XDEL keeps it), so
    /// `Db::with_object` must never delete it for being empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Heap bytes owned, kept up to date incrementally (O(1)).
    pub fn mem_usage(&self) -> usize {
        0
    }

    pub fn encoding(&self) -> &'static str {
        "stream"
    }
}
