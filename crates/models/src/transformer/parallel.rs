//! Small scoped-thread helpers: map over indices, and process disjoint chunks of a slice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

fn threads(items: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items)
        .max(1)
}

/// `f(0..count)` on all cores, results in index order. A panic in `f` is re-raised.
pub(super) fn map<R: Send>(count: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let workers = threads(count);
    if workers <= 1 {
        return (0..count).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let (f, next) = (&f, &next);
    let mut results: Vec<Option<R>> = (0..count).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return done;
                        }
                        done.push((i, f(i)));
                    }
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(done) => done.into_iter().for_each(|(i, r)| results[i] = Some(r)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    results.into_iter().flatten().collect()
}

/// Calls `f(chunk_index, chunk)` for every `chunk_len`-long chunk of `data`, on all cores.
pub(super) fn for_each_chunk<T: Send>(
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let count = data.len().div_ceil(chunk_len.max(1));
    let workers = threads(count);
    let chunks = Mutex::new(data.chunks_mut(chunk_len.max(1)).enumerate());
    let (f, chunks) = (&f, &chunks);
    let work = move || {
        loop {
            let next = match chunks.lock() {
                Ok(mut guard) => guard.next(),
                Err(poisoned) => poisoned.into_inner().next(),
            };
            let Some((index, chunk)) = next else {
                return;
            };
            f(index, chunk);
        }
    };
    if workers <= 1 {
        work();
        return;
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(work)).collect();
        for handle in handles {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}
