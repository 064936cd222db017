//! ACL LOG: denied commands and failed AUTHs, newest first, with Redis
//! 7.2's grouping of repeated events (same reason, context, object and
//! user within 60 seconds update one entry).

use std::collections::VecDeque;

/// Redis's `ACL_LOG_GROUPING_MAX_TIME_DELTA`.
const GROUPING_MS: i64 = 60_000;
/// Redis's default `acllog-max-len`.
pub const MAX_LEN: usize = 128;

pub struct Entry {
    pub count: u64,
    pub reason: &'static str,
    pub context: &'static str,
    pub object: String,
    pub username: String,
    pub client_info: String,
    pub entry_id: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

pub struct AclLog {
    pub entries: VecDeque<Entry>,
    next_id: u64,
    /// `acllog-max-len`.
    pub max_len: usize,
}

impl Default for AclLog {
    fn default() -> Self {
        AclLog {
            entries: VecDeque::new(),
            next_id: 0,
            max_len: MAX_LEN,
        }
    }
}

impl AclLog {
    pub fn add(
        &mut self,
        reason: &'static str,
        context: &'static str,
        object: String,
        username: String,
        client_info: String,
        now_ms: i64,
    ) {
        let similar = self.entries.iter().position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now_ms - e.updated_ms < GROUPING_MS
        });
        // A repeat updates its entry and moves it to the head, as Redis does.
        if let Some(mut e) = similar.and_then(|i| self.entries.remove(i)) {
            e.count += 1;
            e.updated_ms = now_ms;
            e.client_info = client_info;
            self.entries.push_front(e);
            return;
        }
        self.entries.push_front(Entry {
            count: 1,
            reason,
            context,
            object,
            username,
            client_info,
            entry_id: self.next_id,
            created_ms: now_ms,
            updated_ms: now_ms,
        });
        self.next_id += 1;
        self.entries.truncate(self.max_len);
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }
}
