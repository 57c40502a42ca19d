//! Account types: validated inputs (`Email`, `Username`, `Password`), the stored `User`, and
//! the wire shapes of the auth endpoints.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::ValidationErrors;

/// An email address: ASCII, lowercased, one `@`, a dotted domain. Build it with [`Email::parse`].
///
/// ASCII only, so Unicode look-alikes (`аlice@example.com` with a Cyrillic `а`) cannot pose as
/// another account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    /// Validates and normalises (lowercases) an email address, checked as sent.
    ///
    /// # Errors
    /// A field error on `email` naming the rule that failed.
    pub fn parse(raw: &str) -> Result<Self, ValidationErrors> {
        let invalid = |msg: &str| ValidationErrors::field("email", msg);
        let email = raw.to_ascii_lowercase();
        if email.is_empty() {
            return Err(invalid("must not be blank"));
        }
        if email.len() > Self::MAX_LEN {
            return Err(invalid("must be at most 254 characters"));
        }
        if !email.is_ascii() {
            return Err(invalid("must contain only ASCII characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("must contain an @"));
        };
        let local_ok = (1..=64).contains(&local.len())
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let labels: Vec<&str> = domain.split('.').collect();
        // A top-level domain is not all digits (that would be an IP address); internationalised
        // ones (`xn--p1ai`) are fine.
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && !tld.bytes().all(|b| b.is_ascii_digit()));
        if !local_ok || !domain_ok {
            return Err(invalid("is not a valid email address"));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An email as the database holds it (validated and lowercased when it was stored).
    pub(crate) fn stored(email: &str) -> Self {
        Self(email.to_owned())
    }
}

/// A username: 3 to 100 of ASCII letters, digits, `_`, `.` and `-`. Build it with [`Username::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Validates a username as sent; case is kept.
    ///
    /// # Errors
    /// A field error on `username` naming the rule that failed.
    pub fn parse(raw: &str) -> Result<Self, ValidationErrors> {
        let invalid = |msg: &str| ValidationErrors::field("username", msg);
        let name = raw;
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(invalid("may contain only letters, digits, _, . and -"));
        }
        match name.len() {
            n if n < 3 => Err(invalid("must be at least 3 characters")),
            n if n > 100 => Err(invalid("must be at most 100 characters")),
            _ => Ok(Self(name.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password of 8 to 128 characters, with no composition rules (NIST 800-63B). Never printed.
#[derive(Clone, Debug)]
pub struct Password(SecretString);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// Checks the length; the password is kept exactly as typed.
    ///
    /// # Errors
    /// A field error on `password` naming the rule that failed.
    pub fn parse(raw: &str) -> Result<Self, ValidationErrors> {
        match raw.chars().count() {
            n if n < Self::MIN_CHARS => Err(ValidationErrors::field(
                "password",
                "must be at least 8 characters",
            )),
            n if n > Self::MAX_CHARS => Err(ValidationErrors::field(
                "password",
                "must be at most 128 characters",
            )),
            _ => Ok(Self(SecretString::from(raw))),
        }
    }

    pub(crate) fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// A validated registration.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: Email,
    pub username: Username,
    pub password: Password,
    pub full_name: Option<String>,
}

/// A validated login: the email as typed (normalised) and the password.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub email: Email,
    pub password: Password,
}

/// An account as stored.
#[derive(Clone, Debug)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub hashed_password: String,
    pub full_name: Option<String>,
    pub is_active: bool,
    pub is_superuser: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// An IANA time zone name (`UTC` unless set): the day a task's progress counts from.
    pub time_zone: String,
}

impl User {
    /// The seed's "active user" rule, in one place: a deactivated account is refused everywhere.
    ///
    /// # Errors
    /// [`Error::Forbidden`](crate::Error::Forbidden) for a deactivated account.
    pub fn require_active(self) -> Result<Self, crate::Error> {
        refuse_deactivated(self.is_active)?;
        Ok(self)
    }
}

/// [`User::require_active`]'s rule on the flag alone, for callers that read only the flag.
///
/// # Errors
/// [`Error::Forbidden`](crate::Error::Forbidden) when `is_active` is false.
pub(crate) fn refuse_deactivated(is_active: bool) -> Result<(), crate::Error> {
    if is_active {
        Ok(())
    } else {
        Err(crate::Error::Forbidden("this account is deactivated"))
    }
}

/// `POST /auth/register`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterForm {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    #[schema(
        example = "ada",
        min_length = 3,
        max_length = 100,
        pattern = "^[A-Za-z0-9_.-]+$"
    )]
    pub username: String,
    #[schema(
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 128
    )]
    pub password: String,
    #[schema(
        example = "Ada Lovelace",
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub full_name: Option<String>,
}

