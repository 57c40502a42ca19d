//! The web app's security headers, and `local-api`'s serving of the built app (`web/dist`).
//!
//! In AWS a CloudFront response-headers policy sends these headers and a CloudFront Function does
//! the single-page-app fallback; template.yaml spells both out, and tests/api/template.rs checks
//! its policy against [`content_security_policy`], so the browser tests run under the policy that
//! production enforces.

use std::path::{Component, Path, PathBuf};

use axum::{
    body::Body,
    http::{HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};

/// The Content-Security-Policy of every response but Swagger UI's pages.
///
/// It names the one other origin the app talks to: the uploads bucket, which the browser PUTs
/// presigned uploads to. No inline script or style, no framing, no plugins; images may be
/// `data:` URLs.
pub fn content_security_policy(uploads_origin: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self' {uploads_origin}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy of Swagger UI's pages (`/docs*`): the app's, but Swagger UI sets inline styles,
/// and it talks to nothing but this API.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `Strict-Transport-Security`, as the distribution sends it (a browser ignores it over http).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";

/// The paths the API owns: they never fall back to the app's `index.html` (an unknown one stays
/// the API's JSON `404`). template.yaml's CloudFront behaviours name the same prefixes.
pub const API_PREFIXES: [&str; 6] = [
    "/api/",
    "/auth/",
    "/admin/",
    "/docs",
    "/openapi.json",
    "/health",
];

/// Whether `path` belongs to the API rather than to the web app.
pub fn is_api_path(path: &str) -> bool {
    API_PREFIXES.iter().any(|prefix| {
        path.starts_with(prefix) || prefix.strip_suffix('/').is_some_and(|bare| path == bare)
    })
}

/// The built web app in `root`, served for every path the API does not own: a file when one
/// matches, else `index.html` for the client's own routes (`/tasks/…`, `/settings`).
#[derive(Clone, Debug)]
pub struct Site {
    root: PathBuf,
}

impl Site {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Answers a `GET` or `HEAD` of `uri`, or `None` when the site has no answer (another method,
    /// an API path, or no built app): the caller then gives the API's own `404` or `405`.
    pub async fn serve(&self, method: &Method, uri: &Uri) -> Option<Response> {
        if (method != Method::GET && method != Method::HEAD) || is_api_path(uri.path()) {
            return None;
        }
        let relative = relative_path(uri.path())?;
        // Hashed build outputs (`/assets/index-3f2a….js`) never change: cached for a year. The
        // page itself is revalidated every time, so a deploy reaches every writer at once.
        if let Some(file) = self.read(&relative).await {
            let immutable = relative.starts_with("assets");
            return Some(file_response(&relative, file, immutable, method));
        }
        // A missing asset is a 404, not the page: a stale `index.html` must not get HTML for a script.
        if relative.starts_with("assets") || relative.extension().is_some() {
            return Some(StatusCode::NOT_FOUND.into_response());
        }
        let index = Path::new("index.html");
        let page = self.read(index).await?;
        Some(file_response(index, page, false, method))
    }

    async fn read(&self, relative: &Path) -> Option<Vec<u8>> {
        let path = self.root.join(relative);
        if !tokio::fs::metadata(&path).await.ok()?.is_file() {
            return None;
        }
        tokio::fs::read(&path).await.ok()
    }
}

/// The request path as a relative file path, or `None` for one that would leave the root.
fn relative_path(path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path.trim_start_matches('/'))?;
    let relative = PathBuf::from(decoded);
    // Only plain names: no `..`, no root, and no dot-files (the build's own stamp among them).
    let plain = |c: Component<'_>| matches!(c, Component::Normal(name) if !name.to_string_lossy().starts_with('.'));
    if !relative.components().all(plain) {
        return None;
    }
    Some(if relative.as_os_str().is_empty() {
        PathBuf::from("index.html")
    } else {
        relative
    })
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(out).ok()?;
    (!decoded.contains('\0')).then_some(decoded)
}

fn file_response(path: &Path, bytes: Vec<u8>, immutable: bool, method: &Method) -> Response {
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let length = bytes.len();
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// The media types of what a Vite build writes.
fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "webmanifest" => "application/manifest+json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_never_fall_back_to_the_app() {
        for path in [
            "/api/v1/tasks",
            "/api/nothing",
            "/auth/me",
            "/auth",
            "/admin/users",
            "/docs",
            "/docs/index.html",
            "/openapi.json",
            "/health",
        ] {
            assert!(is_api_path(path), "{path}");
        }
        for path in [
            "/",
            "/tasks/1",
            "/settings",
            "/administration",
            "/authors",
            "/reset",
        ] {
            assert!(!is_api_path(path), "{path}");
        }
    }

    #[test]
    fn paths_that_leave_the_root_are_refused() {
        assert_eq!(relative_path("/"), Some(PathBuf::from("index.html")));
        assert_eq!(
            relative_path("/assets/a.js"),
            Some(PathBuf::from("assets/a.js"))
        );
        assert_eq!(relative_path("/../etc/passwd"), None);
        assert_eq!(relative_path("/assets/%2e%2e/%2e%2e/etc/passwd"), None);
        assert_eq!(relative_path("/a%00b"), None);
        assert_eq!(relative_path("/%zz"), None);
        assert_eq!(relative_path("/.sources.sha256"), None);
    }

    #[test]
    fn only_the_docs_pages_may_style_inline_and_nothing_may_script_inline() {
        assert!(DOCS_CONTENT_SECURITY_POLICY.contains("style-src 'self' 'unsafe-inline';"));
        assert!(DOCS_CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert_eq!(DOCS_CONTENT_SECURITY_POLICY.matches("unsafe").count(), 1);
    }

    #[test]
    fn the_policy_admits_the_uploads_origin_and_no_inline_code() {
        let policy = content_security_policy("https://b.s3.eu-west-1.amazonaws.com");
        assert!(policy.contains("connect-src 'self' https://b.s3.eu-west-1.amazonaws.com;"));
        assert!(policy.contains("script-src 'self';"));
        assert!(!policy.contains("unsafe"));
    }
}
