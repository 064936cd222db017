//! The stream value: entries ordered by id, consumer groups with their
//! pending-entries lists (PEL), and the counters Redis 7 keeps for lag
//! (`entries_added`, `max_deleted_entry_id`).
//!
//! Entries live in packed macro nodes ([`entries`]). The byte count is kept
//! up to date by every mutation here, so handlers mutate through these
//! methods only.

pub mod chunked;
pub mod entries;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use chunked::ChunkMap;
pub use entries::{Entries, EntryRef, NodeLimits};

use crate::keyspace::value::Thresholds;

/// A stream entry id: milliseconds and sequence, ordered as a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::ZERO
    }

    /// The next id, `None` past the last possible one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous id, `None` before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// `ms-seq` into `buf`, returning the written slice (no allocation).
    pub fn format<'a>(&self, buf: &'a mut [u8; 48]) -> &'a [u8] {
        let mut a = itoa::Buffer::new();
        let ms = a.format(self.ms).as_bytes();
        let n = ms.len();
        buf[..n].copy_from_slice(ms);
        buf[n] = b'-';
        let mut b = itoa::Buffer::new();
        let seq = b.format(self.seq).as_bytes();
        buf[n + 1..n + 1 + seq.len()].copy_from_slice(seq);
        &buf[..n + 1 + seq.len()]
    }
}

/// A pending entry: delivered to a consumer, not yet acknowledged.
#[derive(Debug, Clone)]
pub struct Nack {
    /// The owner's name, shared with its entry in the group's consumers.
    consumer: Arc<[u8]>,
    /// Last delivery, ms since the epoch.
    pub delivery_time: i64,
    pub delivery_count: u64,
}

impl Nack {
    /// The consumer it was delivered to.
    pub fn consumer(&self) -> &[u8] {
        &self.consumer
    }
}

#[derive(Debug, Clone)]
pub struct Consumer {
    /// Last time the consumer tried an interaction (read, claim …).
    pub seen_time: i64,
    /// Last successful interaction (7.2's `active-time`); -1 = never.
    pub active_time: i64,
    /// Its PEL's key prefix in [`ConsumerGroup`]'s `cpel`: unique in the
    /// group for the consumer's lifetime.
    tag: u64,
    /// Entries in its PEL.
    pending: usize,
}

impl Consumer {
    /// How many entries it has pending.
    pub fn pending(&self) -> usize {
        self.pending
    }
}

/// Redis's `SCG_INVALID_ENTRIES_READ`: the counter is unknown.
pub const ENTRIES_READ_INVALID: i64 = -1;

/// A consumer group. Its state lives in [`ChunkMap`]s so that a clone (a
/// snapshot's copy) shares it in leaves of at most
/// [`chunked::LEAF_MAX`] items, and a write after it copies one leaf per
/// map it changes: the group PEL, the consumers, and every consumer's PEL
/// kept together as one ordered set of `(consumer tag, id)`, where a
/// consumer's PEL is the range of its tag.
#[derive(Debug, Clone)]
pub struct ConsumerGroup {
    pub last_id: StreamId,
    pub entries_read: i64,
    pel: ChunkMap<StreamId, Nack>,
    consumers: ChunkMap<Arc<[u8]>, Consumer>,
    cpel: ChunkMap<(u64, StreamId), ()>,
    next_tag: u64,
}

impl ConsumerGroup {
    fn new(last_id: StreamId, entries_read: i64) -> ConsumerGroup {
        ConsumerGroup {
            last_id,
            entries_read,
            pel: ChunkMap::new(),
            consumers: ChunkMap::new(),
            cpel: ChunkMap::new(),
            next_tag: 0,
        }
    }

    /// The group's pending entries by id.
    pub fn pel(&self) -> &ChunkMap<StreamId, Nack> {
        &self.pel
    }

    /// The consumers by name.
    pub fn consumers(&self) -> &ChunkMap<Arc<[u8]>, Consumer> {
        &self.consumers
    }

    pub fn consumer(&self, name: &[u8]) -> Option<&Consumer> {
        self.consumers.get(name)
    }

    /// `c`'s pending ids from `from` on, ascending (O(log n) to the first).
    pub fn consumer_pel(
        &self,
        c: &Consumer,
        from: StreamId,
    ) -> impl Iterator<Item = StreamId> + '_ {
        let tag = c.tag;
        self.cpel
            .range_from(&(tag, from))
            .map_while(move |(&(t, id), _)| (t == tag).then_some(id))
    }

    /// Bytes a clone copies: the maps' indexes, not their leaves.
    fn share_cost(&self) -> usize {
        self.pel.share_cost() + self.consumers.share_cost() + self.cpel.share_cost()
    }
}

