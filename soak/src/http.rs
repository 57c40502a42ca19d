//! A plain HTTP/1 client for the API and for presigned S3 URLs, and a cookie jar per user.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client as Hyper, connect::HttpConnector},
    rt::TokioExecutor,
};

/// How long one request may take before it counts as hung: API Gateway's limit. The API's own
/// dependency timeouts answer (a `503`) well within it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What came back: an answer, or why there was none.
#[derive(Clone, Debug)]
pub enum Outcome {
    Answered(Answer),
    /// Refused, reset or closed: nothing answered.
    ConnectionError(String),
    /// No answer within [`REQUEST_TIMEOUT`].
    TimedOut,
}

#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn has_retry_after(&self) -> bool {
        self.headers.contains_key(header::RETRY_AFTER)
    }

    /// The body as text, cut short for a report.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(300).collect()
    }
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Answered(a) => Some(a.status),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Answered(a) => format!("{} {}", a.status, a.snippet()),
            Self::ConnectionError(e) => format!("connection error: {e}"),
            Self::TimedOut => format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()),
        }
    }
}

/// One client (one connection pool) for every simulated user: cookies are per request.
#[derive(Clone)]
pub struct Client {
    inner: Hyper<HttpConnector, Full<Bytes>>,
}

impl Client {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        connector.set_nodelay(true);
        let inner = Hyper::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(64)
            .build(connector);
        Self { inner }
    }

    /// Sends `method url` with `headers` and `body`, waiting at most [`REQUEST_TIMEOUT`].
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Outcome {
        let mut builder = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = match builder.body(Full::new(body)) {
            Ok(r) => r,
            Err(e) => return Outcome::ConnectionError(format!("cannot build the request: {e}")),
        };
        let exchange = async {
            let response = self
                .inner
                .request(request)
                .await
                .map_err(|e| error_chain(&e))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| error_chain(&e))?
                .to_bytes();
            Ok::<_, String>(Answer {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(answer)) => Outcome::Answered(answer),
            Ok(Err(e)) => Outcome::ConnectionError(e),
            Err(_) => Outcome::TimedOut,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A browser's view of the two auth cookies: `access_token` (path `/`) and `refresh_token`
/// (path `/auth`), each kept until a `Set-Cookie` replaces or expires it.
#[derive(Clone, Debug, Default)]
pub struct Jar {
    pub access: Option<String>,
    pub refresh: Option<String>,
}

impl Jar {
    /// The `Cookie` header for a request to `path`, as a browser would build it.
    pub fn header_for(&self, path: &str) -> Option<String> {
        let mut pairs = Vec::new();
        if let Some(a) = &self.access {
            pairs.push(format!("access_token={a}"));
        }
        if let Some(r) = &self.refresh
            && (path == "/auth" || path.starts_with("/auth/"))
        {
            pairs.push(format!("refresh_token={r}"));
        }
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// Applies every `Set-Cookie` of a response.
    pub fn store(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let mut attributes = text.split(';').map(str::trim);
            let Some((name, value)) = attributes.next().and_then(|kv| kv.split_once('=')) else {
                continue;
            };
            let expired = attributes.any(|a| {
                a.eq_ignore_ascii_case("max-age=0")
                    || a.to_ascii_lowercase().starts_with("max-age=-")
            }) || value.is_empty();
            let slot = match name {
                "access_token" => &mut self.access,
                "refresh_token" => &mut self.refresh,
                _ => continue,
            };
            *slot = (!expired).then(|| value.to_owned());
        }
    }
}

/// A `multipart/form-data` body with text fields and one file part.
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str, &[u8])>) -> (String, Bytes) {
    let boundary = format!("soak-{:016x}", fastrand::u64(..));
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((file_name, content_type, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary={boundary}"),
        Bytes::from(body),
    )
}

/// SHA-256, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_jar_follows_set_cookie_and_paths() {
        let mut jar = Jar::default();
        let mut headers = HeaderMap::new();
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "access_token=a1; HttpOnly; SameSite=Lax; Path=/; Max-Age=1800",
            ),
        );
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "refresh_token=r1; HttpOnly; SameSite=Strict; Path=/auth; Max-Age=60",
            ),
        );
        jar.store(&headers);
        assert_eq!(
            jar.header_for("/api/v1/tasks").as_deref(),
            Some("access_token=a1")
        );
        assert_eq!(
            jar.header_for("/auth/refresh").as_deref(),
            Some("access_token=a1; refresh_token=r1")
        );
        let mut expire = HeaderMap::new();
        expire.append(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "access_token=; HttpOnly; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            ),
        );
        jar.store(&expire);
        assert!(jar.access.is_none());
        assert_eq!(jar.refresh.as_deref(), Some("r1"));
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
