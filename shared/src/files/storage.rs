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

    /// Reads the whole object at `key` into memory (small objects only: results, tests).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a missing key (no retry can fix it), [`Error::Storage`] otherwise.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, Error> {
        let object = self.open(key).await?;
        let bytes = object.body.collect().await.map_err(Error::storage)?;
        Ok(bytes.to_vec())
    }

    /// Opens the object at `key` for streaming: its body arrives chunk by chunk, never whole.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a missing key, [`Error::Storage`] otherwise.
    pub async fn open(&self, key: &str) -> Result<Object, Error> {
        let object = self
            .client
            .get_object()
            .bucket(&self.root.bucket)
            .key(key)
            .send()
            .await
            .map_err(not_found_or_storage)?;
        Ok(Object {
            etag: object.e_tag,
            body: object.body,
        })
    }

    /// Opens `len` bytes of the object at `key` from `start`, provided it is still the version
    /// with `etag` (so two reads of one object never mix two uploads).
    ///
    /// # Errors
    /// [`Error::NotFound`] for a missing key, [`Error::Storage`] otherwise (a changed object too).
    pub async fn open_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
        etag: Option<&str>,
    ) -> Result<ByteStream, Error> {
        let end = start + len.max(1) - 1;
        let object = self
            .client
            .get_object()
            .bucket(&self.root.bucket)
            .key(key)
            .range(format!("bytes={start}-{end}"))
            .set_if_match(etag.map(ToOwned::to_owned))
            .send()
            .await
            .map_err(not_found_or_storage)?;
        Ok(object.body)
    }

    /// Reads `len` bytes of the object at `key` from `start` into memory; see [`Storage::open_range`].
    ///
    /// # Errors
    /// As [`Storage::open_range`].
    pub async fn read_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
        etag: Option<&str>,
    ) -> Result<Vec<u8>, Error> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let body = self.open_range(key, start, len, etag).await?;
        let bytes = body.collect().await.map_err(Error::storage)?;
        Ok(bytes.to_vec())
    }

    /// Whether an object exists at `key`.
    ///
    /// # Errors
    /// [`Error::Storage`] when S3 cannot be reached.
    pub async fn exists(&self, key: &str) -> Result<bool, Error> {
        match self
            .client
            .head_object()
            .bucket(&self.root.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(Error::storage(e)),
        }
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

/// An object opened for reading: its version tag and its streaming body.
#[derive(Debug)]
pub struct Object {
    pub etag: Option<String>,
    pub body: ByteStream,
}

/// A missing key is [`Error::NotFound`]: no retry can bring it back.
fn not_found_or_storage(
    e: aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_object::GetObjectError>,
) -> Error {
    match e.as_service_error() {
        Some(service) if service.is_no_such_key() => Error::NotFound("object"),
        _ => Error::storage(e),
    }
}
