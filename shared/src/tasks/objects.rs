//! A task's file (as received, or as declared for a direct upload) and where its objects live.
//!
//! This is the one place that builds and parses the S3 keys of a task's objects, each draft's
//! under its own number: `<prefix>/uploads/<user>/<task>/<draft>/<name>` (received by the API),
//! `<prefix>/incoming/<user>/<task>/<draft>/<name>` (uploaded straight to S3) and
//! `<prefix>/results/<task>/<draft>.json` (the processor's result). Keys of the layout before
//! drafts (`…/<task>/<name>`, `results/<task>.json`) are draft 1's and keep working: rows store
//! whole keys, and [`draft_of_upload`] reads both.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{config::StorageRoot, files::storage::StoredObject};

/// A received file: its bytes and what the client said about it.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The client's file name, as sent (only ever stored as metadata and sanitised into keys).
    pub file_name: Option<String>,
    pub content_type: String,
    pub bytes: axum::body::Bytes,
}

/// What a new task's file row records: where it is, and what the client said about it.
#[derive(Clone, Debug)]
pub struct NewFile {
    pub object: StoredObject,
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
    /// For a direct upload: when its presigned URL expires.
    pub upload_expires_at: Option<DateTime<Utc>>,
}

/// The file a client declares before uploading it straight to S3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredFile {
    pub name: String,
    pub size: u64,
    pub content_type: String,
}

/// The key of a direct upload: `<prefix>/incoming/<user_id>/<task_id>/<draft>/<safe name>`, a
/// prefix of its own so that only these objects trigger processing through S3's notification.
pub fn incoming_key(
    root: &StorageRoot,
    user: Uuid,
    task: Uuid,
    draft: i32,
    file_name: &str,
) -> String {
    root.key(&format!(
        "incoming/{user}/{task}/{draft}/{}",
        safe_name(Some(file_name))
    ))
}

/// The longest file name kept in a key, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// The key of a draft's upload: `<prefix>/uploads/<user_id>/<task_id>/<draft>/<safe name>`.
///
/// The server builds it; the client's file name only contributes a sanitised last segment.
pub fn upload_key(
    root: &StorageRoot,
    user: Uuid,
    task: Uuid,
    draft: i32,
    file_name: Option<&str>,
) -> String {
    root.key(&format!(
        "uploads/{user}/{task}/{draft}/{}",
        safe_name(file_name)
    ))
}

/// The prefix of direct uploads: the only objects whose S3 notifications start processing.
pub fn incoming_prefix(root: &StorageRoot) -> String {
    root.key("incoming/")
}

/// Where a draft's full result is stored: `<prefix>/results/<task_id>/<draft>.json`.
pub fn result_key(root: &StorageRoot, task: Uuid, draft: i32) -> String {
    root.key(&format!("results/{task}/{draft}.json"))
}

/// The task and draft an upload key names: `<prefix>/{uploads,incoming}/<user_id>/<task_id>/<draft>/<name>`,
/// or draft 1 for a key of the layout before drafts (`…/<task_id>/<name>`).
pub fn draft_of_upload(root: &StorageRoot, key: &str) -> Option<(Uuid, i32)> {
    let rest = key
        .strip_prefix(&root.key("uploads/"))
        .or_else(|| key.strip_prefix(&incoming_prefix(root)))?;
    let segments: Vec<&str> = rest.split('/').collect();
    let (task, draft) = match segments.as_slice() {
        [_user, task, _name] => (task, 1),
        [_user, task, draft, _name] => (task, draft.parse().ok().filter(|n| *n >= 1)?),
        _ => return None,
    };
    Some((task.parse().ok()?, draft))
}

/// The key prefixes that hold every object of a task: its uploads, its direct uploads and its
/// results (of either layout). Purging a task deletes everything under them.
pub fn task_prefixes(root: &StorageRoot, user: Uuid, task: Uuid) -> [String; 3] {
    [
        root.key(&format!("uploads/{user}/{task}/")),
        root.key(&format!("incoming/{user}/{task}/")),
        // No slash: also `results/<task>.json`, the layout before drafts.
        root.key(&format!("results/{task}")),
    ]
}

/// The key prefixes that hold every object of a user whose tasks are `tasks`.
///
/// All their uploads and direct uploads (by the user's prefix), and each task's results:
/// deleting an account deletes everything under them.
pub fn user_prefixes(root: &StorageRoot, user: Uuid, tasks: &[Uuid]) -> Vec<String> {
    let mut prefixes = vec![
        root.key(&format!("uploads/{user}/")),
        root.key(&format!("incoming/{user}/")),
    ];
    prefixes.extend(
        tasks
            .iter()
            .map(|task| root.key(&format!("results/{task}"))),
    );
    prefixes
}

