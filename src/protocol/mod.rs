//! RESP2/RESP3 on the wire: request decoding ([`parse`]) and reply encoding ([`reply`]).
//!
//! This module imports nothing else from the crate: it knows bytes, not commands.
//!
//! Requests are decoded by a hand-written parser rather than `redis-protocol`'s
//! frame decoder. A request is always an array of bulk strings (or an inline
//! line), so the parser only records `(start, end)` spans of each argument in
//! the connection's read buffer: no frame tree, no per-argument allocation.
//! `benches/resp.rs` measures both on the same pipelined buffer; see the
//! numbers in [`parse`]. `redis-protocol` remains the oracle the fuzz target
//! ([`fuzz::decode_agrees`]) checks this parser against.

pub mod fuzz;
pub mod parse;
pub mod reply;

pub use parse::{parse_request, Limits, Parsed, ProtocolError};
pub use reply::{Protocol, ReplyBuf};
