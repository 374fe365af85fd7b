//! Blobs: attachment files by key, on the local filesystem or any
//! object store (the `object_store` crate covers local disks and S3).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::{Result, StoreError};

/// Put, get and delete files by key (`attachments/<channel>/<id>/<name>`).
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `data` under `key`, replacing what was there.
    async fn put(&self, key: &str, data: Bytes) -> Result<()>;
    /// The data under `key`.
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;
    /// Deletes `key`; `false` if it did not exist.
    async fn delete(&self, key: &str) -> Result<bool>;
}

/// A [`BlobStore`] over any [`ObjectStore`].
#[derive(Clone, Debug)]
pub struct ObjectBlobStore {
    inner: Arc<dyn ObjectStore>,
}

impl ObjectBlobStore {
    /// Blobs in `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        ObjectBlobStore { inner: store }
    }

    /// Blobs under a local directory (created if missing).
    pub fn local(dir: &std::path::Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(ObjectBlobStore::new(Arc::new(fs)))
    }
}

fn key_path(key: &str) -> Result<Path> {
    Path::parse(key).map_err(|e| StoreError::Invalid(format!("bad blob key {key:?}: {e}")))
}

fn map_err(e: object_store::Error) -> StoreError {
    match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound("blob"),
        other => StoreError::Backend(Box::new(other)),
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.inner
            .put(&key_path(key)?, PutPayload::from_bytes(data))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match self.inner.get(&key_path(key)?).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(map_err)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let path = key_path(key)?;
        match self.inner.head(&path).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(map_err(e)),
        }
        self.inner.delete(&path).await.map_err(map_err)?;
        Ok(true)
    }
}
