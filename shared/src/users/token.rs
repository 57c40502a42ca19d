//! Access and refresh tokens: HS256 JWTs with a `kid`, verified with the algorithm pinned.
//!
//! The key comes from `JWT_SECRET` (locally) or a Secrets Manager secret (`JWT_SECRET_ARN`, in
//! AWS), and the previous key still verifies during a rotation (`JWT_SECRET_PREVIOUS`, or the
//! secret's `AWSPREVIOUS` version).

use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Error;

const ISSUER: &str = "writers";
const AUDIENCE: &str = "writers-api";

/// What a token may be used for: a refresh token is refused where an access token is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims of every token Writers issues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The session (one per login): revoking it refuses every token issued in it.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
    pub typ: TokenKind,
}

impl Claims {
    pub fn new(
        typ: TokenKind,
        user: Uuid,
        session: Uuid,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Self {
        let iat = now.timestamp();
        Self {
            sub: user,
            sid: session,
            iat,
            exp: iat.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            jti: Uuid::new_v4(),
            typ,
        }
    }

    /// What the database stores for a refresh token: the SHA-256 of its `jti`, never the token.
    pub fn jti_hash(&self) -> Vec<u8> {
        digest(&SHA256, self.jti.as_bytes()).as_ref().to_vec()
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

struct Key {
    /// Derived from the secret: names it without revealing it.
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        let kid = digest(&SHA256, bytes).as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            kid,
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
        }
    }
}

/// The signing key and the keys that still verify.
pub struct TokenKeys {
    current: Key,
    previous: Option<Key>,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.current.kid)
            .field("previous_kid", &self.previous.as_ref().map(|k| &k.kid))
            .finish()
    }
}

impl TokenKeys {
    /// Keys from the current secret and, during a rotation, the previous one.
    ///
    /// # Errors
    /// [`Error::Unexpected`] when a secret is shorter than 32 bytes.
    pub fn new(current: &SecretString, previous: Option<&SecretString>) -> Result<Self, Error> {
        for secret in std::iter::once(current).chain(previous) {
            if secret.expose_secret().len() < 32 {
                return Err(anyhow::anyhow!("the JWT secret must be at least 32 bytes").into());
            }
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the injectable clock in `verify`, to the second.
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        Ok(Self {
            current: Key::new(current),
            previous: previous.map(Key::new),
            validation,
        })
    }

    /// Signs `claims` with the current key.
    ///
    /// # Errors
    /// [`Error::Unexpected`] if signing fails.
    pub fn sign(&self, claims: &Claims) -> Result<String, Error> {
        let header = Header {
            kid: Some(self.current.kid.clone()),
            ..Header::new(Algorithm::HS256)
        };
        jsonwebtoken::encode(&header, claims, &self.current.encoding)
            .map_err(|e| anyhow::anyhow!("signing a token failed: {e}").into())
    }

    /// Whether `token` names a key id that is neither the current key's nor the previous one's:
    /// the secret may have been rotated since these keys were read.
    pub fn signed_with_unknown_key(&self, token: &str) -> bool {
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return false;
        };
        header.kid.is_some_and(|kid| {
            kid != self.current.kid && self.previous.as_ref().is_none_or(|p| p.kid != kid)
        })
    }

    /// Verifies a token of `kind` at `now`: signature, algorithm, key id, issuer, audience, expiry.
    ///
    /// # Errors
    /// [`Error::Unauthenticated`] for anything but a valid, unexpired token of that kind.
    pub fn verify(
        &self,
        token: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<Claims, Error> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::Unauthenticated)?;
        // Pinned: `alg: none` and every other algorithm are refused before any key is tried.
        if header.alg != Algorithm::HS256 {
            return Err(Error::Unauthenticated);
        }
        let key = match header.kid.as_deref() {
            Some(kid) if kid == self.current.kid => &self.current,
            Some(kid) if self.previous.as_ref().is_some_and(|p| p.kid == kid) => {
                self.previous.as_ref().ok_or(Error::Unauthenticated)?
            }
            _ => return Err(Error::Unauthenticated),
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation)
            .map_err(|_| Error::Unauthenticated)?
            .claims;
        if claims.typ != kind || now.timestamp() >= claims.exp {
            return Err(Error::Unauthenticated);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(&SecretString::from(secret), None).expect("keys")
    }

    const SECRET: &str = "a-test-secret-of-at-least-thirty-two-bytes";

    fn access(now: DateTime<Utc>) -> Claims {
        Claims::new(
            TokenKind::Access,
            Uuid::new_v4(),
            Uuid::new_v4(),
            now,
            Duration::from_secs(1800),
        )
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let keys = keys(SECRET);
        let now = Utc::now();
        let claims = access(now);
        let token = keys.sign(&claims).expect("sign");
        assert_eq!(
            keys.verify(&token, TokenKind::Access, now).expect("valid"),
            claims
        );
        let expiry = now + chrono::TimeDelta::seconds(1800);
        assert!(keys.verify(&token, TokenKind::Access, expiry).is_err());
    }

    #[test]
    fn a_token_of_the_other_kind_is_refused() {
        let keys = keys(SECRET);
        let now = Utc::now();
        let token = keys.sign(&access(now)).expect("sign");
        assert!(keys.verify(&token, TokenKind::Refresh, now).is_err());
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let now = Utc::now();
        let token = keys("another-secret-of-at-least-thirty-two-bytes")
            .sign(&access(now))
            .expect("sign");
        assert!(keys(SECRET).verify(&token, TokenKind::Access, now).is_err());
    }

    #[test]
    fn the_previous_secret_still_verifies_during_a_rotation() {
        let now = Utc::now();
        let old = keys(SECRET);
        let token = old.sign(&access(now)).expect("sign");
        let rotated = TokenKeys::new(
            &SecretString::from("the-new-secret-of-at-least-thirty-two-bytes"),
            Some(&SecretString::from(SECRET)),
        )
        .expect("keys");
        assert!(rotated.verify(&token, TokenKind::Access, now).is_ok());
        let fresh = rotated.sign(&access(now)).expect("sign");
        assert!(
            old.verify(&fresh, TokenKind::Access, now).is_err(),
            "new kid unknown to the old keys"
        );
    }

    #[test]
    fn only_a_key_id_these_keys_lack_is_unknown() {
        let now = Utc::now();
        let ours = keys(SECRET);
        let theirs = keys("the-new-secret-of-at-least-thirty-two-bytes");
        assert!(!ours.signed_with_unknown_key(&ours.sign(&access(now)).expect("sign")));
        assert!(ours.signed_with_unknown_key(&theirs.sign(&access(now)).expect("sign")));
        assert!(!ours.signed_with_unknown_key("not a token"));
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert!(TokenKeys::new(&SecretString::from("short"), None).is_err());
    }

    proptest! {
        #[test]
        fn verifying_arbitrary_bytes_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..400)) {
            let token = String::from_utf8_lossy(&raw);
            prop_assert!(keys(SECRET).verify(&token, TokenKind::Access, Utc::now()).is_err());
        }

        #[test]
        fn verifying_three_dotted_base64_parts_never_panics(a in "[A-Za-z0-9_-]{0,60}", b in "[A-Za-z0-9_-]{0,120}", c in "[A-Za-z0-9_-]{0,60}") {
            let token = format!("{a}.{b}.{c}");
            prop_assert!(keys(SECRET).verify(&token, TokenKind::Access, Utc::now()).is_err());
        }
    }
}
