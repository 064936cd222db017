//! The list value. (Placeholder until the data-types work fills it in.)

use crate::keyspace::value::Thresholds;

#[derive(Debug, Clone, Default)]
pub struct ListValue {
    len: usize,
}

impl ListValue {
    pub fn new(_t: &Thresholds) -> Self {
        ListValue::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes owned, kept up to date incrementally (O(1)).
    pub fn mem_usage(&self) -> usize {
        0
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }
}
