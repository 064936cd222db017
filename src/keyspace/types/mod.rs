//! One module per collection type: the data structure, its small (packed)
//! and large encodings, and the operations the command handlers need.

pub mod hash;
pub mod list;
pub mod set;
pub mod stream;
pub mod zset;
