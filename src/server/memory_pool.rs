//! Kafka's request `MemoryPool`: with `queued.max.request.bytes` set, the
//! bytes of requests read but not yet handled, over all connections, stay
//! within it. A connection whose next request does not fit stops reading
//! (its client waits, its bytes stay in the socket) until others are
//! handled.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shared budget; unbounded when `queued.max.request.bytes` is not
/// positive, as in Kafka.
#[derive(Clone)]
pub struct MemoryPool {
    budget: Option<(Arc<Semaphore>, usize)>,
}

/// Bytes reserved for one request; released when it is dropped.
pub struct Reserved {
    _permits: Option<OwnedSemaphorePermit>,
}

impl MemoryPool {
    pub fn new(queued_max_request_bytes: Option<usize>) -> MemoryPool {
        // A semaphore counts at most usize::MAX >> 3 permits.
        let budget = queued_max_request_bytes
            .map(|bytes| bytes.min(Semaphore::MAX_PERMITS))
            .map(|bytes| (Arc::new(Semaphore::new(bytes)), bytes));
        MemoryPool { budget }
    }

    /// Waits until `size` bytes fit. A request larger than the whole pool
    /// waits for all of it, so that it still gets read (alone).
    pub async fn reserve(&self, size: usize) -> Reserved {
        let Some((semaphore, capacity)) = &self.budget else {
            return Reserved { _permits: None };
        };
        let permits = u32::try_from(size.min(*capacity).max(1)).unwrap_or(u32::MAX);
        // The semaphore is never closed, so acquiring only fails if it were.
        Reserved {
            _permits: Arc::clone(semaphore).acquire_many_owned(permits).await.ok(),
        }
    }

    /// Bytes free now; `None` when unbounded.
    #[cfg(test)]
    fn available(&self) -> Option<usize> {
        self.budget
            .as_ref()
            .map(|(semaphore, _)| semaphore.available_permits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_wait_until_earlier_ones_are_released() {
        let pool = MemoryPool::new(Some(100));
        let first = pool.reserve(60).await;
        assert_eq!(pool.available(), Some(40));
        let waiting = tokio::spawn({
            let pool = pool.clone();
            async move { pool.reserve(60).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(pool.available(), Some(40));
        drop(second);
        // larger than the pool: waits for all of it, then goes alone
        let whole = pool.reserve(1_000).await;
        assert_eq!(pool.available(), Some(0));
        drop(whole);
        assert_eq!(pool.available(), Some(100));
    }

    #[tokio::test]
    async fn an_unbounded_pool_never_waits() {
        let pool = MemoryPool::new(None);
        let _a = pool.reserve(usize::MAX).await;
        let _b = pool.reserve(usize::MAX).await;
        assert_eq!(pool.available(), None);
    }
}
