//! An owner's edit of a task: a JSON merge patch (RFC 7396), validated whole before anything
//! is applied.

use serde_json::Value;

use crate::{
    ValidationErrors,
    tasks::{
        db::Fields,
        model::{
            Task, TaskStatus, WordTarget, parse_description, parse_due_date_field, parse_title,
            parse_word_target,
        },
    },
};

/// A validated patch: each member present in the body, with the create rules applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskPatch {
    pub(crate) fields: Fields,
    pub status: Option<TaskStatus>,
}

/// The members a patch may hold.
const MEMBERS: [&str; 5] = ["title", "description", "due_date", "word_target", "status"];

impl TaskPatch {
    /// Reads a merge patch: an absent member is unchanged, `null` clears a nullable one (`title`
    /// and `status` are not), and every value follows the create rules. Every bad member is
    /// reported at once.
    ///
    /// # Errors
    /// [`ValidationErrors`] at `["body", member]`, or at `["body"]` for a body that is not an
    /// object.
    pub fn parse(body: &Value) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let members = ValidationErrors::merge_patch(body, &MEMBERS, "a task", &mut errors)?;
        let mut patch = Self::default();
        let mut field =
            |name: &str, parse: &mut dyn FnMut(&Value) -> Result<(), ValidationErrors>| {
                if let Some(value) = members.get(name)
                    && let Err(e) = parse(value)
                {
                    errors.merge(e);
                }
            };
        let text = |name: &str, value: &Value| -> Result<Option<String>, ValidationErrors> {
            match value {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(ValidationErrors::at(
                    &["body", name],
                    "must be a string or null",
                    "string_type",
                )),
            }
        };
        field("title", &mut |v| {
            let title = text("title", v)?.ok_or_else(|| {
                ValidationErrors::at(
                    &["body", "title"],
                    "must not be null: a task has a title",
                    "string_type",
                )
            })?;
            patch.fields.title = Some(parse_title(&title)?);
            Ok(())
        });
        field("description", &mut |v| {
            patch.fields.description = Some(match text("description", v)? {
                None => None,
                Some(d) => parse_description(&d)?,
            });
            Ok(())
        });
        field("due_date", &mut |v| {
            patch.fields.due_date = Some(match text("due_date", v)? {
                None => None,
                Some(d) => Some(parse_due_date_field(&d)?),
            });
            Ok(())
        });
        field("word_target", &mut |v| {
            patch.fields.word_target = Some(match v {
                Value::Null => None,
                Value::Number(n) => Some(parse_word_target(&WordTarget::Number(n.clone()))?),
                _ => {
                    return Err(ValidationErrors::at(
                        &["body", "word_target"],
                        "must be a whole number or null",
                        "int_type",
                    ));
                }
            });
            Ok(())
        });
        field("status", &mut |v| {
            let status = match v {
                Value::String(s) => TaskStatus::parse(s),
                _ => None,
            };
            patch.status = Some(status.ok_or_else(|| {
                ValidationErrors::at(
                    &["body", "status"],
                    "must be one of pending, completed, cancelled (null is not a status)",
                    "enum",
                )
            })?);
            Ok(())
        });
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(errors)
        }
    }

    /// The fields this patch would change on `task`: a value equal to the task's own is left out,
    /// so a repeated patch writes nothing.
    pub(crate) fn changes(&self, task: &Task) -> Fields {
        let f = &self.fields;
        Fields {
            title: f.title.clone().filter(|t| *t != task.title),
            description: f.description.clone().filter(|d| *d != task.description),
            due_date: f.due_date.filter(|d| *d != task.due_date),
            word_target: f.word_target.filter(|w| *w != task.word_target),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn locs(body: Value) -> Vec<String> {
        TaskPatch::parse(&body)
            .expect_err("refused")
            .items()
            .iter()
            .map(|e| e.loc.join("."))
            .collect()
    }

    #[test]
    fn absent_members_stay_null_clears_and_values_follow_the_create_rules() {
        let patch = TaskPatch::parse(
            &json!({"title": "  Book two ", "description": null, "word_target": 80000.0}),
        )
        .expect("valid");
        assert_eq!(patch.fields.title.as_deref(), Some("Book two"));
        assert_eq!(patch.fields.description, Some(None), "null clears");
        assert_eq!(patch.fields.due_date, None, "absent: unchanged");
        assert_eq!(patch.fields.word_target, Some(Some(80_000)));
        assert_eq!(TaskPatch::parse(&json!({})), Ok(TaskPatch::default()));
        let done = TaskPatch::parse(&json!({"status": "completed"})).expect("valid");
        assert_eq!(done.status, Some(TaskStatus::Completed));
    }

    #[test]
    fn every_bad_member_is_reported_at_once() {
        assert_eq!(
            locs(
                json!({"title": null, "status": null, "word_target": 0, "due_date": "soon", "colour": "red"})
            ),
            [
                "body.colour",
                "body.title",
                "body.due_date",
                "body.word_target",
                "body.status"
            ]
        );
        assert_eq!(locs(json!({"title": " "})), ["body.title"]);
        assert_eq!(locs(json!({"description": 5})), ["body.description"]);
        assert_eq!(locs(json!({"word_target": "many"})), ["body.word_target"]);
        assert_eq!(locs(json!({"word_target": 1.5})), ["body.word_target"]);
        assert_eq!(locs(json!({"status": "done"})), ["body.status"]);
        assert_eq!(locs(json!([1])), ["body"]);
    }
}