impl RegisterForm {
    pub const MAX_FULL_NAME_CHARS: usize = 255;

    /// Validates every field, reporting all failures at once.
    ///
    /// # Errors
    /// The failures, one per field.
    pub fn parse(self) -> Result<NewUser, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let email = Email::parse(&self.email).map_err(|e| errors.merge(e)).ok();
        let username = Username::parse(&self.username)
            .map_err(|e| errors.merge(e))
            .ok();
        let password = Password::parse(&self.password)
            .map_err(|e| errors.merge(e))
            .ok();
        let full_name = match self.full_name.as_deref().map(parse_full_name) {
            Some(Ok(name)) => name,
            Some(Err(e)) => {
                errors.merge(e);
                None
            }
            None => None,
        };
        match (email, username, password) {
            (Some(email), Some(username), Some(password)) if errors.is_empty() => Ok(NewUser {
                email,
                username,
                password,
                full_name,
            }),
            _ => Err(errors),
        }
    }
}

/// A full name as sent: at most 255 characters, no control characters; trimmed, and `None` when
/// nothing is left.
///
/// # Errors
/// A field error on `full_name`.
pub fn parse_full_name(raw: &str) -> Result<Option<String>, ValidationErrors> {
    if raw.chars().count() > RegisterForm::MAX_FULL_NAME_CHARS {
        return Err(ValidationErrors::field(
            "full_name",
            "must be at most 255 characters",
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(ValidationErrors::field(
            "full_name",
            "must not contain control characters",
        ));
    }
    let name = raw.trim();
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

/// `POST /auth/login`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginForm {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
    #[schema(
        example = "correct horse battery staple",
        min_length = 1,
        max_length = 128
    )]
    pub password: String,
}

/// `POST /auth/token`'s form (OAuth2 password flow): `username` is the email.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// The account's email.
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub username: String,
    #[schema(
        example = "correct horse battery staple",
        min_length = 1,
        max_length = 128
    )]
    pub password: String,
}

impl LoginForm {
    /// Validates the login.
    ///
    /// # Errors
    /// The failures, one per field.
    pub fn parse(self) -> Result<Credentials, ValidationErrors> {
        credentials(&self.email, "email", &self.password)
    }
}

impl TokenForm {
    /// Validates the login; errors name `username`, the form's own field.
    ///
    /// # Errors
    /// The failures, one per field.
    pub fn parse(self) -> Result<Credentials, ValidationErrors> {
        credentials(&self.username, "username", &self.password)
    }
}

fn credentials(email: &str, field: &str, password: &str) -> Result<Credentials, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let email = Email::parse(email)
        .map_err(|_| {
            errors.merge(ValidationErrors::field(
                field,
                "must be a valid email address",
            ))
        })
        .ok();
    // Any length up to the maximum may be tried: only the lockout limits guessing.
    let password = match password.chars().count() {
        0 => {
            errors.merge(ValidationErrors::field("password", "must not be blank"));
            None
        }
        n if n > Password::MAX_CHARS => {
            errors.merge(ValidationErrors::field(
                "password",
                "must be at most 128 characters",
            ));
            None
        }
        _ => Some(Password(SecretString::from(password))),
    };
    match (email, password) {
        (Some(email), Some(password)) => Ok(Credentials { email, password }),
        _ => Err(errors),
    }
}

