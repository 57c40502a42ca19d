//! The devices a person is signed in on: list them, end one, end all but this one.

use uuid::Uuid;

use crate::{
    AppState, Error,
    users::{db, model::SessionView},
};

/// The user's live sessions, most recently used first; `current` marks the caller's.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn list(
    state: &AppState,
    user_id: Uuid,
    current: Uuid,
) -> Result<Vec<SessionView>, Error> {
    let rows = db::live_sessions(&state.db, user_id, state.clock.now()).await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionView {
            id: row.id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            user_agent: row.user_agent.as_deref().map(short_user_agent),
            current: row.id == current,
        })
        .collect())
}

/// Ends one of the user's live sessions (the current one too: that is a sign-out).
///
/// # Errors
/// [`Error::NotFound`] when the user has no such live session (another user's included).
pub async fn end(state: &AppState, user_id: Uuid, session_id: Uuid) -> Result<(), Error> {
    if db::revoke_own_session(
        &state.db,
        session_id,
        user_id,
        "signed_out",
        state.clock.now(),
    )
    .await?
    {
        tracing::info!(%user_id, %session_id, "session ended by its user");
        Ok(())
    } else {
        Err(Error::NotFound("session"))
    }
}

/// Ends every live session of the user but `current`; returns how many.
///
/// # Errors
/// [`Error::Database`] when the database is down.
pub async fn end_others(state: &AppState, user_id: Uuid, current: Uuid) -> Result<u64, Error> {
    let ended = db::revoke_sessions_of(
        &state.db,
        user_id,
        Some(current),
        "signed_out",
        state.clock.now(),
    )
    .await?;
    tracing::info!(%user_id, ended, "other sessions ended by their user");
    Ok(ended)
}

/// The longest `User-Agent` a session keeps (the column allows 512).
pub const USER_AGENT_MAX_CHARS: usize = 256;

/// A `User-Agent` as a session stores it: control characters dropped, at most
/// [`USER_AGENT_MAX_CHARS`]; `None` when nothing is left.
pub fn stored_user_agent(raw: &str) -> Option<String> {
    let kept: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(USER_AGENT_MAX_CHARS)
        .collect();
    let kept = kept.trim();
    (!kept.is_empty()).then(|| kept.to_owned())
}

/// A browser and system a person recognises (`Firefox on Linux`), from a stored `User-Agent`;
/// for clients it does not know, the product token (`curl/8.5.0`), at most 60 characters.
pub fn short_user_agent(raw: &str) -> String {
    let has = |needle: &str| raw.contains(needle);
    let browser = if has("Edg/") {
        Some("Edge")
    } else if has("OPR/") {
        Some("Opera")
    } else if has("Firefox/") {
        Some("Firefox")
    } else if has("Chrome/") || has("CriOS/") || has("Chromium/") {
        Some("Chrome")
    } else if has("Safari/") && has("Version/") {
        Some("Safari")
    } else {
        None
    };
    let system = if has("Android") {
        Some("Android")
    } else if has("iPhone") || has("iPad") {
        Some("iOS")
    } else if has("Windows") {
        Some("Windows")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, _) => raw
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_and_systems_are_named() {
        for (agent, short) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl/8.5.0"),
            ("python-requests/2.32.3", "python-requests/2.32.3"),
        ] {
            assert_eq!(short_user_agent(agent), short, "{agent}");
        }
    }

    #[test]
    fn a_stored_user_agent_has_no_control_characters_and_a_bound() {
        assert_eq!(stored_user_agent("a\u{0}b\nc"), Some("abc".to_owned()));
        assert_eq!(stored_user_agent(" \t "), None);
        let long = "x".repeat(1000);
        assert_eq!(
            stored_user_agent(&long).map(|s| s.chars().count()),
            Some(USER_AGENT_MAX_CHARS)
        );
    }
}
