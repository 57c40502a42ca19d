//! What stands around the functions in AWS: API Gateway in front, CloudFormation behind.
//!
//! The HTTP API turns real HTTP requests into payload 2.0 events for each route's function and its
//! answers back into responses; the response URL receives the `migrate` custom resource's answer.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{ConnectInfo, RawPathParams, Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    response::Response,
    routing::{MethodFilter, on, put},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::sync::mpsc;
use writers::http::{Function, routes};

use crate::{
    events::HttpEvent,
    runtime_api::{InvokeError, RuntimeApi},
};

/// `{*path}` (axum) is `{path+}` (API Gateway).
fn route_key(method: &Method, axum_path: &str) -> String {
    let path = axum_path
        .split('/')
        .map(|segment| match segment.strip_prefix("{*") {
            Some(name) => format!("{{{}+}}", name.trim_end_matches('}')),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/");
    format!("{method} {path}")
}

/// The distribution in front, as template.yaml configures it.
///
/// What CloudFront changes about a request on its way to the HTTP API. LocalStack has no
/// CloudFront; this is what its documentation says it does, so the functions can be tested
/// behind it.
#[derive(Clone, Debug)]
pub struct CloudFront {
    /// The `X-Origin-Verify` value the distribution adds (the functions' `ORIGIN_VERIFY_SECRET`).
    pub origin_secret: String,
}

/// The edge server's address, which API Gateway then reports as every viewer's `sourceIp`.
pub const EDGE_ADDRESS: &str = "130.176.98.21";
/// The `Host` the HTTP API sees behind the distribution: its own execute-api domain.
pub const EXECUTE_API_HOST: &str = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";
/// A test's stand-in for the viewer's own address (CloudFront reads it off the connection; every
/// test connection comes from 127.0.0.1). Never forwarded.
pub const TEST_VIEWER_ADDRESS: &str = "x-test-viewer-address";

impl CloudFront {
    /// The headers and source address API Gateway sees for a viewer's request: the viewer's
    /// `Host` replaced by the origin's, the viewer's own `X-Origin-Verify` and `X-Viewer-Address`
    /// overwritten (the distribution and its function set both), the edge as the source.
    fn forward(&self, headers: &HeaderMap, peer: SocketAddr) -> (HeaderMap, String) {
        let viewer = headers
            .get(TEST_VIEWER_ADDRESS)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| peer.ip().to_string(), str::to_owned);
        let mut forwarded = headers.clone();
        for name in [
            "host",
            TEST_VIEWER_ADDRESS,
            writers::http::extract::ORIGIN_VERIFY,
            writers::http::extract::VIEWER_ADDRESS,
        ] {
            forwarded.remove(name);
        }
        let value = |v: &str| v.parse().expect("a header value");
        forwarded.insert(header::HOST, value(EXECUTE_API_HOST));
        forwarded.insert(
            writers::http::extract::ORIGIN_VERIFY,
            value(&self.origin_secret),
        );
        forwarded.insert(writers::http::extract::VIEWER_ADDRESS, value(&viewer));
        (forwarded, EDGE_ADDRESS.to_owned())
    }
}

/// `request` as API Gateway's HTTP API hands it to the function of route `route`.
fn http_api_event(
    request: &axum::http::request::Parts,
    route: &str,
    params: &RawPathParams,
    (headers, source_ip): (&HeaderMap, &str),
    body: &[u8],
) -> Value {
    let mut event = HttpEvent::new(request.method.as_str(), request.uri.path())
        .route_key(route)
        .query(request.uri.query().unwrap_or_default())
        .source_ip(source_ip)
        .body(body);
    for (name, value) in headers {
        event = event.header(name.as_str(), value.to_str().unwrap_or_default());
    }
    for (name, value) in params {
        event = event.path_parameter(name, value);
    }
    event.to_json()
}

/// The function's answer (payload format 2.0) as an HTTP response; a failed invocation is
/// API Gateway's `500 {"message":"Internal Server Error"}`.
fn http_response(answer: Result<Value, InvokeError>) -> Response {
    let Ok(answer) = answer else {
        return Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::from(r#"{"message":"Internal Server Error"}"#))
            .expect("a response");
    };
    let mut response =
        Response::builder().status(answer["statusCode"].as_u64().unwrap_or(500) as u16);
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        response = response.header(name, value.as_str().unwrap_or_default());
    }
    for cookie in answer["cookies"].as_array().into_iter().flatten() {
        response = response.header(header::SET_COOKIE, cookie.as_str().unwrap_or_default());
    }
    let body = answer["body"].as_str().unwrap_or_default();
    let body = if answer["isBase64Encoded"] == true {
        BASE64.decode(body).expect("base64 from the function")
    } else {
        body.as_bytes().to_vec()
    };
    response.body(Body::from(body)).expect("a response")
}

#[derive(Clone)]
struct Gateway {
    functions: Arc<HashMap<Function, RuntimeApi>>,
    cloudfront: Option<CloudFront>,
}

/// Serves every route of the table on its function, as template.yaml's HTTP API does.
pub async fn serve_gateway(functions: HashMap<Function, RuntimeApi>) -> SocketAddr {
    serve(functions, None).await
}

/// The same HTTP API, reached through the CloudFront distribution.
pub async fn serve_behind_cloudfront(
    functions: HashMap<Function, RuntimeApi>,
    cloudfront: CloudFront,
) -> SocketAddr {
    serve(functions, Some(cloudfront)).await
}

async fn serve(
    functions: HashMap<Function, RuntimeApi>,
    cloudfront: Option<CloudFront>,
) -> SocketAddr {
    let gateway = Gateway {
        functions: Arc::new(functions),
        cloudfront,
    };
    let router = routes().into_iter().fold(Router::new(), |router, route| {
        let function = route.function;
        let filter = MethodFilter::try_from(route.method.clone()).expect("a routable method");
        let key = route_key(&route.method, &route.path);
        router.route(
            &route.path,
            on(
                filter,
                move |State(gateway): State<Gateway>,
                      ConnectInfo(peer): ConnectInfo<SocketAddr>,
                      params: RawPathParams,
                      request: Request| {
                    let key = key.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let (headers, source_ip) = match &gateway.cloudfront {
                            Some(cloudfront) => cloudfront.forward(&parts.headers, peer),
                            None => (parts.headers.clone(), peer.ip().to_string()),
                        };
                        let event =
                            http_api_event(&parts, &key, &params, (&headers, &source_ip), &body);
                        http_response(gateway.functions[&function].invoke(event).await)
                    }
                },
            ),
        )
    });
    let app = router
        .fallback(|| async { (StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#) })
        .with_state(gateway)
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// Stands in for CloudFormation's presigned `ResponseURL`: hands each answer to the test.
pub async fn cloudformation_response_url() -> (String, mpsc::Receiver<Value>) {
    let (answers, received) = mpsc::channel(4);
    let app = Router::new().route(
        "/cloudformation/response",
        put(move |headers: HeaderMap, body: Bytes| {
            let answers = answers.clone();
            async move {
                // The real URL is presigned without a content type; one sent would not match it.
                assert!(headers.get(header::CONTENT_TYPE).is_none(), "{headers:?}");
                answers
                    .send(serde_json::from_slice(&body).expect("a JSON answer"))
                    .await
                    .expect("the test listens");
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (
        format!("http://{address}/cloudformation/response"),
        received,
    )
}