/// A password to confirm (the current one): any length up to the maximum, as at login.
fn password_to_confirm(raw: &str, field: &str) -> Result<Password, ValidationErrors> {
    match raw.chars().count() {
        0 => Err(ValidationErrors::field(field, "must not be blank")),
        n if n > Password::MAX_CHARS => Err(ValidationErrors::field(
            field,
            "must be at most 128 characters",
        )),
        _ => Ok(Password(SecretString::from(raw))),
    }
}

/// A new password, under the registration rules; errors name `field`.
fn new_password(raw: &str, field: &str) -> Result<Password, ValidationErrors> {
    Password::parse(raw).map_err(|e| {
        ValidationErrors::field(field, e.items().first().map_or("", |i| i.msg.as_str()))
    })
}

/// `POST /auth/password`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChangeForm {
    #[schema(
        min_length = 1,
        max_length = 128,
        example = "correct horse battery staple"
    )]
    pub current_password: String,
    #[schema(
        min_length = 8,
        max_length = 128,
        example = "a longer passphrase, newly chosen"
    )]
    pub new_password: String,
}

impl PasswordChangeForm {
    /// The current password (to confirm) and the new one.
    ///
    /// # Errors
    /// The failures, one per field.
    pub fn parse(self) -> Result<(Password, Password), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let current = password_to_confirm(&self.current_password, "current_password")
            .map_err(|e| errors.merge(e))
            .ok();
        let new = new_password(&self.new_password, "new_password")
            .map_err(|e| errors.merge(e))
            .ok();
        match (current, new) {
            (Some(current), Some(new)) => Ok((current, new)),
            _ => Err(errors),
        }
    }
}

/// `DELETE /auth/me`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteAccountForm {
    #[schema(
        min_length = 1,
        max_length = 128,
        example = "correct horse battery staple"
    )]
    pub password: String,
}

impl DeleteAccountForm {
    /// The password to confirm.
    ///
    /// # Errors
    /// A field error on `password`.
    pub fn parse(self) -> Result<Password, ValidationErrors> {
        password_to_confirm(&self.password, "password")
    }
}

/// `POST /auth/password-reset`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetRequestForm {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    pub email: String,
}

impl ResetRequestForm {
    /// The email, normalised.
    ///
    /// # Errors
    /// A field error on `email`.
    pub fn parse(self) -> Result<Email, ValidationErrors> {
        Email::parse(&self.email)
    }
}

/// `POST /auth/password-reset/confirm`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetConfirmForm {
    /// The token from the email's link (after `#token=`).
    #[schema(
        min_length = 1,
        max_length = 128,
        example = "q3Vd0kCwq2v7yF1i8XwJ4mTn5bq0cZ2yRkq8x7WmQ3A"
    )]
    pub token: String,
    #[schema(
        min_length = 8,
        max_length = 128,
        example = "a longer passphrase, newly chosen"
    )]
    pub new_password: String,
}

impl ResetConfirmForm {
    /// The token as sent (any string: a bad one fails like a spent one) and the new password.
    ///
    /// # Errors
    /// A field error on `new_password`, or on a blank or overlong `token`.
    pub fn parse(self) -> Result<(String, Password), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        if self.token.is_empty() || self.token.len() > 128 {
            errors.merge(ValidationErrors::field(
                "token",
                "must be 1 to 128 characters",
            ));
        }
        let new = new_password(&self.new_password, "new_password")
            .map_err(|e| errors.merge(e))
            .ok();
        match new {
            Some(new) if errors.is_empty() => Ok((self.token, new)),
            _ => Err(errors),
        }
    }
}

/// A validated `PATCH /auth/me`: each member present in the body.
#[derive(Clone, Debug, Default)]
pub struct ProfilePatch {
    /// `Some(None)` clears the name.
    pub full_name: Option<Option<String>>,
    pub username: Option<Username>,
    pub time_zone: Option<String>,
    pub email: Option<Email>,
    /// Required with `email`.
    pub current_password: Option<Password>,
}

