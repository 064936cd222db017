//! RESP2/RESP3 on the wire: request decoding ([`parse`]) and encoding
//! ([`encode_command`]), reply encoding ([`reply`]).
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

/// Appends `argv` as a request: a RESP array of bulk strings (what the AOF
/// holds and what MIGRATE sends).
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    let mut num = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(num.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(num.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}
