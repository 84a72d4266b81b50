//! A work queue for reconcilers: each key is queued at most once, never handed to two workers at
//! once, and can be scheduled for later (backoff, polling, relists). A key added while a worker
//! holds it is queued again when that worker is done, so no change is ever missed.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    hash::Hash,
    sync::Mutex,
    time::Duration,
};

use tokio::{sync::Notify, time::Instant};

pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
}

struct State<K> {
    ready: VecDeque<K>,
    queued: HashSet<K>,
    in_flight: HashSet<K>,
    /// Keys added while in flight: queued again on `done`.
    again: HashSet<K>,
    /// When each delayed key is due (the earliest wins).
    due: HashMap<K, Instant>,
    timers: BTreeMap<(Instant, u64), K>,
    seq: u64,
    closed: bool,
}

impl<K: Clone + Eq + Hash> Default for WorkQueue<K> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                ready: VecDeque::new(),
                queued: HashSet::new(),
                in_flight: HashSet::new(),
                again: HashSet::new(),
                due: HashMap::new(),
                timers: BTreeMap::new(),
                seq: 0,
                closed: false,
            }),
            notify: Notify::new(),
        }
    }
}

impl<K: Clone + Eq + Hash> WorkQueue<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `key` now.
    pub fn add(&self, key: K) {
        let mut s = self.lock();
        if s.in_flight.contains(&key) {
            s.again.insert(key);
        } else if s.queued.insert(key.clone()) {
            s.due.remove(&key);
            s.ready.push_back(key);
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Queues `key` after `delay`, unless it is due sooner already.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let at = Instant::now() + delay;
        let mut s = self.lock();
        if s.queued.contains(&key) || s.due.get(&key).is_some_and(|d| *d <= at) {
            return;
        }
        s.seq += 1;
        let seq = s.seq;
        s.due.insert(key.clone(), at);
        s.timers.insert((at, seq), key);
        drop(s);
        // Wake a waiter so it re-computes its sleep.
        self.notify.notify_one();
    }

    /// Waits for the next key; `None` once the queue is closed.
    pub async fn next(&self) -> Option<K> {
        loop {
            let wake_at = {
                let mut s = self.lock();
                if s.closed {
                    return None;
                }
                let now = Instant::now();
                while let Some(((at, _), _)) = s.timers.first_key_value() {
                    if *at > now {
                        break;
                    }
                    let Some(((at, _), key)) = s.timers.pop_first() else { break };
                    // Only the key's current due time counts; superseded timers are dropped.
                    if s.due.get(&key) == Some(&at) {
                        s.due.remove(&key);
                        if s.in_flight.contains(&key) {
                            s.again.insert(key);
                        } else if s.queued.insert(key.clone()) {
                            s.ready.push_back(key);
                        }
                    }
                }
                if let Some(key) = s.ready.pop_front() {
                    s.queued.remove(&key);
                    s.in_flight.insert(key.clone());
                    return Some(key);
                }
                s.timers.first_key_value().map(|((at, _), _)| *at)
            };
            match wake_at {
                Some(at) => {
                    tokio::select! {
                        () = self.notify.notified() => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => self.notify.notified().await,
            }
        }
    }

    /// Marks a key handed out by `next` as finished.
    pub fn done(&self, key: &K) {
        let mut s = self.lock();
        s.in_flight.remove(key);
        if s.again.remove(key) && s.queued.insert(key.clone()) {
            s.due.remove(key);
            s.ready.push_back(key.clone());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Stops handing out keys; waiting workers get `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// Keys queued or scheduled (for tests and metrics).
    pub fn len(&self) -> usize {
        let s = self.lock();
        s.ready.len() + s.due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_key_is_queued_once_and_never_handed_out_twice() {
        let q = WorkQueue::default();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.next().await, Some("a"));
        q.add("a"); // changed while a worker holds it
        assert_eq!(q.next().await, Some("b"));
        assert_eq!(q.len(), 0, "a is held, so its re-add waits");
        q.done(&"a");
        assert_eq!(q.next().await, Some("a"), "re-queued when the worker finished");
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_keys_come_due_and_the_earliest_time_wins() {
        let q = Arc::new(WorkQueue::default());
        q.add_after("slow", Duration::from_secs(60));
        q.add_after("slow", Duration::from_secs(5));
        q.add_after("slow", Duration::from_secs(30)); // later than already due: ignored
        let started = Instant::now();
        assert_eq!(q.next().await, Some("slow"));
        assert_eq!(started.elapsed().as_secs(), 5);
        q.done(&"slow");
        assert!(q.is_empty(), "the superseded timers are gone");
    }

    #[tokio::test]
    async fn close_releases_waiting_workers() {
        let q: Arc<WorkQueue<&str>> = Arc::new(WorkQueue::default());
        let worker = tokio::spawn({
            let q = q.clone();
            async move { q.next().await }
        });
        tokio::task::yield_now().await;
        q.close();
        assert_eq!(worker.await.unwrap(), None);
    }
}
