//! Long work a front end may stop by name — a model download, a sign-in waiting for the browser —
//! tracked while it runs: one entry per key, gone when the work ends however it ends.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

/// The work under way, by key.
#[derive(Debug)]
pub(crate) struct Stoppable<K> {
    running: Mutex<HashMap<K, (u64, CancellationToken)>>,
    next: AtomicU64,
}

impl<K> Default for Stoppable<K> {
    fn default() -> Self {
        Self {
            running: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        }
    }
}

/// One piece of work under way; its entry goes when this is dropped.
pub(crate) struct Running<'a, K: Eq + Hash> {
    owner: &'a Stoppable<K>,
    key: K,
    number: u64,
    /// Cancelled when someone asks it to stop.
    pub stop: CancellationToken,
}

impl<K: Eq + Hash + Clone> Stoppable<K> {
    /// Starts tracking work under `key`; `None` while other work of that key runs.
    pub(crate) fn begin(&self, key: &K) -> Option<Running<'_, K>> {
        let running = self.lock();
        if running.contains_key(key) {
            return None;
        }
        drop(running);
        Some(self.replace(key))
    }

    /// Starts tracking work under `key`, stopping the work of that key that ran before.
    pub(crate) fn replace(&self, key: &K) -> Running<'_, K> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let stop = CancellationToken::new();
        if let Some((_, old)) = self.lock().insert(key.clone(), (number, stop.clone())) {
            old.cancel();
        }
        Running {
            owner: self,
            key: key.clone(),
            number,
            stop,
        }
    }

    /// Asks the work of `key` to stop; `false` when none runs.
    pub(crate) fn stop(&self, key: &K) -> bool {
        self.lock().get(key).map(|(_, t)| t.cancel()).is_some()
    }

    /// Whether work of `key` runs.
    pub(crate) fn is_running(&self, key: &K) -> bool {
        self.lock().contains_key(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (u64, CancellationToken)>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Eq + Hash> Drop for Running<'_, K> {
    fn drop(&mut self) {
        let mut running = self
            .owner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Work that replaced this one keeps its entry.
        if running
            .get(&self.key)
            .is_some_and(|(n, _)| *n == self.number)
        {
            running.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_key_gone_when_the_work_ends() {
        let work = Stoppable::<String>::default();
        let key = "tiny".to_owned();
        let first = work.begin(&key).expect("nothing ran");
        assert!(work.begin(&key).is_none(), "a second start of the same key");
        assert!(work.stop(&key));
        assert!(first.stop.is_cancelled());
        drop(first);
        assert!(!work.is_running(&key));
        assert!(!work.stop(&key));
    }

    #[test]
    fn a_replaced_work_is_stopped_and_its_end_keeps_the_new_entry() {
        let work = Stoppable::<u8>::default();
        let old = work.replace(&1);
        let new = work.replace(&1);
        assert!(old.stop.is_cancelled());
        assert!(!new.stop.is_cancelled());
        drop(old);
        assert!(
            work.is_running(&1),
            "the old work's end removed the new entry"
        );
        drop(new);
        assert!(!work.is_running(&1));
    }
}
