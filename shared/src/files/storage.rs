//! S3 under the `STORAGE_ROOT` prefix: one method per call, no business rules.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::{
    Client, config::RequestChecksumCalculation, presigning::PresigningConfig,
    primitives::ByteStream,
};

pub use aws_sdk_s3::presigning::PresignedRequest;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    Config, Error,
    aws::{OnDemand, Sdk},
    config::StorageRoot,
};

/// Where an upload is stored: `s3://bucket/key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredObject {
    pub bucket: String,
    pub key: String,
}

impl StoredObject {
    /// The seed's `file_path`, as an `s3://` URL.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Reads an `s3://bucket/key` URL back.
    pub fn parse(url: &str) -> Option<Self> {
        let (bucket, key) = url.strip_prefix("s3://")?.split_once('/')?;
        (!bucket.is_empty() && !key.is_empty()).then(|| Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// The uploads bucket and key prefix, with the S3 clients that reach them, built on the first
/// call.
#[derive(Clone, Debug)]
pub struct Storage {
    clients: OnDemand<Clients>,
    /// Path-style URLs, for an endpoint override (LocalStack).
    path_style: bool,
    root: StorageRoot,
}

#[derive(Debug)]
struct Clients {
    client: Client,
    /// Signs URLs for clients: no checksum is added that a browser or curl could not match.
    presigner: Client,
}

impl Clients {
    fn new(client: Client) -> Self {
        let presigner = client
            .config()
            .to_builder()
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .build();
        Self {
            client,
            presigner: Client::from_conf(presigner),
        }
    }
}

impl Storage {
    /// The bucket and prefix of `config`; the clients are built on the first call, with
    /// path-style URLs when an endpoint override (LocalStack) is set.
    pub fn new(aws: &Sdk, config: &Config) -> Self {
        Self {
            clients: OnDemand::new(aws),
            path_style: config.aws_endpoint_overridden,
            root: config.storage_root.clone(),
        }
    }

    /// Wraps a client configured elsewhere (tools, and tests that point it at a dead endpoint).
    pub fn from_client(client: Client, root: StorageRoot) -> Self {
        Self {
            clients: OnDemand::ready(Clients::new(client)),
            path_style: false,
            root,
        }
    }

    async fn clients(&self) -> &Clients {
        let path_style = self.path_style;
        self.clients
            .get(|aws| {
                let s3 = aws_sdk_s3::config::Builder::from(aws)
                    .force_path_style(path_style)
                    .build();
                Clients::new(Client::from_conf(s3))
            })
            .await
    }

    /// A URL that lets its holder PUT exactly `size` bytes of `content_type` at `key`, once: the
    /// signature covers the length and type, and `If-None-Match: *` refuses an overwrite.
    ///
    /// # Errors
    /// [`Error::Storage`] when the request cannot be signed (no credentials).
    pub async fn presign_upload(
        &self,
        key: &str,
        size: u64,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<PresignedRequest, Error> {
        self.clients()
            .await
            .presigner
            .put_object()
            .bucket(&self.root.bucket)
            .key(key)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .content_type(content_type)
            .if_none_match("*")
            .presigned(presigning(expires_in)?)
            .await
            .map_err(Error::storage)
    }

    /// A URL that downloads the object at `key` as an attachment named `file_name`: browsers save
    /// it, never render it.
    ///
    /// # Errors
    /// [`Error::Storage`] when the request cannot be signed.
    pub async fn presign_download(
        &self,
        key: &str,
        file_name: &str,
        expires_in: Duration,
    ) -> Result<PresignedRequest, Error> {
        self.clients()
            .await
            .presigner
            .get_object()
            .bucket(&self.root.bucket)
            .key(key)
            .response_content_disposition(attachment(file_name))
            .response_content_type("application/octet-stream")
            .presigned(presigning(expires_in)?)
            .await
            .map_err(Error::storage)
    }

    /// One page (S3's 1,000 keys at most) of the keys under `prefix` (a full key prefix), in key
    /// order after `after`: those last modified before `before`, and the page's last key when
    /// more may follow (`None` at the end).
    ///
    /// # Errors
    /// [`Error::Storage`] when S3 cannot be reached.
    pub async fn list_page_older_than(
        &self,
        prefix: &str,
        before: SystemTime,
        after: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), Error> {
        let (objects, next) = self.list_objects(prefix, after).await?;
        let old = objects
            .into_iter()
            .filter(|o| {
                o.last_modified
                    .and_then(|t| SystemTime::try_from(t).ok())
                    .is_some_and(|t| t < before)
            })
            .filter_map(|o| o.key)
            .collect();
        Ok((old, next))
    }

    /// One page (S3's 1,000 keys at most) of every key under `prefix`, in key order after
    /// `after`, and the page's last key when more may follow (`None` at the end).
    ///
    /// # Errors
    /// [`Error::Storage`] when S3 cannot be reached.
    pub async fn list_page(
        &self,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), Error> {
        let (objects, next) = self.list_objects(prefix, after).await?;
        Ok((objects.into_iter().filter_map(|o| o.key).collect(), next))
    }

    /// One page of the objects under `prefix` after `after`, and the page's last key when more
    /// may follow.
    async fn list_objects(
        &self,
        prefix: &str,
        after: Option<&str>,
    ) -> Result<(Vec<aws_sdk_s3::types::Object>, Option<String>), Error> {
        let page = self
            .clients()
            .await
            .client
            .list_objects_v2()
            .bucket(&self.root.bucket)
            .prefix(prefix)
            .set_start_after(after.map(str::to_owned))
            .send()
            .await
            .map_err(Error::storage)?;
        let objects = page.contents.unwrap_or_default();
        let more = page.is_truncated.unwrap_or(false);
        let last = objects.last().and_then(|o| o.key.clone()).filter(|_| more);
        Ok((objects, last))
    }

    /// The bucket and prefix every key is built under.
    pub fn root(&self) -> &StorageRoot {
        &self.root
    }

    /// The S3 client itself, for callers that need a call this type does not wrap (tests, tools).
    pub async fn client(&self) -> &Client {
        &self.clients().await.client
    }

    /// Checks that the bucket exists and the credentials reach it.
    ///
    /// # Errors
    /// [`Error::Storage`] when S3 is unreachable or the bucket is missing.
    pub async fn check(&self) -> Result<(), Error> {
        self.clients()
            .await
            .client
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
        self.clients()
            .await
            .client
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
            .clients()
            .await
            .client
            .get_object()
            .bucket(&self.root.bucket)
            .key(key)
            .send()
            .await
            .map_err(not_found_or_storage)?;
        Ok(Object {
            etag: object.e_tag,
            size: object.content_length.and_then(|n| u64::try_from(n).ok()),
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
            .clients()
            .await
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
            .clients()
            .await
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
        self.clients()
            .await
            .client
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
    /// The object's length in bytes, as S3 reports it.
    pub size: Option<u64>,
    pub body: ByteStream,
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig, Error> {
    PresigningConfig::expires_in(expires_in).map_err(Error::storage)
}

/// `attachment` with the name twice: plain ASCII for old clients, RFC 5987 UTF-8 for the rest.
pub fn attachment(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | ';' | '%') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// What [`Error::NotFound`] names for a missing key.
pub const OBJECT: &str = "object";

/// A missing key is [`Error::NotFound`]: no retry can bring it back.
fn not_found_or_storage(
    e: aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_object::GetObjectError>,
) -> Error {
    match e.as_service_error() {
        Some(service) if service.is_no_such_key() => Error::NotFound(OBJECT),
        _ => Error::storage(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_url_reads_back() {
        let object = StoredObject {
            bucket: "b".into(),
            key: "p/incoming/x y".into(),
        };
        assert_eq!(StoredObject::parse(&object.url()), Some(object));
        assert_eq!(StoredObject::parse("https://b/k"), None);
        assert_eq!(StoredObject::parse("s3://b"), None);
    }
}
