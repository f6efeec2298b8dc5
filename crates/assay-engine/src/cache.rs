//! The gateway's response cache kept in the database, so cached answers are shared by every
//! run and survive restarts.

use assay_models::ResponseCache;
use assay_store::Store;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;

/// [`ResponseCache`] over the store's `response_cache` table. Failures behave as misses.
pub struct StoreCache(pub Store);

impl ResponseCache for StoreCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<Value>> {
        async move {
            match self.0.cache_get(key).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "response cache read failed");
                    None
                }
            }
        }
        .boxed()
    }

    fn put<'a>(&'a self, key: &'a str, value: Value) -> BoxFuture<'a, ()> {
        async move {
            if let Err(e) = self.0.cache_put(key, &value).await {
                tracing::warn!(error = %e, "response cache write failed");
            }
        }
        .boxed()
    }
}
