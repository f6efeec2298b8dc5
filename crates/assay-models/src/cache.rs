//! The response cache behind `use_cache`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use futures::future::BoxFuture;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A store of successful generations by request key, shared across runs. Implementations must
/// not fail the call: a broken cache behaves as a miss (get) or a no-op (put).
pub trait ResponseCache: Send + Sync {
    /// The value stored under `key`, if any.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Value>>;
    /// Stores `value` under `key`, replacing any previous value.
    fn put<'a>(&'a self, key: &'a str, value: Value) -> BoxFuture<'a, ()>;
}

/// The cache key of a request: hex SHA-256 over the endpoint's registry name, the upstream
/// model and the full JSON request body (each part length-prefixed).
pub fn cache_key(endpoint: &str, upstream_model: &str, body: &Value) -> String {
    let mut h = Sha256::new();
    for part in [
        endpoint.as_bytes(),
        upstream_model.as_bytes(),
        body.to_string().as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// An in-process [`ResponseCache`] holding at most `capacity` entries; the oldest entry is
/// evicted first.
#[derive(Debug)]
pub struct MemoryCache {
    capacity: usize,
    inner: Mutex<(HashMap<String, Value>, VecDeque<String>)>,
}

impl MemoryCache {
    /// Default capacity of [`MemoryCache::default`].
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// A cache of at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// Entries currently held.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl ResponseCache for MemoryCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Value>> {
        let hit = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .get(key)
            .cloned();
        Box::pin(async move { hit })
    }

    fn put<'a>(&'a self, key: &'a str, value: Value) -> BoxFuture<'a, ()> {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (map, order) = &mut *guard;
        if map.insert(key.to_string(), value).is_none() {
            order.push_back(key.to_string());
            while map.len() > self.capacity {
                match order.pop_front() {
                    Some(old) => {
                        map.remove(&old);
                    }
                    None => break,
                }
            }
        }
        drop(guard);
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn memory_cache_evicts_oldest() {
        let c = MemoryCache::new(2);
        c.put("a", json!(1)).await;
        c.put("b", json!(2)).await;
        c.put("a", json!(3)).await;
        assert_eq!(c.get("a").await, Some(json!(3)));
        c.put("c", json!(4)).await;
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("a").await, None);
        assert_eq!(c.get("c").await, Some(json!(4)));
    }

    #[test]
    fn keys_separate_parts() {
        let body = json!({"model": "m", "input": "x"});
        let k = cache_key("e", "m", &body);
        assert_eq!(k.len(), 64);
        assert_eq!(k, cache_key("e", "m", &body));
        assert_ne!(k, cache_key("em", "", &body));
        assert_ne!(k, cache_key("e", "m", &json!({"model": "m", "input": "y"})));
    }
}
