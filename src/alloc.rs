//! The process's memory as its allocator sees it: INFO memory's
//! `used_memory`, `allocator_*` and `used_memory_startup`, and the purge
//! that gives freed pages back to the OS.
//!
//! [`Counting`] wraps the global allocator (the `keyward` binary's is
//! mimalloc; the integration tests install the same) and keeps the bytes
//! live in it, as Redis's zmalloc keeps `used_memory`. Each size is
//! rounded to mimalloc's size class ([`crate::keyspace::entry::alloc_class`],
//! the rounding the per-DB accounting uses too), so `used_memory` and the
//! dataset it contains are in the same units. The count is split over a
//! few cache-line-sized slots, one per thread (threads beyond the slot
//! count share), so a worker's allocations do not bounce a line with
//! another's: an allocation costs a thread-local read and an uncontended
//! `lock add`. Measured with callgrind on `benches/dispatch.rs` (its
//! allocator wrapped, against the same bench unwrapped): 32 instructions
//! per allocation and 38 per free, so a SET that replaces its entry (one
//! of each) pays ~70 of its ~1550; a GET allocates nothing and pays none.
//! An embedder that installs another allocator gets no count:
//! [`allocated`] answers `None` and INFO falls back to the accounting.
//!
//! Giving memory back: mimalloc purges freed pages (`purge_delay`, 10 ms)
//! only when the thread that owns them calls into it, so an idle server
//! kept what a burst left behind. The server's cron asks for a collection
//! ([`request_collect`]) when mimalloc holds much more than is allocated,
//! and each runtime worker runs it on its own heap when it parks
//! ([`on_park`], installed by the binary's runtime builder); MEMORY PURGE
//! collects at once.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::keyspace::entry::alloc_class;

/// Slots the count is split over (more than the threads a server runs:
/// runtime workers, the blocking pool, the AOF writer).
const SLOTS: usize = 16;

#[repr(align(64))]
struct Slot(AtomicIsize);

static COUNTS: [Slot; SLOTS] = [const { Slot(AtomicIsize::new(0)) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // `const` and no destructor: reading it never allocates or registers
    // anything, so the allocator itself may use it.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[cold]
fn assign_slot(cell: &Cell<usize>) -> usize {
    let i = NEXT_SLOT.fetch_add(1, Relaxed) % SLOTS;
    cell.set(i);
    i
}

#[inline(always)]
fn count(delta: isize) {
    let i = MY_SLOT.with(|s| match s.get() {
        usize::MAX => assign_slot(s),
        i => i,
    });
    COUNTS[i].0.fetch_add(delta, Relaxed);
}

/// The bytes an allocation of `size` takes in mimalloc.
#[inline(always)]
fn charged(size: usize) -> isize {
    alloc_class(size) as isize
}

/// A global allocator that counts the bytes live in `A`.
pub struct Counting<A>(pub A);

// SAFETY: every call is forwarded to `A` with the same arguments; the
// counting on the side neither allocates nor touches the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            count(charged(layout.size()));
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            count(charged(layout.size()));
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-charged(layout.size()));
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(charged(new_size) - charged(layout.size()));
        }
        p
    }
}

/// Bytes live in the counting allocator, or `None` when it is not this
/// process's global allocator (nothing was ever counted).
pub fn allocated() -> Option<u64> {
    let n: isize = COUNTS.iter().map(|s| s.0.load(Relaxed)).sum();
    (n > 0).then_some(n as u64)
}

extern "C" {
    // mimalloc's C API, linked through the `mimalloc` dependency whether
    // or not it is the global allocator.
    fn mi_collect(force: bool);
    fn mi_process_info(
        elapsed_msecs: *mut usize,
        user_msecs: *mut usize,
        system_msecs: *mut usize,
        current_rss: *mut usize,
        peak_rss: *mut usize,
        current_commit: *mut usize,
        peak_commit: *mut usize,
        page_faults: *mut usize,
    );
}

/// Memory mimalloc holds committed from the OS (its pages in use and
/// those freed but not yet purged); mimalloc keeps this count in every
/// build, statistics on or off.
pub fn committed() -> u64 {
    let mut commit = 0usize;
    let null = std::ptr::null_mut();
    // SAFETY: every out-pointer but `current_commit` is null, which
    // mi_process_info skips; it reads only its own atomic counters.
    unsafe { mi_process_info(null, null, null, null, null, &mut commit, null, null) };
    commit as u64
}

/// Resident set size of the process (Linux's `/proc/self/statm`), 0 where
/// that is not available.
pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page_size())
}

fn page_size() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: sysconf reads a constant of the system.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if n > 0 {
            return n as u64;
        }
    }
    4096
}

/// Bumped when the cron wants each worker to collect its heap.
static COLLECT_EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SEEN_EPOCH: Cell<u64> = const { Cell::new(0) };
}

/// Asks every runtime worker to collect its mimalloc heap the next time
/// it parks, and collects the calling thread's now.
pub fn request_collect() {
    COLLECT_EPOCH.fetch_add(1, Relaxed);
    collect_here();
}

/// The runtime's `on_thread_park` hook: one atomic load unless the cron
/// asked for a collection since this thread last ran one.
pub fn on_park() {
    if SEEN_EPOCH.with(Cell::get) != COLLECT_EPOCH.load(Relaxed) {
        collect_here();
    }
}

fn collect_here() {
    SEEN_EPOCH.with(|s| s.set(COLLECT_EPOCH.load(Relaxed)));
    // SAFETY: mi_collect takes no pointers and may run on any thread; it
    // walks the calling thread's heap and mimalloc's shared arenas.
    unsafe { mi_collect(false) };
}

/// MEMORY PURGE: the calling thread's heap, abandoned heaps and the
/// arenas' delayed purges, now (`mi_collect(true)`); every worker
/// collects its own heap when it next parks. On glibc the system heap,
/// which an embedder may use instead, is trimmed too.
pub fn purge() {
    COLLECT_EPOCH.fetch_add(1, Relaxed);
    // SAFETY: as in `collect_here`.
    unsafe { mi_collect(true) };
    SEEN_EPOCH.with(|s| s.set(COLLECT_EPOCH.load(Relaxed)));
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes a pad size and touches only glibc's heap.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Whether the allocator holds enough freed memory to be worth a
/// collection: committed more than a quarter (and 4 MiB) above what is
/// allocated.
pub fn worth_collecting(allocated: u64, committed: u64) -> bool {
    committed > allocated + (allocated / 4).max(4 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collecting_threshold() {
        assert!(!worth_collecting(1 << 20, 4 << 20));
        assert!(worth_collecting(1 << 20, 6 << 20));
        assert!(!worth_collecting(100 << 20, 120 << 20));
        assert!(worth_collecting(100 << 20, 130 << 20));
    }
}
