//! Uploaded files and their processing jobs: S3 under the `STORAGE_ROOT` prefix, and SQS.

pub mod analysis;
pub mod docx;
pub mod manuscript;
pub mod message;
pub mod queue;
pub mod storage;
