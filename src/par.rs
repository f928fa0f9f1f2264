//! One job per item on a few threads, results in item order: listing layers, hashing candidate files.
//!
//! Items are handed out one at a time from a shared counter, so a slow item (a big layer) never holds
//! up a batch of others; the calling thread works too. A worker's panic reaches the caller when the
//! scope ends. Written here rather than taken from rayon: it is the scheduling the three callers had
//! (each had its own copy), its jobs are few and long (layers, not files), and it needs no pool.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Calls `f(index, item)` for every item of `items` on up to `threads` threads (at least one, never
/// more than there are items), and returns the results in the order of `items`.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(usize, &T) -> R + Sync,
) -> Vec<R> {
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            let r = f(i, item);
            *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads.clamp(1, items.len().max(1)) {
            s.spawn(work);
        }
        work();
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                // Every index below items.len() was taken by exactly one worker, which filled its slot
                // (a worker that panicked made the scope panic before this point).
                .expect("every slot is filled by a worker")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::map;

    #[test]
    fn results_come_back_in_item_order_whatever_the_threads() {
        let items: Vec<u64> = (0..100).collect();
        for threads in [0, 1, 2, 7, 1000] {
            let out = map(&items, threads, |i, x| (i as u64) * 1000 + x * x);
            let want: Vec<u64> = (0..100u64).map(|x| x * 1000 + x * x).collect();
            assert_eq!(out, want, "{threads} threads");
        }
        assert!(map(&[] as &[u8], 4, |_, x| *x).is_empty());
    }

    #[test]
    fn every_item_runs_once() {
        let count = std::sync::atomic::AtomicUsize::new(0);
        let items = vec![(); 37];
        map(&items, 4, |_, ()| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        });
        assert_eq!(count.into_inner(), 37);
    }

    #[test]
    #[should_panic(expected = "panicked")]
    fn a_worker_panic_reaches_the_caller() {
        let items: Vec<u32> = (0..8).collect();
        map(&items, 3, |_, &x| {
            assert!(x != 5, "item 5: the worker panicked");
            x
        });
    }
}
