//! Extractors that parse, and whose every rejection is our [`Error`].
//!
//! Malformed input gets the same JSON `detail` as any other 4xx: [`ApiJson`], [`ApiForm`],
//! [`ClientIp`], [`CurrentUser`], [`SignedIn`].

use std::net::SocketAddr;

use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request, rejection::BytesRejection},
    http::{HeaderMap, header, request::Parts},
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::{AppState, Error, ValidationErrors, users};

/// A JSON body deserialised into `T`; errors say where the body is wrong, never what it held.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        if !has_content_type(request.headers(), is_json) {
            return Err(Error::UnsupportedMediaType(
                "expected Content-Type: application/json",
            ));
        }
        let bytes = body(request, state).await?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer)
            .and_then(|value| {
                // Trailing bytes after the document are malformed input too.
                deserializer.end().map_err(|e| {
                    serde_path_to_error::Error::new(serde_path_to_error::Track::new().path(), e)
                })?;
                Ok(value)
            })
            .map_err(|e| json_error(&e))?;
        Ok(Self(value))
    }
}

fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> Error {
    use serde_json::error::Category;
    let inner = e.inner();
    let mut loc = vec!["body".to_owned()];
    loc.extend(
        e.path()
            .iter()
            .map(|segment| segment.to_string())
            .filter(|s| s != "?"),
    );
    let (msg, kind) = match inner.classify() {
        Category::Data => match missing_field(&inner.to_string()) {
            Some(field) => {
                loc.push(field);
                ("field required".to_owned(), "missing")
            }
            None => ("has the wrong type".to_owned(), "type_error"),
        },
        Category::Syntax | Category::Eof | Category::Io => {
            ("is not valid JSON".to_owned(), "json_invalid")
        }
    };
    let loc: Vec<&str> = loc.iter().map(String::as_str).collect();
    ValidationErrors::at(&loc, msg, kind).into()
}

/// The field name in serde's "missing field `name`" message: ours, not the client's input.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(name, _)| name.to_owned())
}

/// A query string deserialised into `T`; a malformed one is a `422` located at `query`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map(Self)
            .map_err(|_| {
                ValidationErrors::at(&["query"], "is not a valid query string", "value_error")
                    .into()
            })
    }
}

/// An `application/x-www-form-urlencoded` body deserialised into `T` (the OAuth2 token form).
#[derive(Debug)]
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        if !has_content_type(request.headers(), |m| {
            m == "application/x-www-form-urlencoded"
        }) {
            return Err(Error::UnsupportedMediaType(
                "expected Content-Type: application/x-www-form-urlencoded",
            ));
        }
        let bytes = body(request, state).await?;
        serde_urlencoded::from_bytes(&bytes).map(Self).map_err(|e| {
            match missing_field(&e.to_string()) {
                Some(field) => ValidationErrors::at(&["body", &field], "field required", "missing"),
                None => ValidationErrors::at(&["body"], "is not a valid form", "value_error"),
            }
            .into()
        })
    }
}

async fn body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Error> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(_) => Error::PayloadTooLarge {
                limit_bytes: crate::http::routes::BODY_LIMIT_BYTES,
            },
            _ => Error::Invalid(ValidationErrors::at(
                &["body"],
                "could not be read",
                "value_error",
            )),
        })
}

fn has_content_type(headers: &HeaderMap, accept: impl Fn(&str) -> bool) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| accept(&mime.trim().to_ascii_lowercase()))
}

fn is_json(mime: &str) -> bool {
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The client's address as the platform saw it: API Gateway's `sourceIp` in Lambda, the TCP
/// peer locally.
///
/// Never `X-Forwarded-For`, which any client can write. Behind the CloudFront
/// distribution `sourceIp` is an edge server's, shared by a whole region: there the viewer's own
/// address comes from `CloudFront-Viewer-Address`, trusted only on a request that carries the
/// distribution's secret `X-Origin-Verify` (one sent straight to the API's URL does not).
/// template.yaml's viewer-request function writes the viewer's address as `X-Viewer-Address`
/// (overwriting any a viewer sent): no origin request policy that keeps `Host` out can forward
/// CloudFront's own `CloudFront-Viewer-Address` (docs/deployment.md).
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if let Some(viewer) =
            viewer_address(&parts.headers, state.config.origin_verify_secret.as_ref())
        {
            return Ok(Self(viewer));
        }
        use lambda_http::request::RequestContext;
        let from_gateway =
            parts
                .extensions
                .get::<RequestContext>()
                .and_then(|context| match context {
                    RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
                    _ => None,
                });
        let ip = from_gateway
            .or_else(|| {
                parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| addr.ip().to_string())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Ok(Self(ip))
    }
}

/// The header the distribution adds to every request it forwards to the API.
pub const ORIGIN_VERIFY: &str = "x-origin-verify";
/// The viewer's IP address, as the distribution's function sets it: `198.51.100.10`, `2001:db8::1`.
pub const VIEWER_ADDRESS: &str = "x-viewer-address";

