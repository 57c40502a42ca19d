//! Secrets Manager's `GetSecretValue`, the one AWS call every function makes, without the SDK.
//!
//! Every function reads its database and JWT secrets; most make no other AWS call. Through the
//! SDK that one call linked its whole client stack (about 4 MiB of each binary, and a
//! configuration load on every cold start). Here it is one signed HTTP/1.1 `POST`: `SigV4` from
//! the SDK's own signer (`aws-sigv4`), credentials from the environment Lambda sets, TLS through
//! the rustls that the database connection already links, with the Mozilla roots compiled in (no
//! certificate file to find on the host).
//!
//! Like the SDK's clients: the endpoint is `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else
//! `AWS_ENDPOINT_URL` (LocalStack), else the region's; one call takes at most
//! [`SDK_OPERATION_TIMEOUT`], in two attempts when the first fails for a reason a retry can mend.

use std::{
    sync::{Arc, OnceLock},
    time::SystemTime,
};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{SignableBody, SignableRequest, SigningSettings, sign},
    sign::v4,
};
use axum::http::{Request, StatusCode, Uri, header};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use secrecy::SecretString;
use serde::Deserialize;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};

use crate::{
    Error,
    aws::{SDK_ATTEMPT_TIMEOUT, SDK_CONNECT_TIMEOUT, SDK_OPERATION_TIMEOUT},
};

/// A secret's string is at most 64 KiB; its JSON envelope adds little.
const RESPONSE_LIMIT_BYTES: usize = 256 * 1024;

/// Where Secrets Manager is, and the region requests are signed for. Building it reads only the
/// environment.
#[derive(Clone, Debug)]
pub struct Secrets {
    /// Or why the environment's endpoint URL cannot be used, reported by every read.
    endpoint: Result<Arc<Endpoint>, Arc<str>>,
    region: String,
}

#[derive(Debug)]
struct Endpoint {
    /// The URL signed and sent to: `https://secretsmanager.us-east-1.amazonaws.com/`.
    url: String,
    /// The `Host` header: the host, and the port when it is not the scheme's.
    authority: String,
    host: String,
    port: u16,
    tls: bool,
}

/// Why one attempt failed, and whether another could succeed.
struct Failure {
    error: anyhow::Error,
    retry: bool,
    not_found: bool,
}

impl Failure {
    fn transient(error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            retry: true,
            not_found: false,
        }
    }

    fn lasting(error: impl Into<anyhow::Error>) -> Self {
        Self {
            error: error.into(),
            retry: false,
            not_found: false,
        }
    }
}

