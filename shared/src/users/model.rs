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
        if self.is_active {
            Ok(self)
        } else {
            Err(crate::Error::Forbidden("this account is deactivated"))
        }
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
        if let Some(name) = &self.full_name {
            if name.chars().count() > Self::MAX_FULL_NAME_CHARS {
                errors.merge(ValidationErrors::field(
                    "full_name",
                    "must be at most 255 characters",
                ));
            } else if name.chars().any(char::is_control) {
                errors.merge(ValidationErrors::field(
                    "full_name",
                    "must not contain control characters",
                ));
            }
        }
        let full_name = self
            .full_name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
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