/// The members `PATCH /auth/me` reads.
const PROFILE_MEMBERS: [&str; 5] = [
    "full_name",
    "username",
    "time_zone",
    "email",
    "current_password",
];

impl ProfilePatch {
    /// Reads a JSON merge patch of the caller's profile; every bad member is reported at once.
    ///
    /// # Errors
    /// [`ValidationErrors`] at `["body", member]`, or at `["body"]` for a body that is not an
    /// object.
    pub fn parse(body: &serde_json::Value) -> Result<Self, ValidationErrors> {
        use serde_json::Value;
        let mut errors = ValidationErrors::default();
        let members =
            ValidationErrors::merge_patch(body, &PROFILE_MEMBERS, "a profile", &mut errors)?;
        let mut text = |name: &str, nullable: bool| -> Option<Option<String>> {
            match members.get(name)? {
                Value::String(s) => Some(Some(s.clone())),
                Value::Null if nullable => Some(None),
                _ => {
                    let msg = if nullable {
                        "must be a string or null"
                    } else {
                        "must be a string"
                    };
                    errors.merge(ValidationErrors::at(&["body", name], msg, "string_type"));
                    None
                }
            }
        };
        let full_name = text("full_name", true);
        let username = text("username", false).flatten();
        let time_zone = text("time_zone", false).flatten();
        let email = text("email", false).flatten();
        let current_password = text("current_password", false).flatten();
        let mut patch = Self::default();
        let mut keep = |outcome: Result<(), ValidationErrors>| {
            if let Err(e) = outcome {
                errors.merge(e);
            }
        };
        if let Some(name) = full_name {
            keep(match name {
                None => {
                    patch.full_name = Some(None);
                    Ok(())
                }
                Some(name) => parse_full_name(&name).map(|n| patch.full_name = Some(n)),
            });
        }
        if let Some(name) = username {
            keep(Username::parse(&name).map(|u| patch.username = Some(u)));
        }
        if let Some(zone) = time_zone {
            keep(parse_time_zone(&zone).map(|z| patch.time_zone = Some(z)));
        }
        if let Some(email) = email {
            keep(Email::parse(&email).map(|e| patch.email = Some(e)));
        }
        if let Some(password) = current_password {
            keep(
                password_to_confirm(&password, "current_password")
                    .map(|p| patch.current_password = Some(p)),
            );
        }
        if members.contains_key("email") && !members.contains_key("current_password") {
            errors.merge(ValidationErrors::at(
                &["body", "current_password"],
                "is required to change the email",
                "missing",
            ));
        }
        if errors.is_empty() {
            Ok(patch)
        } else {
            Err(errors)
        }
    }
}

/// An IANA time zone name, as the tz database spells it (`Europe/London`, `UTC`).
///
/// # Errors
/// A field error on `time_zone`.
pub fn parse_time_zone(raw: &str) -> Result<String, ValidationErrors> {
    raw.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            ValidationErrors::field(
                "time_zone",
                "must be an IANA time zone name, such as Europe/London or America/New_York",
            )
        })
}

/// `PATCH /auth/me`'s body, for the API document: every member is optional.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the body; `ProfilePatch::parse` reads it
pub struct ProfilePatchJson {
    /// `null` clears it.
    #[schema(
        nullable = true,
        example = "Ada King",
        max_length = 255,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    full_name: Option<String>,
    #[schema(
        nullable = false,
        example = "ada_k",
        min_length = 3,
        max_length = 100,
        pattern = "^[A-Za-z0-9_.-]+$"
    )]
    username: Option<String>,
    /// An IANA name.
    #[schema(
        nullable = false,
        example = "Europe/London",
        min_length = 1,
        max_length = 64
    )]
    time_zone: Option<String>,
    /// Only with `current_password`.
    #[schema(nullable = false, example = "ada.king@example.com", format = Email, max_length = 254)]
    email: Option<String>,
    #[schema(nullable = false, min_length = 1, max_length = 128)]
    current_password: Option<String>,
}

