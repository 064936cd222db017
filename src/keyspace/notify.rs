//! Keyspace notifications as a DB records them: Redis's event classes
//! (`notify-keyspace-events`), and the queue of events a DB fired while a
//! command (or cron) held its lock.
//!
//! A DB only queues; the server publishes (see `server::notify`) after the
//! command, so events fired inside the DB (lazy expiry, `new` keys, key
//! misses, eviction) and those handlers fire keep the order Redis fires
//! them in. With notifications off (Redis's default) firing an event is
//! a test of the DB's copy of the flags and a branch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Redis's `NOTIFY_*` bits (server.h).
pub mod class {
    /// K: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// E: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// g
    pub const GENERIC: u32 = 1 << 2;
    /// $
    pub const STRING: u32 = 1 << 3;
    /// l
    pub const LIST: u32 = 1 << 4;
    /// s
    pub const SET: u32 = 1 << 5;
    /// h
    pub const HASH: u32 = 1 << 6;
    /// z
    pub const ZSET: u32 = 1 << 7;
    /// x
    pub const EXPIRED: u32 = 1 << 8;
    /// e
    pub const EVICTED: u32 = 1 << 9;
    /// t
    pub const STREAM: u32 = 1 << 10;
    /// m (not part of A, as in Redis)
    pub const KEY_MISS: u32 = 1 << 11;
    /// d: module events; keyward has no modules, the letter is kept.
    pub const MODULE: u32 = 1 << 13;
    /// n (not part of A)
    pub const NEW: u32 = 1 << 14;
    /// A: an alias for `g$lshzxetd`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Redis's `keyspaceEventsStringToFlags`: `None` for an unknown letter.
pub fn parse_classes(s: &str) -> Option<u32> {
    use class::*;
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// Redis's `keyspaceEventsFlagsToString`: what CONFIG GET prints
/// (`KEA` is read back as `AKE`; with A, `n` is not printed, as in Redis,
/// though it stays set).
pub fn format_classes(flags: u32) -> String {
    use class::*;
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The flags a DB tests: the configured classes, or 0 when neither K nor
/// E is set (Redis then publishes nothing), so a DB never queues an event
/// nobody can receive.
pub fn effective(flags: u32) -> u32 {
    if flags & (class::KEYSPACE | class::KEYEVENT) == 0 {
        0
    } else {
        flags
    }
}

/// One event: its class, name and key, numbered from a counter shared by
/// every DB so that a command firing in two DBs (MOVE) keeps its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub seq: u64,
    pub class: u32,
    pub event: &'static str,
    pub key: Vec<u8>,
}

/// A DB's side of notifications: its copy of the server's flags (given
/// under the DB lock by `Keyspace::set_notify`, so testing them reads the
/// DB the caller already holds, with no pointer to follow) and what was
/// fired since the last publish.
#[derive(Default)]
pub struct Notes {
    flags: u32,
    seq: Arc<AtomicU64>,
    pub pending: Vec<Note>,
}

impl Notes {
    /// Notes numbering from `seq` (the keyspace's).
    pub fn shared(seq: Arc<AtomicU64>) -> Notes {
        Notes {
            flags: 0,
            seq,
            pending: Vec::new(),
        }
    }

    /// The classes wanted from now on (see [`effective`]).
    pub fn set_flags(&mut self, flags: u32) {
        self.flags = flags;
    }

    /// Whether events of `class` are wanted.
    #[inline]
    pub fn wants(&self, class: u32) -> bool {
        self.flags & class != 0
    }

    /// Fires `event` (of `class`) on `key`; one load and a branch when
    /// nobody wants it.
    #[inline]
    pub fn fire(&mut self, class: u32, event: &'static str, key: &[u8]) {
        if self.wants(class) {
            self.push(class, event, key);
        }
    }

    #[inline(never)]
    fn push(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.pending.push(Note {
            seq,
            class,
            event,
            key: key.to_vec(),
        });
    }

    /// Takes what was fired since the last call.
    pub fn take(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_trip_as_redis_prints_them() {
        for (set, get) in [
            ("KEA", "AKE"),
            ("", ""),
            ("Ex", "xE"),
            ("Kg$lshzxetd", "AK"),
            // Redis prints A alone for the classes, even with n set.
            ("AKEmn", "AKEm"),
            ("nmK", "nKm"),
            ("Klz", "lzK"),
        ] {
            let f = parse_classes(set).expect("valid");
            assert_eq!(format_classes(f), get, "{set}");
        }
        assert_eq!(parse_classes("KEa"), None);
        assert_eq!(effective(class::ALL), 0);
        assert_eq!(
            effective(class::ALL | class::KEYEVENT),
            class::ALL | class::KEYEVENT
        );
    }

    #[test]
    fn fire_respects_the_flags() {
        let mut n = Notes::shared(Default::default());
        n.fire(class::STRING, "set", b"k");
        assert!(n.take().is_empty());
        n.set_flags(class::STRING | class::KEYEVENT);
        n.fire(class::STRING, "set", b"k");
        n.fire(class::LIST, "lpush", b"k");
        let got = n.take();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].event, &got[0].key[..]), ("set", &b"k"[..]));
    }
}