// Approximate heap costs of the bookkeeping (a PEL item, a consumer's PEL
// item, a consumer with its shared name), so memory accounting grows with
// groups and PELs too.
const GROUP_OVERHEAD: usize = 96;
const CONSUMER_OVERHEAD: usize = 64;
const NACK_OVERHEAD: usize = 64;
const CPEL_OVERHEAD: usize = 24;

#[derive(Debug, Clone, Default)]
pub struct StreamValue {
    entries: Entries,
    pub last_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    groups: BTreeMap<Vec<u8>, ConsumerGroup>,
    mem: usize,
}

impl StreamValue {
    pub fn new(_t: &Thresholds) -> Self {
        StreamValue::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// A stream key exists even when empty (XADD then XDEL keeps it), so
    /// `Db::with_object` must never delete it for being empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Heap bytes owned, kept up to date incrementally (O(1)).
    pub fn mem_usage(&self) -> usize {
        self.mem + self.entries.mem_usage()
    }

    /// Bytes a clone copies: the entry nodes' B-tree and the consumer
    /// groups' indexes, not the nodes and leaves, which it shares.
    pub fn share_cost(&self) -> usize {
        let groups: usize = self
            .groups
            .iter()
            .map(|(name, g)| GROUP_OVERHEAD + name.len() + g.share_cost())
            .sum();
        groups + self.entries.node_count() * 16
    }

    /// The byte count recomputed from scratch (tests compare it with
    /// [`StreamValue::mem_usage`]).
    pub fn recount(&self) -> usize {
        let mut m = self.entries.recount();
        for (name, g) in &self.groups {
            m += GROUP_OVERHEAD + name.len();
            m += g.pel.iter().count() * NACK_OVERHEAD;
            m += g.cpel.iter().count() * CPEL_OVERHEAD;
            for (cname, _) in g.consumers.iter() {
                m += CONSUMER_OVERHEAD + cname.len();
            }
        }
        m
    }

    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    pub fn first_id(&self) -> Option<StreamId> {
        self.entries.first_id()
    }

    pub fn last_entry_id(&self) -> Option<StreamId> {
        self.entries.last_id()
    }

    pub fn entries(&self) -> &Entries {
        &self.entries
    }

    /// The id XADD with `*` (`ms: None`) or `<ms>-*` would assign, or
    /// `None` when it would not be greater than the top item.
    pub fn next_id(&self, now_ms: u64, explicit_ms: Option<u64>) -> Option<StreamId> {
        match explicit_ms {
            None => {
                if now_ms > self.last_id.ms {
                    Some(StreamId::new(now_ms, 0))
                } else {
                    self.last_id.incr()
                }
            }
            Some(ms) => {
                if ms == self.last_id.ms {
                    self.last_id
                        .seq
                        .checked_add(1)
                        .map(|s| StreamId::new(ms, s))
                } else if ms > self.last_id.ms {
                    Some(StreamId::new(ms, 0))
                } else {
                    None
                }
            }
        }
    }

    /// Appends an entry; the caller checked `id > last_id`. `limits` are
    /// the current `stream-node-max-*` settings.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        self.entries.push(id, fields, limits);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Entries with ids in `[start, end]`, ascending.
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
    ) -> impl Iterator<Item = (StreamId, EntryRef<'_>)> {
        self.entries
            .iter_from(start)
            .take_while(move |(id, _)| *id <= end)
    }

    /// Entries with ids in `[start, end]`, descending.
    pub fn range_rev(
        &self,
        start: StreamId,
        end: StreamId,
    ) -> impl Iterator<Item = (StreamId, EntryRef<'_>)> {
        self.entries
            .rev_from(end)
            .take_while(move |(id, _)| *id >= start)
    }