/// One signed-in device.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The last refresh (or the sign-in): not every request, so reads stay one round trip.
    pub last_used_at: DateTime<Utc>,
    /// The browser and system, shortly (`Firefox on Linux`), when the client sent a `User-Agent`.
    #[schema(example = "Firefox on Linux")]
    pub user_agent: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// `GET /auth/sessions`'s body.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Live sessions, most recently used first.
    pub sessions: Vec<SessionView>,
}

/// `POST /auth/password-reset`'s body: the same whether or not an account has the email.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetRequested {
    #[schema(example = "if an account has this email, a link to reset its password is on its way")]
    pub message: &'static str,
}

/// A user as the API shows it: never the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub full_name: Option<String>,
    pub is_active: bool,
    pub is_superuser: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The IANA time zone a task's days are counted in.
    #[schema(example = "Europe/London")]
    pub time_zone: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            username: u.username,
            full_name: u.full_name,
            is_active: u.is_active,
            is_superuser: u.is_superuser,
            created_at: u.created_at,
            updated_at: u.updated_at,
            time_zone: u.time_zone,
        }
    }
}

/// The body of register, login and refresh: the user; the tokens travel in cookies.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    #[schema(example = "bearer")]
    pub token_type: &'static str,
}

/// `GET /auth/me`'s body.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    /// What the user stores, what they may store, and how many tasks they have.
    pub usage: crate::tasks::allowance::Usage,
}

/// `POST /auth/token`'s body (OAuth2 token response).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// `POST /auth/logout`'s body.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: &'static str,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_email_is_lowercased() {
        let email = Email::parse("Ada.Lovelace+Notes@Example.ORG").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace+notes@example.org");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada@exa mple.com",
            "a..b@example.com",
            ".ada@example.com",
            "ada@-example.com",
            "ada@127.0.0.1",
            "ada\0@example.com",
            " ada@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_unicode_look_alike_email_is_rejected() {
        // The first letter is Cyrillic.
        let err = Email::parse("\u{0430}da@example.com").expect_err("look-alike");
        assert_eq!(err.items()[0].msg, "must contain only ASCII characters");
    }

    #[test]
    fn usernames_allow_letters_digits_and_three_marks() {
        assert!(Username::parse("ada_l.ovelace-1").is_ok());
        for bad in [
            "ad",
            "ada lovelace",
            "ada/x",
            "ädä",
            &"a".repeat(101),
            "ada\0",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_are_counted_in_characters() {
        assert!(Password::parse("ééééééé").is_err(), "7 characters");
        assert!(
            Password::parse("éééééééé").is_ok(),
            "8 characters, 16 bytes"
        );
        assert!(Password::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn registration_reports_every_bad_field() {
        let form = RegisterForm {
            email: "nope".into(),
            username: "x".into(),
            password: "short".into(),
            full_name: Some("n".repeat(256)),
        };
        let errors = form.parse().expect_err("all bad");
        let fields: Vec<_> = errors.items().iter().map(|e| e.loc[1].as_str()).collect();
        assert_eq!(fields, ["email", "username", "password", "full_name"]);
    }

    proptest! {
        #[test]
        fn parsing_any_email_never_panics_and_accepts_only_ascii(raw in "\\PC{0,300}") {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert!(email.as_str().is_ascii());
                prop_assert!(email.as_str().len() <= Email::MAX_LEN);
                prop_assert_eq!(email.as_str(), email.as_str().to_ascii_lowercase());
            }
        }

        #[test]
        fn an_accepted_username_is_the_input(raw in "\\PC{0,120}") {
            if let Ok(name) = Username::parse(&raw) {
                prop_assert_eq!(name.as_str(), raw.as_str());
            }
        }
    }
}
