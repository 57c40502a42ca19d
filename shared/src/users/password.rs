//! Password hashing: argon2id with OWASP's parameters, PHC strings, run off the async executor.

use std::sync::LazyLock;

use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier,
    Version,
};
use secrecy::ExposeSecret;

use crate::{Error, users::model::Password};

/// OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params =
        Params::new(M_COST_KIB, T_COST, P_COST, None).expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

// Verified when no account has the submitted email, so that case costs what a wrong password costs.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hasher()
        .hash_password(b"a password no account has")
        .expect("hashing a constant succeeds")
        .to_string()
});

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
///
/// # Errors
/// [`Error::Unexpected`] if hashing fails (it does not, short of memory exhaustion).
pub async fn hash(password: Password) -> Result<String, Error> {
    blocking(move || {
        hasher()
            .hash_password(password.secret().expose_secret().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
    })
    .await
}

/// The outcome of a verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub matched: bool,
    /// The hash matched but was made with other parameters: hash the password again.
    pub needs_rehash: bool,
}

/// Verifies `password` against `stored`, or against a dummy hash when there is no account.
///
/// # Errors
/// [`Error::Unexpected`] only if the blocking task could not run.
pub async fn verify(password: Password, stored: Option<String>) -> Result<Verdict, Error> {
    blocking(move || {
        let exists = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            tracing::error!("a stored password hash is not a PHC string");
            return Ok(Verdict {
                matched: false,
                needs_rehash: false,
            });
        };
        let matched = hasher()
            .verify_password(password.secret().expose_secret().as_bytes(), &parsed)
            .is_ok()
            && exists;
        Ok(Verdict {
            matched,
            needs_rehash: matched && !is_current(&parsed),
        })
    })
    .await
}

fn is_current(hash: &PasswordHash) -> bool {
    hash.algorithm == ARGON2ID_IDENT
        && hash.version == Some(Version::V0x13.into())
        && Params::try_from(hash)
            .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == (M_COST_KIB, T_COST, P_COST))
}

/// Runs CPU-heavy work on the blocking pool, keeping the async executor free for other requests.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))?
        .map_err(Error::Unexpected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(s: &str) -> Password {
        Password::parse(s).expect("valid")
    }

    #[tokio::test]
    async fn a_hash_is_a_phc_string_with_owasp_parameters() {
        let phc = hash(password("correct horse")).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[tokio::test]
    async fn the_right_password_matches_and_a_wrong_one_does_not() {
        let phc = hash(password("correct horse")).await.expect("hash");
        let right = verify(password("correct horse"), Some(phc.clone()))
            .await
            .expect("verify");
        assert_eq!(
            right,
            Verdict {
                matched: true,
                needs_rehash: false
            }
        );
        let wrong = verify(password("battery staple"), Some(phc))
            .await
            .expect("verify");
        assert!(!wrong.matched);
    }

    #[tokio::test]
    async fn no_account_never_matches_even_the_dummy_password() {
        let verdict = verify(password("a password no account has"), None)
            .await
            .expect("verify");
        assert!(!verdict.matched);
    }

    #[tokio::test]
    async fn a_hash_with_older_parameters_matches_and_asks_for_a_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).expect("params"),
        )
        .hash_password(b"correct horse")
        .expect("hash")
        .to_string();
        let verdict = verify(password("correct horse"), Some(weak))
            .await
            .expect("verify");
        assert_eq!(
            verdict,
            Verdict {
                matched: true,
                needs_rehash: true
            }
        );
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_does_not_match() {
        let verdict = verify(password("correct horse"), Some("not-a-hash".into()))
            .await
            .expect("verify");
        assert!(!verdict.matched);
    }
}
