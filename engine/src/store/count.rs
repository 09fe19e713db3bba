//! How many long-term memories the store holds, for a store only this process writes: a store
//! with none is not searched before each turn (the search costs 0.3–2 ms of every turn, and most
//! people keep no memories). A write counts itself when it begins and when it ends, so a count read
//! while one ran is not kept; a write that failed or was dropped midway leaves the count unknown,
//! to be read again.

use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub(crate) struct MemoryCount(Mutex<State>);

#[derive(Default)]
struct State {
    /// Counts the writes begun and ended.
    writes: u64,
    /// `None` until read, and after a write whose outcome is unknown.
    count: Option<u64>,
}

/// A write of memories going on; dropped without `changed`, it leaves the count unknown.
pub(crate) struct Writing<'a> {
    count: &'a MemoryCount,
    by: Option<i64>,
}

impl Writing<'_> {
    /// The write is done and changed the number of memories by `by`.
    pub(crate) fn changed(mut self, by: i64) {
        self.by = Some(by);
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        let mut state = self.count.state();
        state.writes += 1;
        state.count = self
            .by
            .and_then(|by| state.count.map(|n| n.saturating_add_signed(by)));
    }
}

impl MemoryCount {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The count when known, and where the writes stand (for `read`).
    pub(crate) fn known(&self) -> (Option<u64>, u64) {
        let state = self.state();
        (state.count, state.writes)
    }

    /// Keeps a count read from the database, unless a write began or ended since `writes`.
    pub(crate) fn read(&self, writes: u64, count: u64) {
        let mut state = self.state();
        if state.writes == writes {
            state.count = Some(count);
        }
    }

    /// A write of memories begins.
    pub(crate) fn writing(&self) -> Writing<'_> {
        self.state().writes += 1;
        Writing {
            count: self,
            by: None,
        }
    }

    /// Memories were written around the store's own methods: the count is read again.
    #[cfg(feature = "testkit")]
    pub(crate) fn forget(&self) {
        drop(self.writing());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_read_while_a_write_ran_is_not_kept() {
        let count = MemoryCount::default();
        let (_, writes) = count.known();
        let writing = count.writing();
        count.read(writes, 0);
        writing.changed(1);
        assert_eq!(count.known().0, None, "read before the write ended");
        let (_, writes) = count.known();
        count.read(writes, 1);
        assert_eq!(count.known().0, Some(1));
        count.writing().changed(1);
        count.writing().changed(-1);
        count.writing().changed(-1);
        assert_eq!(count.known().0, Some(0));
    }

    #[test]
    fn a_write_dropped_midway_leaves_the_count_unknown() {
        let count = MemoryCount::default();
        count.read(count.known().1, 3);
        drop(count.writing());
        assert_eq!(count.known().0, None);
    }
}
