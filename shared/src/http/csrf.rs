//! Cross-site request forgery: a state-changing request authenticated by cookie must come from
//! this site or an allowed origin. Bearer requests are exempt: a browser never adds that header
//! on its own.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    AppState, Config, Error,
    http::extract::{ACCESS_COOKIE, REFRESH_COOKIE, bearer, cookie},
};

/// Middleware: refuses a cross-site, cookie-authenticated, state-changing request with `403`.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_forged(request.method(), request.headers(), &state.config) {
        return Error::Forbidden("cross-site request refused").into_response();
    }
    next.run(request).await
}

fn is_forged(method: &Method, headers: &HeaderMap, config: &Config) -> bool {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let by_cookie = bearer(headers).is_none()
        && (cookie(headers, ACCESS_COOKIE).is_some() || cookie(headers, REFRESH_COOKIE).is_some());
    if safe || !by_cookie {
        return false;
    }
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match text(header::ORIGIN) {
        // Browsers send Origin on every cross-origin POST; compare it with our own host.
        Some(origin) => {
            let origin = origin.trim_end_matches('/');
            let own = text(header::HOST).is_some_and(|host| {
                origin
                    .split_once("://")
                    .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
            });
            !own && !config
                .allowed_origins
                .iter()
                .any(|allowed| allowed == origin)
        }
        // Without Origin, the Fetch Metadata header still tells a cross-site request.
        None => text(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site"),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn config(allowed: &[&str]) -> Config {
        let vars = std::collections::HashMap::from([
            ("DATABASE_URL", "postgres://localhost/x".to_owned()),
            ("STORAGE_ROOT", "s3://bucket-name".to_owned()),
            ("QUEUE_URL", "http://q".to_owned()),
            ("JWT_SECRET", "x".repeat(32)),
            ("ALLOWED_ORIGINS", allowed.join(",")),
        ]);
        Config::from_lookup(|k| vars.get(k).cloned()).expect("valid")
    }

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                    HeaderValue::from_str(v).expect("value"),
                )
            })
            .collect()
    }

    #[test]
    fn a_cookie_post_from_another_site_is_forged() {
        let h = request(&[
            ("host", "api.example.com"),
            ("origin", "https://evil.example"),
            ("cookie", "access_token=t"),
        ]);
        assert!(is_forged(&Method::POST, &h, &config(&[])));
    }

    #[test]
    fn a_cookie_post_from_our_own_host_or_an_allowed_origin_passes() {
        let own = request(&[
            ("host", "api.example.com"),
            ("origin", "https://api.example.com"),
            ("cookie", "access_token=t"),
        ]);
        assert!(!is_forged(&Method::POST, &own, &config(&[])));
        let app = request(&[
            ("host", "api.example.com"),
            ("origin", "https://app.example.com"),
            ("cookie", "access_token=t"),
        ]);
        assert!(!is_forged(
            &Method::POST,
            &app,
            &config(&["https://app.example.com"])
        ));
    }

    #[test]
    fn bearer_requests_and_safe_methods_are_exempt() {
        let bearer = request(&[
            ("origin", "https://evil.example"),
            ("authorization", "Bearer t"),
            ("cookie", "access_token=t"),
        ]);
        assert!(!is_forged(&Method::POST, &bearer, &config(&[])));
        let get = request(&[
            ("origin", "https://evil.example"),
            ("cookie", "access_token=t"),
        ]);
        assert!(!is_forged(&Method::GET, &get, &config(&[])));
    }

    #[test]
    fn without_origin_fetch_metadata_decides() {
        let cross = request(&[
            ("sec-fetch-site", "cross-site"),
            ("cookie", "refresh_token=t"),
        ]);
        assert!(is_forged(&Method::POST, &cross, &config(&[])));
        let same = request(&[
            ("sec-fetch-site", "same-origin"),
            ("cookie", "refresh_token=t"),
        ]);
        assert!(!is_forged(&Method::POST, &same, &config(&[])));
    }

    #[test]
    fn requests_without_auth_cookies_are_not_checked() {
        let h = request(&[("origin", "https://evil.example")]);
        assert!(!is_forged(&Method::POST, &h, &config(&[])));
    }
}