    /// Deletes one entry (XDEL); true when it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let found = self.entries.remove(id);
        if found && id > self.max_deleted {
            self.max_deleted = id;
        }
        found
    }

    /// Trims from the head (XTRIM, XADD's MAXLEN/MINID); see
    /// [`Entries::trim`]. Returns how many entries went.
    pub fn trim(
        &mut self,
        maxlen: Option<usize>,
        minid: Option<StreamId>,
        approx: bool,
        limit: usize,
    ) -> usize {
        self.entries.trim(maxlen, minid, approx, limit)
    }

    /// The read-only view lag and entries-read arithmetic work on.
    fn view(&self) -> StreamView<'_> {
        StreamView {
            entries: &self.entries,
            last_id: self.last_id,
            max_deleted: self.max_deleted,
            entries_added: self.entries_added,
        }
    }

    /// A group's lag, `None` when it can't be known (XINFO replies nil).
    pub fn lag(&self, g: &ConsumerGroup) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let view = self.view();
        if g.entries_read != ENTRIES_READ_INVALID && !view.has_tombstones_from(g.last_id) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = view.estimate_distance(g.last_id);
        (read != ENTRIES_READ_INVALID).then(|| self.entries_added as i64 - read)
    }

    // --- consumer groups ---

    pub fn groups(&self) -> &BTreeMap<Vec<u8>, ConsumerGroup> {
        &self.groups
    }

    pub fn group(&self, name: &[u8]) -> Option<&ConsumerGroup> {
        self.groups.get(name)
    }

    /// Creates a group; false when the name is taken.
    pub fn create_group(&mut self, name: &[u8], last_id: StreamId, entries_read: i64) -> bool {
        if self.groups.contains_key(name) {
            return false;
        }
        self.mem += GROUP_OVERHEAD + name.len();
        self.groups
            .insert(name.to_vec(), ConsumerGroup::new(last_id, entries_read));
        true
    }

    pub fn destroy_group(&mut self, name: &[u8]) -> bool {
        match self.groups.remove(name) {
            Some(g) => {
                self.mem -= GROUP_OVERHEAD + name.len() + group_mem(&g);
                true
            }
            None => false,
        }
    }

    /// Mutable access to a group; the closure gets a [`GroupMut`] whose
    /// changes keep the byte count exact.
    pub fn with_group<R>(
        &mut self,
        name: &[u8],
        f: impl FnOnce(&mut GroupMut<'_>) -> R,
    ) -> Option<R> {
        let g = self.groups.get_mut(name)?;
        let mut gm = GroupMut {
            g,
            mem: &mut self.mem,
        };
        Some(f(&mut gm))
    }

    /// Splits the borrow: the stream (read-only) and one group (mutable).
    pub fn split_group(&mut self, name: &[u8]) -> Option<(StreamView<'_>, GroupMut<'_>)> {
        let g = self.groups.get_mut(name)?;
        let view = StreamView {
            entries: &self.entries,
            last_id: self.last_id,
            max_deleted: self.max_deleted,
            entries_added: self.entries_added,
        };
        let gm = GroupMut {
            g,
            mem: &mut self.mem,
        };
        Some((view, gm))
    }

    pub fn set_last_id(&mut self, id: StreamId) {
        self.last_id = id;
    }
}

/// What a group's PELs and consumers count: O(consumers).
fn group_mem(g: &ConsumerGroup) -> usize {
    let mut m = g.pel.len() * NACK_OVERHEAD + g.cpel.len() * CPEL_OVERHEAD;
    for (cname, _) in g.consumers.iter() {
        m += CONSUMER_OVERHEAD + cname.len();
    }
    m
}

/// The read-only side of [`StreamValue::split_group`].
pub struct StreamView<'a> {
    pub entries: &'a Entries,
    pub last_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
}

impl StreamView<'_> {
    /// Whether a deleted entry could lie at or after `start` (Redis's
    /// `streamRangeHasTombstones` with an open end): a tombstone before the
    /// first entry was trimmed away with it.
    fn has_tombstones_from(&self, start: StreamId) -> bool {
        let first = self.entries.first_id();
        first.is_some_and(|f| f <= self.max_deleted)
            && !self.max_deleted.is_zero()
            && start <= self.max_deleted
    }

    /// As [`StreamValue::estimate_distance`].
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if (self.entries.is_empty() && id <= self.last_id) || id == self.last_id {
            return self.entries_added as i64;
        }
        if id > self.last_id {
            return ENTRIES_READ_INVALID;
        }
        let first = self.entries.first_id().unwrap_or(StreamId::ZERO);
        if self.max_deleted.is_zero() || self.max_deleted < first {
            let base = self.entries_added as i64 - self.entries.len() as i64;
            if id < first {
                return base;
            } else if id == first {
                return base + 1;
            }
        }
        ENTRIES_READ_INVALID
    }

    /// Moves a group's last-delivered id forward to `id` as XREADGROUP
    /// `>` does, keeping entries-read right when it can.
    pub fn advance(&self, gm: &mut GroupMut<'_>, id: StreamId) {
        if id <= gm.g.last_id {
            return;
        }
        if gm.g.entries_read != ENTRIES_READ_INVALID && !self.has_tombstones_from(id) {
            gm.g.entries_read += 1;
        } else if self.entries_added != 0 {
            gm.g.entries_read = self.estimate_distance(id);
        }
        gm.g.last_id = id;
    }
}

/// A consumer group being changed; keeps the stream's byte count exact.
pub struct GroupMut<'a> {
    g: &'a mut ConsumerGroup,
    mem: &'a mut usize,
}

