//! S3 under the `STORAGE_ROOT` prefix: one method per call, no business rules.

use aws_sdk_s3::{Client, primitives::ByteStream};

use crate::{Config, Error, config::StorageRoot};

/// The uploads bucket and key prefix, with the S3 client that reaches them.
#[derive(Clone, Debug)]
pub struct Storage {
    client: Client,
    root: StorageRoot,
}

impl Storage {
    /// Builds the client; S3 uses path-style URLs when an endpoint override (LocalStack) is set.
    pub fn new(aws: &aws_config::SdkConfig, config: &Config) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(aws)
            .force_path_style(config.aws_endpoint_overridden)
            .build();
        Self {
            client: Client::from_conf(s3),
            root: config.storage_root.clone(),
        }
    }

    /// Wraps a client configured elsewhere (tools, and tests that point it at a dead endpoint).
    pub fn from_client(client: Client, root: StorageRoot) -> Self {
        Self { client, root }
    }

    /// The bucket and prefix every key is built under.
    pub fn root(&self) -> &StorageRoot {
        &self.root
    }

    /// The S3 client itself, for callers that need a call this type does not wrap (tests, tools).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Checks that the bucket exists and the credentials reach it.
    ///
    /// # Errors
    /// [`Error::Storage`] when S3 is unreachable or the bucket is missing.
    pub async fn check(&self) -> Result<(), Error> {
        self.client
            .head_bucket()
            .bucket(&self.root.bucket)
            .send()
            .await
            .map_err(Error::storage)?;
        Ok(())
    }

    /// Stores `bytes` at `key` (a full key, already under the root).
    ///
    /// # Errors
    /// [`Error::Storage`] when the upload fails.
    pub async fn put(
        &self,
        key: &str,
        bytes: impl Into<ByteStream>,
        content_type: &str,
    ) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(&self.root.bucket)
            .key(key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .map_err(Error::storage)?;
        Ok(())
    }

    /// Reads the whole object at `key`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a missing key (no retry can fix it), [`Error::Storage`] otherwise.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, Error> {
        let object = self
            .client
            .get_object()
            .bucket(&self.root.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) if service.is_no_such_key() => Error::NotFound("object"),
                _ => Error::storage(e),
            })?;
        let bytes = object.body.collect().await.map_err(Error::storage)?;
        Ok(bytes.to_vec())
    }

    /// Deletes the object at `key`; deleting a missing key succeeds, as in S3.
    ///
    /// # Errors
    /// [`Error::Storage`] when S3 cannot be reached.
    pub async fn delete(&self, key: &str) -> Result<(), Error> {
        self.client
            .delete_object()
            .bucket(&self.root.bucket)
            .key(key)
            .send()
            .await
            .map_err(Error::storage)?;
        Ok(())
    }
}
