//! Password hashing: argon2id with OWASP's parameters, PHC strings, run off the async executor.
//!
//! Each hash needs 19 MiB of working memory. Hashing is CPU-bound, so more hashes at once than
//! there are cores only queue on the CPU; here they queue for a [`Workspace`] instead, one per
//! core, allocated once and reused. Sixteen logins at once then hold two of them on two cores
//! (38 MiB), not sixteen fresh allocations that the allocator keeps afterwards.

use std::sync::{Arc, LazyLock, Mutex};

use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version,
    password_hash::phc::{Output, ParamsString, Salt},
};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;

use crate::{Error, users::model::Password};

/// OWASP's argon2id recommendation: m = 19 MiB, t = 2, p = 1.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// argon2's default and the PHC string's usual length.
const OUTPUT_LEN: usize = 32;

fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN))
        .expect("constant parameters are valid")
}

// Verified when no account has the submitted email, so that case costs what a wrong password costs.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
        .hash_password(b"a password no account has")
        .expect("hashing a constant succeeds")
        .to_string()
});

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
///
/// # Errors
/// [`Error::Unexpected`] if hashing fails (it does not, short of memory exhaustion).
pub async fn hash(password: Password) -> Result<String, Error> {
    Workspace::run(move |memory| {
        let params = params();
        let salt = argon2::password_hash::try_generate_salt()
            .map_err(|e| anyhow::anyhow!("no random salt: {e}"))?;
        let mut out = [0_u8; OUTPUT_LEN];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(
                password.secret().expose_secret().as_bytes(),
                &salt,
                &mut out,
                memory,
            )
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
        let phc = PasswordHash {
            algorithm: ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)
                .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
            salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?),
            hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
        };
        Ok(phc.to_string())
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
    Workspace::run(move |memory| {
        let exists = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            tracing::error!("a stored password hash is not a PHC string");
            return Ok(Verdict {
                matched: false,
                needs_rehash: false,
            });
        };
        let matched = matches(
            password.secret().expose_secret().as_bytes(),
            &parsed,
            memory,
        ) && exists;
        Ok(Verdict {
            matched,
            needs_rehash: matched && !is_current(&parsed),
        })
    })
    .await
}

/// Whether `password` hashes to `stored`'s output with `stored`'s own algorithm and parameters
/// (a hash made with older ones still verifies), compared in constant time.
fn matches(password: &[u8], stored: &PasswordHash, memory: &mut [Block]) -> bool {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else {
        return false;
    };
    let version = match stored.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(stored) else {
        return false;
    };
    let mut out = vec![0_u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let hashed = if params.block_count() <= memory.len() {
        argon2.hash_password_into_with_memory(password, salt, &mut out, memory)
    } else {
        // Made with more memory than today's parameters: rare, so allocated for this once.
        argon2.hash_password_into(password, salt, &mut out)
    };
    hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == *expected)
}

fn is_current(hash: &PasswordHash) -> bool {
    hash.algorithm == ARGON2ID_IDENT
        && hash.version == Some(Version::V0x13.into())
        && Params::try_from(hash)
            .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == (M_COST_KIB, T_COST, P_COST))
}

/// argon2's working memory for one hash; at most one per core exists, each reused.
struct Workspace;

/// The free workspaces, and a permit per core to take one.
struct Workspaces {
    permits: Arc<Semaphore>,
    free: Mutex<Vec<Vec<Block>>>,
}

static WORKSPACES: LazyLock<Workspaces> = LazyLock::new(|| Workspaces {
    permits: Arc::new(Semaphore::new(
        std::thread::available_parallelism().map_or(1, usize::from),
    )),
    free: Mutex::new(Vec::new()),
});

impl Workspace {
    /// Runs `work` on the blocking pool with a workspace, waiting for one if every core is busy
    /// hashing; the async executor stays free for other requests meanwhile.
    ///
    /// The blocking task itself returns the workspace and the permit when the hash is done, so a
    /// request that is dropped mid-hash (its client went away) neither loses the workspace nor
    /// lets another hash start before this one has finished.
    async fn run<T: Send + 'static>(
        work: impl FnOnce(&mut [Block]) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, Error> {
        let permit = Arc::clone(&WORKSPACES.permits)
            .acquire_owned()
            .await
            .map_err(|e| anyhow::anyhow!("password hashing is shut down: {e}"))?;
        let free = || {
            WORKSPACES
                .free
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let mut memory = free()
            .pop()
            .unwrap_or_else(|| vec![Block::default(); params().block_count()]);
        tokio::task::spawn_blocking(move || {
            let result = work(&mut memory);
            free().push(memory);
            drop(permit);
            result
        })
        .await
        .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))?
        .map_err(Error::Unexpected)
    }
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
    async fn hashes_agree_with_the_argon2_crates_own_hasher_and_verifier() {
        use argon2::PasswordVerifier;
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        // Hashes stored before the workspaces existed still verify...
        let older = reference
            .hash_password(b"correct horse")
            .expect("hash")
            .to_string();
        let verdict = verify(password("correct horse"), Some(older))
            .await
            .expect("verify");
        assert_eq!(
            verdict,
            Verdict {
                matched: true,
                needs_rehash: false
            }
        );
        // ...and the crate's verifier accepts ours.
        let ours = hash(password("correct horse")).await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(reference.verify_password(b"correct horse", &parsed).is_ok());
        assert!(
            reference
                .verify_password(b"battery staple", &parsed)
                .is_err()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_hashes_share_at_most_one_workspace_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let phc = hash(password("correct horse")).await.expect("hash");
        let mut checks = tokio::task::JoinSet::new();
        for _ in 0..4 * cores {
            checks.spawn(verify(password("correct horse"), Some(phc.clone())));
        }
        while let Some(verdict) = checks.join_next().await {
            assert!(verdict.expect("joined").expect("verify").matched);
        }
        let free = WORKSPACES.free.lock().expect("not poisoned").len();
        assert!(
            (1..=cores).contains(&free),
            "{free} workspaces for {cores} cores"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_dropped_mid_hash_gives_back_its_workspace_when_the_hash_ends() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let phc = hash(password("correct horse")).await.expect("hash");
        let mut checks = tokio::task::JoinSet::new();
        for _ in 0..2 * cores {
            checks.spawn(verify(password("correct horse"), Some(phc.clone())));
        }
        // Every core is hashing now; the callers go away, as a client that disconnects does.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        checks.abort_all();
        while checks.join_next().await.is_some() {}
        // The permits come back only as the hashes end, and with them every workspace.
        let all = u32::try_from(cores).expect("few cores");
        let _permits = WORKSPACES.permits.acquire_many(all).await.expect("open");
        assert_eq!(WORKSPACES.free.lock().expect("not poisoned").len(), cores);
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_does_not_match() {
        let verdict = verify(password("correct horse"), Some("not-a-hash".into()))
            .await
            .expect("verify");
        assert!(!verdict.matched);
    }
}