impl Secrets {
    /// Secrets Manager for `region`, at the endpoint the environment names (see the module). An
    /// endpoint URL that does not parse fails every read, naming the variable.
    pub fn from_env(region: &str) -> Self {
        let (variable, url) = ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|name| {
                std::env::var(name)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (name, v))
            })
            .unwrap_or((
                "AWS_REGION",
                format!("https://secretsmanager.{region}.amazonaws.com"),
            ));
        let endpoint = Endpoint::parse(url.trim())
            .map(Arc::new)
            .ok_or_else(|| format!("{variable}: {url:?} is not an http:// or https:// URL").into());
        Self {
            endpoint,
            region: region.to_owned(),
        }
    }

    /// Reads one version (`AWSCURRENT`, `AWSPREVIOUS`) of the secret `arn`'s string; `what`
    /// names it in the error. `None` when that version does not exist (only `AWSCURRENT` must).
    ///
    /// # Errors
    /// [`Error::Unexpected`] when Secrets Manager cannot be read, naming the cause.
    pub async fn read(
        &self,
        arn: &str,
        stage: &str,
        what: &str,
    ) -> Result<Option<SecretString>, Error> {
        let context = || format!("reading {what} ({stage}) from Secrets Manager");
        let body = serde_json::to_vec(&serde_json::json!({
            "SecretId": arn,
            "VersionStage": stage,
        }))
        .map_err(|e| anyhow::Error::new(e).context(context()))?;
        let started = tokio::time::Instant::now();
        let mut attempt = 1;
        loop {
            let left = SDK_OPERATION_TIMEOUT.saturating_sub(started.elapsed());
            let budget = SDK_ATTEMPT_TIMEOUT.min(left);
            let outcome = match tokio::time::timeout(budget, self.attempt(&body)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::transient(anyhow::anyhow!(
                    "no answer within {budget:?}"
                ))),
            };
            match outcome {
                Ok(value) => return Ok(value.secret_string.map(SecretString::from)),
                // Only AWSCURRENT always exists; AWSPREVIOUS appears after the first rotation.
                Err(failure) if failure.not_found && stage != "AWSCURRENT" => return Ok(None),
                Err(failure) if failure.retry && attempt < 2 && !left.is_zero() => attempt += 1,
                Err(failure) => return Err(failure.error.context(context()).into()),
            }
        }
    }

    async fn attempt(&self, body: &[u8]) -> Result<SecretValue, Failure> {
        let endpoint = self
            .endpoint
            .as_ref()
            .map_err(|problem| Failure::lasting(anyhow::anyhow!("{problem}")))?;
        let request = self.signed(endpoint, body)?;
        let tcp = tokio::time::timeout(
            SDK_CONNECT_TIMEOUT,
            TcpStream::connect((endpoint.host.as_str(), endpoint.port)),
        )
        .await
        .map_err(|_| {
            Failure::transient(anyhow::anyhow!(
                "no connection to {} within {SDK_CONNECT_TIMEOUT:?}",
                endpoint.authority
            ))
        })?
        .map_err(|e| {
            Failure::transient(
                anyhow::Error::new(e).context(format!("connecting to {}", endpoint.authority)),
            )
        })?;
        let _ = tcp.set_nodelay(true);
        let (status, fault_type, bytes) = if endpoint.tls {
            let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
                .map_err(Failure::lasting)?;
            let tls = tls()
                .connect(name, tcp)
                .await
                .map_err(|e| Failure::transient(anyhow::Error::new(e).context("TLS handshake")))?;
            exchange(tls, request).await?
        } else {
            exchange(tcp, request).await?
        };
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                Failure::lasting(
                    anyhow::Error::new(e).context("an unreadable GetSecretValue answer"),
                )
            });
        }
        let fault: Fault = serde_json::from_slice(&bytes).unwrap_or_default();
        let kind = fault_type.or(fault.kind).unwrap_or_default();
        // `__type` may be namespaced (`…#ResourceNotFoundException`) or carry a suffix (`:…`).
        let kind = kind.rsplit('#').next().unwrap_or_default();
        let kind = kind.split(':').next().unwrap_or_default().to_owned();
        let message = fault.message.unwrap_or_default();
        Err(Failure {
            not_found: kind == "ResourceNotFoundException",
            retry: status.is_server_error()
                || status == StatusCode::TOO_MANY_REQUESTS
                || kind.contains("Throttling"),
            error: anyhow::anyhow!("Secrets Manager answered {status}: {kind} {message}"),
        })
    }

    /// The `GetSecretValue` request for `body`, signed now with the environment's credentials.
    fn signed(&self, endpoint: &Endpoint, body: &[u8]) -> Result<Request<Full<Bytes>>, Failure> {
        let identity = credentials().map_err(Failure::lasting)?.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("secretsmanager")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(Failure::lasting)?
            .into();
        let headers = [
            (header::HOST.as_str(), endpoint.authority.as_str()),
            (header::CONTENT_TYPE.as_str(), "application/x-amz-json-1.1"),
            ("x-amz-target", "secretsmanager.GetSecretValue"),
        ];
        let signable = SignableRequest::new(
            "POST",
            &endpoint.url,
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(Failure::lasting)?;
        let (instructions, _) = sign(signable, &params)
            .map_err(Failure::lasting)?
            .into_parts();
        let mut request = Request::post("/");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut request = request
            .header(header::CONTENT_LENGTH, body.len())
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(Failure::lasting)?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

impl Endpoint {
    fn parse(url: &str) -> Option<Self> {
        let uri: Uri = url.parse().ok()?;
        let tls = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let authority = match uri.port_u16() {
            Some(port) => format!("{}:{port}", uri.host()?),
            None => uri.host()?.to_owned(),
        };
        Some(Self {
            url: format!("{}://{authority}/", uri.scheme_str()?),
            authority,
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

/// The credentials Lambda puts in every function's environment (and `make` sets for LocalStack).
fn credentials() -> anyhow::Result<Credentials> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
        anyhow::bail!(
            "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set \
             (Lambda sets them for the function's role; locally, set them, or use JWT_SECRET \
             and DATABASE_URL instead of the secrets' ARNs)"
        );
    };
    Ok(Credentials::new(
        key,
        secret,
        var("AWS_SESSION_TOKEN"),
        None,
        "environment",
    ))
}

/// One request on a new connection; the status, `x-amzn-errortype`, and the body.
async fn exchange<S>(
    stream: S,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Option<String>, Bytes), Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Failure::transient)?;
    // Drives the connection until the response is read; it ends when `sender` is dropped.
    let connection = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(Failure::transient)?;
    let status = response.status();
    let fault_type = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = Limited::new(response.into_body(), RESPONSE_LIMIT_BYTES)
        .collect()
        .await
        .map_err(|e| Failure::transient(anyhow::anyhow!("reading the answer: {e}")))?
        .to_bytes();
    drop(sender);
    connection.abort();
    Ok((status, fault_type, body))
}

/// TLS with the compiled-in Mozilla roots, on the crypto provider the rest of the binary uses.
fn tls() -> &'static tokio_rustls::TlsConnector {
    static TLS: OnceLock<tokio_rustls::TlsConnector> = OnceLock::new();
    TLS.get_or_init(|| {
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("the provider supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(config))
    })
}

#[derive(Deserialize)]
struct SecretValue {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
}

#[derive(Default, Deserialize)]
struct Fault {
    #[serde(rename = "__type")]
    kind: Option<String>,
    #[serde(alias = "Message")]
    message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_read_as_the_sdk_reads_it() {
        let aws = Endpoint::parse("https://secretsmanager.eu-west-1.amazonaws.com")
            .expect("an AWS endpoint");
        assert_eq!(aws.url, "https://secretsmanager.eu-west-1.amazonaws.com/");
        assert_eq!(
            (aws.host.as_str(), aws.port, aws.tls),
            ("secretsmanager.eu-west-1.amazonaws.com", 443, true)
        );
        let local = Endpoint::parse("http://127.0.0.1:4566/").expect("LocalStack");
        assert_eq!(local.authority, "127.0.0.1:4566");
        assert_eq!(local.url, "http://127.0.0.1:4566/");
        assert_eq!((local.port, local.tls), (4566, false));
        let v6 = Endpoint::parse("http://[::1]:4566").expect("IPv6");
        assert_eq!(
            (v6.host.as_str(), v6.authority.as_str()),
            ("::1", "[::1]:4566")
        );
        assert!(Endpoint::parse("ftp://example.com").is_none());
        assert!(Endpoint::parse("not a url").is_none());
    }
}