/// A file name that is safe as one key segment: the last path component of the client's
/// name, letters, digits and `. _ - ( )` only, no leading dot, at most 100 characters,
/// never empty.
pub fn safe_name(raw: Option<&str>) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let mut cleaned = String::new();
    for c in base.chars() {
        let kept = if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '(' | ')') {
            c
        } else {
            '_'
        };
        // Runs of replacements collapse, so "a   b" is "a_b", not "a___b".
        if !(kept == '_' && cleaned.ends_with('_') && c != '_') {
            cleaned.push(kept);
        }
    }
    let trimmed = cleaned
        .trim_start_matches(['.', '_'])
        .trim_end_matches(['.', '_']);
    let name = shorten(trimmed, MAX_NAME_CHARS);
    if name.is_empty() {
        "upload".to_owned()
    } else {
        name
    }
}

/// Cuts `name` to `max` characters, keeping a short extension when there is one.
fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| !ext.is_empty() && ext.chars().count() <= 10);
    match extension {
        Some(ext) => {
            let stem: String = name.chars().take(max - ext.chars().count() - 1).collect();
            format!("{}.{ext}", stem.trim_end_matches('.'))
        }
        None => name.chars().take(max).collect(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn root() -> StorageRoot {
        "s3://writers-local/writers".parse().expect("valid")
    }

    #[test]
    fn hostile_file_names_stay_inside_the_tasks_prefix() {
        let (user, task) = (Uuid::new_v4(), Uuid::new_v4());
        let prefix = format!("writers/uploads/{user}/{task}/3/");
        for name in [
            "../../etc/passwd",
            "a/b",
            "..\\x",
            "nul\0byte.txt",
            &"x".repeat(1000),
            "..",
            ".",
            "",
            "/",
        ] {
            let key = upload_key(&root(), user, task, 3, Some(name));
            assert!(key.starts_with(&prefix), "{name:?} -> {key}");
            let last = &key[prefix.len()..];
            assert!(
                !last.is_empty() && !last.contains('/') && !last.starts_with('.'),
                "{name:?} -> {last}"
            );
        }
        assert_eq!(safe_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(
            safe_name(Some("Chapter One (final).docx")),
            "Chapter_One_(final).docx"
        );
        assert_eq!(safe_name(None), "upload");
    }

    #[test]
    fn the_task_and_draft_of_an_upload_key_read_back() {
        let (user, task) = (Uuid::new_v4(), Uuid::new_v4());
        let root = root();
        let uploaded = upload_key(&root, user, task, 2, Some("a b.txt"));
        let incoming = incoming_key(&root, user, task, 7, "novel.docx");
        assert_eq!(draft_of_upload(&root, &uploaded), Some((task, 2)));
        assert_eq!(draft_of_upload(&root, &incoming), Some((task, 7)));
        assert!(incoming.starts_with(&incoming_prefix(&root)));
        assert_eq!(draft_of_upload(&root, &result_key(&root, task, 1)), None);
        assert_eq!(draft_of_upload(&root, &format!("{uploaded}/deeper")), None);
        // The layout before drafts: draft 1.
        let before = format!("writers/incoming/{user}/{task}/novel.docx");
        assert_eq!(draft_of_upload(&root, &before), Some((task, 1)));
        let not_a_number = format!("writers/uploads/{user}/{task}/x/novel.docx");
        assert_eq!(draft_of_upload(&root, &not_a_number), None);
    }

    #[test]
    fn a_tasks_prefixes_hold_every_object_of_it_and_no_other_tasks() {
        let (user, task) = (Uuid::new_v4(), Uuid::new_v4());
        let root = root();
        let prefixes = task_prefixes(&root, user, task);
        let under = |key: &str| prefixes.iter().any(|p| key.starts_with(p.as_str()));
        assert!(under(&upload_key(&root, user, task, 1, Some("a.txt"))));
        assert!(under(&incoming_key(&root, user, task, 4, "a.txt")));
        assert!(under(&result_key(&root, task, 9)));
        assert!(under(&format!("writers/results/{task}.json")));
        assert!(under(&format!("writers/uploads/{user}/{task}/a.txt")));
        let other = Uuid::new_v4();
        assert!(!under(&upload_key(&root, user, other, 1, Some("a.txt"))));
        assert!(!under(&result_key(&root, other, 1)));
    }

    #[test]
    fn a_long_name_keeps_its_extension() {
        let name = safe_name(Some(&format!("{}.docx", "a".repeat(300))));
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with(".docx"));
    }

    proptest! {
        #[test]
        fn any_file_name_yields_one_safe_bounded_segment(raw in "\\PC{0,300}|[\\x00-\\x7f]{0,300}") {
            let name = safe_name(Some(&raw));
            prop_assert!(!name.is_empty());
            prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
            prop_assert!(!name.contains(['/', '\\']));
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert!(!name.starts_with('.'));
            prop_assert!(name != "..");
        }

        #[test]
        fn any_file_name_keys_inside_the_tasks_prefix(raw in "\\PC{0,300}|[\\x00-\\x7f]{0,300}") {
            let (user, task) = (Uuid::new_v4(), Uuid::new_v4());
            let key = upload_key(&root(), user, task, 1, Some(&raw));
            let prefix = format!("writers/uploads/{user}/{task}/1/");
            prop_assert!(key.starts_with(&prefix));
            prop_assert!(!key[prefix.len()..].split('/').any(|s| s == ".." || s == "." || s.is_empty()));
        }
    }
}