/// The viewer's address CloudFront names, on a request that proves it came through it.
pub fn viewer_address(headers: &HeaderMap, secret: Option<&SecretString>) -> Option<String> {
    let secret = secret?.expose_secret().as_bytes();
    let given = headers.get(ORIGIN_VERIFY)?.as_bytes();
    // Compared in constant time: the secret is what keeps a forged viewer address out.
    let same = given.len() == secret.len()
        && given
            .iter()
            .zip(secret)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same || secret.is_empty() {
        return None;
    }
    let value = headers.get(VIEWER_ADDRESS)?.to_str().ok()?;
    value
        .trim()
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// The client's `User-Agent`, as a session stores it (bounded, no control characters).
#[derive(Clone, Debug)]
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        Ok(Self(
            parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .and_then(users::sessions::stored_user_agent),
        ))
    }
}

/// The name of the access-token cookie.
pub const ACCESS_COOKIE: &str = "access_token";
/// The name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "refresh_token";

/// A cookie's value from the `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// The bearer token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The access token of a request: the `Authorization` header if sent, else the cookie.
pub fn access_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers).or_else(|| cookie(headers, ACCESS_COOKIE))
}

/// The signed-in, active user: from a valid access token whose session is still live.
///
/// The seed's `get_current_active_user`: `401` without a valid token, `403` when deactivated.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub user: users::User,
    pub session_id: Uuid,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = access_token(&parts.headers).ok_or(Error::Unauthenticated)?;
        let (user, session_id) = users::current_user(state, token).await?;
        Ok(Self { user, session_id })
    }
}

/// A request's verified access token, its session not yet checked: for the routes whose one
/// statement checks it beside their own work ([`users::Caller`]). `401` without a valid token.
#[derive(Clone, Copy, Debug)]
pub struct SignedIn(pub users::Caller);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = access_token(&parts.headers).ok_or(Error::Unauthenticated)?;
        Ok(Self(users::caller(state, token).await?))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_viewer_address_is_trusted_only_with_the_distributions_secret() {
        let secret = SecretString::from("s3cr3t-from-the-distribution");
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().expect("a value"));
            }
            h
        };
        let through = headers(&[
            (ORIGIN_VERIFY, "s3cr3t-from-the-distribution"),
            (VIEWER_ADDRESS, "198.51.100.10"),
        ]);
        assert_eq!(
            viewer_address(&through, Some(&secret)).as_deref(),
            Some("198.51.100.10")
        );
        let v6 = headers(&[
            (ORIGIN_VERIFY, "s3cr3t-from-the-distribution"),
            (VIEWER_ADDRESS, "2001:db8:85a3::8a2e:370:7334"),
        ]);
        assert_eq!(
            viewer_address(&v6, Some(&secret)).as_deref(),
            Some("2001:db8:85a3::8a2e:370:7334")
        );
        // Straight to the API's URL, with a forged address: no secret, or the wrong one.
        let forged = headers(&[(VIEWER_ADDRESS, "203.0.113.9")]);
        assert_eq!(viewer_address(&forged, Some(&secret)), None);
        let wrong = headers(&[(ORIGIN_VERIFY, "guess"), (VIEWER_ADDRESS, "203.0.113.9")]);
        assert_eq!(viewer_address(&wrong, Some(&secret)), None);
        // Not configured: never trusted.
        assert_eq!(viewer_address(&through, None), None);
        let garbage = headers(&[
            (ORIGIN_VERIFY, "s3cr3t-from-the-distribution"),
            (VIEWER_ADDRESS, "not an address"),
        ]);
        assert_eq!(viewer_address(&garbage, Some(&secret)), None);
    }

    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), HeaderValue::from_str(v).expect("ASCII")))
            .collect()
    }

    #[test]
    fn a_cookie_is_found_among_others() {
        let h = headers(&[(header::COOKIE, "theme=dark; access_token=abc.def.ghi; x=1")]);
        assert_eq!(cookie(&h, ACCESS_COOKIE), Some("abc.def.ghi"));
        assert_eq!(cookie(&h, REFRESH_COOKIE), None);
    }

    #[test]
    fn the_bearer_header_wins_over_the_cookie() {
        let h = headers(&[
            (header::AUTHORIZATION, "Bearer from-header"),
            (header::COOKIE, "access_token=from-cookie"),
        ]);
        assert_eq!(access_token(&h), Some("from-header"));
    }

    #[test]
    fn other_authorization_schemes_are_not_bearer_tokens() {
        assert_eq!(
            bearer(&headers(&[(header::AUTHORIZATION, "Basic YTpi")])),
            None
        );
        assert_eq!(
            bearer(&headers(&[(header::AUTHORIZATION, "Bearer ")])),
            None
        );
    }

    #[test]
    fn json_content_types_with_parameters_and_suffixes_are_json() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(
                has_content_type(&headers(&[(header::CONTENT_TYPE, ok)]), is_json),
                "{ok}"
            );
        }
        assert!(!has_content_type(
            &headers(&[(header::CONTENT_TYPE, "text/plain")]),
            is_json
        ));
        assert!(!has_content_type(&HeaderMap::new(), is_json));
    }
}
