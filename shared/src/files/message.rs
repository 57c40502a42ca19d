//! What arrives on the jobs queue, parsed: our own versioned [`FileJob`], S3 `ObjectCreated`
//! records (uploads that bypass the API), S3's `s3:TestEvent`, or something malformed.
//!
//! Parsing never fails: the processor logs and consumes what it cannot use, so one bad message
//! never breaks a batch.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::files::storage::StoredObject;

/// The SQS message: small, versioned, naming the task, its draft and the draft's object.
///
/// Version 2 names the draft; a version 1 message (queued before drafts) is draft 1's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileJob {
    pub version: u32,
    pub task_id: Uuid,
    #[serde(default = "first_draft")]
    pub draft: i32,
    pub bucket: String,
    pub key: String,
}

fn first_draft() -> i32 {
    1
}

impl FileJob {
    /// The job of `draft` of `task_id`, at the current version.
    pub fn new(task_id: Uuid, draft: i32, object: &StoredObject) -> Self {
        Self {
            version: 2,
            task_id,
            draft,
            bucket: object.bucket.clone(),
            key: object.key.clone(),
        }
    }
}

/// One message body, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobMessage {
    /// A job the API queued for a task.
    Job(FileJob),
    /// Objects S3 reports as created, keys decoded.
    Created(Vec<CreatedObject>),
    /// S3's probe after a notification is configured: nothing to do.
    TestEvent,
    /// Not something this processor understands; the reason names what was wrong.
    Malformed(String),
}

/// An object from an S3 `ObjectCreated` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    /// Decoded: S3 sends keys form-encoded (`+` for a space, `%XX` for the rest).
    pub key: String,
    pub size: Option<u64>,
}

#[derive(Deserialize)]
struct S3Notification {
    #[serde(rename = "Records")]
    records: Option<Vec<S3Record>>,
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
struct S3Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Deserialize)]
struct S3Bucket {
    name: String,
}

#[derive(Deserialize)]
struct S3Object {
    key: String,
    size: Option<u64>,
}

impl JobMessage {
    /// Classifies a message body.
    pub fn parse(body: &str) -> Self {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
            return Self::Malformed("the body is not JSON".to_owned());
        };
        if value.get("version").is_some() {
            return match serde_json::from_value::<FileJob>(value) {
                Ok(job) if job.version == 1 && job.draft == 1 => Self::Job(job),
                Ok(job) if job.version == 2 && job.draft >= 1 => Self::Job(job),
                Ok(job) => Self::Malformed(format!("job version {} is not supported", job.version)),
                Err(_) => Self::Malformed("a job without task_id, bucket or key".to_owned()),
            };
        }
        let Ok(notification) = serde_json::from_value::<S3Notification>(value) else {
            return Self::Malformed("neither a job nor an S3 notification".to_owned());
        };
        match (notification.records, notification.event.as_deref()) {
            (None, Some("s3:TestEvent")) => Self::TestEvent,
            (Some(records), _) => {
                let created: Vec<CreatedObject> = records
                    .into_iter()
                    .filter(|r| r.event_name.starts_with("ObjectCreated:"))
                    .map(|r| CreatedObject {
                        bucket: r.s3.bucket.name,
                        key: decode_key(&r.s3.object.key),
                        size: r.s3.object.size,
                    })
                    .collect();
                if created.is_empty() {
                    Self::Malformed("an S3 notification with no ObjectCreated record".to_owned())
                } else {
                    Self::Created(created)
                }
            }
            (None, _) => Self::Malformed("an S3 notification with no records".to_owned()),
        }
    }
}

/// Decodes an S3 event key as a form value: `+` is a space, then `%XX` escapes (as UTF-8).
pub fn decode_key(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn our_job_is_recognised_in_either_version() {
        let id = Uuid::new_v4();
        let body = format!(r#"{{"version":2,"task_id":"{id}","draft":3,"bucket":"b","key":"k"}}"#);
        assert_eq!(
            JobMessage::parse(&body),
            JobMessage::Job(FileJob {
                version: 2,
                task_id: id,
                draft: 3,
                bucket: "b".into(),
                key: "k".into()
            })
        );
        // Queued before drafts: draft 1's.
        let v1 = format!(r#"{{"version":1,"task_id":"{id}","bucket":"b","key":"k"}}"#);
        assert!(matches!(
            JobMessage::parse(&v1),
            JobMessage::Job(FileJob { draft: 1, .. })
        ));
        for bad in [
            format!(r#"{{"version":3,"task_id":"{id}","draft":1,"bucket":"b","key":"k"}}"#),
            format!(r#"{{"version":2,"task_id":"{id}","draft":0,"bucket":"b","key":"k"}}"#),
            format!(r#"{{"version":1,"task_id":"{id}","draft":2,"bucket":"b","key":"k"}}"#),
        ] {
            assert!(
                matches!(JobMessage::parse(&bad), JobMessage::Malformed(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_s3_record_key_is_decoded_as_a_form_value() {
        // As LocalStack sends `uploads/my file+ü (1).txt`.
        let body = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"writers"},
            "object":{"key":"uploads/my%20file%2B%C3%BC%20%281%29.txt","size":12}}}]}"#;
        assert_eq!(
            JobMessage::parse(body),
            JobMessage::Created(vec![CreatedObject {
                bucket: "writers".into(),
                key: "uploads/my file+ü (1).txt".into(),
                size: Some(12),
            }])
        );
        assert_eq!(decode_key("a+b"), "a b", "AWS may send a space as +");
    }

    #[test]
    fn the_test_event_and_malformed_bodies_are_told_apart() {
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"writers"}"#;
        assert_eq!(JobMessage::parse(test_event), JobMessage::TestEvent);
        for bad in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"version":1}"#,
            r#"{"Records":[]}"#,
        ] {
            assert!(
                matches!(JobMessage::parse(bad), JobMessage::Malformed(_)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn broken_escapes_are_kept_literally() {
        assert_eq!(decode_key("100%"), "100%");
        assert_eq!(decode_key("%zz%4"), "%zz%4");
    }

    proptest! {
        #[test]
        fn parsing_any_body_never_panics(body in "\\PC{0,300}") {
            let _ = JobMessage::parse(&body);
        }

        #[test]
        fn decoding_inverts_form_encoding(key in "\\PC{0,100}") {
            let encoded: String = key.bytes().map(|b| match b {
                b' ' => "+".to_owned(),
                b if b.is_ascii_alphanumeric() || b"/-_.".contains(&b) => (b as char).to_string(),
                b => format!("%{b:02X}"),
            }).collect();
            prop_assert_eq!(decode_key(&encoded), key);
        }
    }

    #[test]
    fn the_message_is_small_versioned_json() {
        let job = FileJob::new(
            Uuid::nil(),
            2,
            &StoredObject {
                bucket: "b".into(),
                key: "k".into(),
            },
        );
        assert_eq!(
            serde_json::to_value(&job).expect("serialises"),
            serde_json::json!({"version": 2, "task_id": "00000000-0000-0000-0000-000000000000", "draft": 2, "bucket": "b", "key": "k"})
        );
    }
}