impl GroupMut<'_> {
    pub fn group(&self) -> &ConsumerGroup {
        self.g
    }

    pub fn set_last_id(&mut self, id: StreamId, entries_read: Option<i64>) {
        self.g.last_id = id;
        if let Some(n) = entries_read {
            self.g.entries_read = n;
        }
    }

    /// The consumer, created when missing; true when it was created.
    pub fn ensure_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.g.consumers.contains_key(name) {
            return false;
        }
        *self.mem += CONSUMER_OVERHEAD + name.len();
        let tag = self.g.next_tag;
        self.g.next_tag += 1;
        self.g.consumers.insert(
            Arc::from(name),
            Consumer {
                seen_time: now,
                active_time: -1,
                tag,
                pending: 0,
            },
        );
        true
    }

    pub fn consumer_mut(&mut self, name: &[u8]) -> Option<&mut Consumer> {
        self.g.consumers.get_mut(name)
    }

    /// Deletes a consumer and its pending entries; returns how many were pending.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.g.consumers.remove(name)?;
        let ids: Vec<StreamId> = self.g.consumer_pel(&c, StreamId::ZERO).collect();
        for &id in &ids {
            self.g.cpel.remove(&(c.tag, id));
            if self.g.pel.remove(&id).is_some() {
                *self.mem -= NACK_OVERHEAD;
            }
        }
        *self.mem -= CONSUMER_OVERHEAD + name.len() + ids.len() * CPEL_OVERHEAD;
        Some(ids.len())
    }

    /// Takes `id` off its owner's PEL (the group PEL keeps it).
    fn unown(&mut self, owner: &[u8], id: StreamId) {
        if let Some(c) = self.g.consumers.get_mut(owner) {
            if self.g.cpel.remove(&(c.tag, id)).is_some() {
                c.pending -= 1;
                *self.mem -= CPEL_OVERHEAD;
            }
        }
    }

    /// Acknowledges `id`; true when it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(nack) = self.g.pel.remove(&id) else {
            return false;
        };
        *self.mem -= NACK_OVERHEAD;
        self.unown(&nack.consumer, id);
        true
    }

    /// Records a delivery of `id` to `consumer` (which must exist): a new
    /// pending entry, or an existing one moved to this consumer; `count`
    /// maps the old delivery count (`None`: new entry) to the new one.
    pub fn deliver(
        &mut self,
        id: StreamId,
        consumer: &[u8],
        time: i64,
        count: impl FnOnce(Option<u64>) -> u64,
    ) {
        let Some((name, c)) = self.g.consumers.get_key_value(consumer) else {
            debug_assert!(false, "deliver to a consumer that does not exist");
            return;
        };
        let (name, tag) = (name.clone(), c.tag);
        let mut moved_from = None;
        match self.g.pel.get_mut(&id) {
            Some(n) => {
                if *n.consumer != *consumer {
                    moved_from = Some(std::mem::replace(&mut n.consumer, name));
                }
                n.delivery_time = time;
                n.delivery_count = count(Some(n.delivery_count));
            }
            None => {
                *self.mem += NACK_OVERHEAD;
                self.g.pel.insert(
                    id,
                    Nack {
                        consumer: name,
                        delivery_time: time,
                        delivery_count: count(None),
                    },
                );
            }
        }
        if let Some(owner) = moved_from {
            self.unown(&owner, id);
        }
        if self.g.cpel.insert((tag, id), ()).is_none() {
            *self.mem += CPEL_OVERHEAD;
            if let Some(c) = self.g.consumers.get_mut(consumer) {
                c.pending += 1;
            }
        }
    }

    pub fn pel_mut(&mut self, id: StreamId) -> Option<&mut Nack> {
        self.g.pel.get_mut(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_matches_recount() {
        let mut s = StreamValue::default();
        for i in 1..50u64 {
            s.append(
                StreamId::new(i, 0),
                &[b"f", b"value"],
                NodeLimits::default(),
            );
        }
        s.delete(StreamId::new(3, 0));
        s.trim(Some(40), None, false, 0);
        s.create_group(b"g", StreamId::ZERO, 0);
        s.with_group(b"g", |g| {
            g.ensure_consumer(b"alice", 0);
            g.ensure_consumer(b"bob", 0);
            g.deliver(StreamId::new(20, 0), b"alice", 1, |c| {
                c.map_or(1, |c| c + 1)
            });
            g.deliver(StreamId::new(21, 0), b"alice", 1, |c| {
                c.map_or(1, |c| c + 1)
            });
            g.deliver(StreamId::new(20, 0), b"bob", 1, |c| c.map_or(1, |c| c + 1));
            g.ack(StreamId::new(21, 0));
            g.delete_consumer(b"bob");
        });
        assert_eq!(s.mem_usage(), s.recount());
        s.destroy_group(b"g");
        assert_eq!(s.mem_usage(), s.recount());
        assert_eq!(s.len(), 40);
    }

    #[test]
    fn ids() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::ZERO.decr(), None);
        let mut b = [0u8; 48];
        assert_eq!(StreamId::new(12, 3).format(&mut b), b"12-3");
    }
}
