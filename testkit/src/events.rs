//! The events AWS hands the functions: SQS batches, S3 notifications, `EventBridge` schedules,
//! CloudFormation custom-resource requests and API Gateway HTTP requests (payload format 2.0).

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde_json::{Map, Value, json};
use uuid::Uuid;
use writers::processor::{SqsEvent, SqsMessage};

/// One SQS message with `body`, as the event source hands it over.
pub fn message(id: &str, body: impl Into<String>) -> SqsMessage {
    SqsMessage {
        message_id: id.to_owned(),
        body: body.into(),
        ..SqsMessage::default()
    }
}

/// A batch of `messages`, as the event source invokes the processor with it.
pub fn batch(messages: impl IntoIterator<Item = SqsMessage>) -> SqsEvent {
    SqsEvent {
        records: messages.into_iter().collect(),
    }
}

/// The body S3 sends the jobs queue when `key` (already form-encoded, as S3 sends it) is created in
/// `bucket`.
pub fn object_created(bucket: &str, key: &str, size: u64) -> String {
    json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}}}]})
        .to_string()
}

/// `EventBridge`'s scheduled event, as the sweeper's rule sends it every minute.
pub fn schedule() -> Value {
    json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

/// CloudFormation's request to the `Migrations` custom resource; the answer goes to `response_url`.
pub fn cloudformation(request_type: &str, response_url: &str) -> Value {
    json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:000000000000:function:writers-migrate",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/writers/1",
        "RequestId": Uuid::new_v4().to_string(),
        "ResourceType": "Custom::Migrations",
        "LogicalResourceId": "Migrations",
        "ResourceProperties": {"MigrateVersion": "1"},
    })
}

/// An HTTP request as API Gateway's HTTP API hands it to a function (payload format 2.0).
#[derive(Clone, Debug)]
pub struct HttpEvent {
    method: String,
    route_key: String,
    path: String,
    query: String,
    headers: Map<String, Value>,
    cookies: Vec<String>,
    path_parameters: Map<String, Value>,
    source_ip: String,
    body: Vec<u8>,
}

impl HttpEvent {
    /// `method` on `path`, matched by a route of the same path, from 127.0.0.1.
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            route_key: format!("{method} {path}"),
            path: path.to_owned(),
            query: String::new(),
            headers: Map::new(),
            cookies: Vec::new(),
            path_parameters: Map::new(),
            source_ip: "127.0.0.1".to_owned(),
            body: Vec::new(),
        }
    }

    /// The route that matched, as API Gateway writes it (`GET /api/v1/tasks/{task_id}`).
    #[must_use]
    pub fn route_key(mut self, key: &str) -> Self {
        key.clone_into(&mut self.route_key);
        self
    }

    #[must_use]
    pub fn query(mut self, query: &str) -> Self {
        query.clone_into(&mut self.query);
        self
    }

    /// A header; a repeated one arrives comma-joined, and cookies arrive in their own list.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            self.cookies
                .extend(value.split(';').map(|c| c.trim().to_owned()));
            return self;
        }
        self.headers
            .entry(name)
            .and_modify(|v| *v = json!(format!("{},{value}", v.as_str().unwrap_or_default())))
            .or_insert_with(|| json!(value));
        self
    }

    #[must_use]
    pub fn path_parameter(mut self, name: &str, value: &str) -> Self {
        self.path_parameters.insert(name.to_owned(), json!(value));
        self
    }

    #[must_use]
    pub fn source_ip(mut self, ip: &str) -> Self {
        ip.clone_into(&mut self.source_ip);
        self
    }

    #[must_use]
    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    /// The event as JSON.
    pub fn to_json(&self) -> Value {
        let header = |name: &str| {
            self.headers
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let host = Some(header("host"))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let now = chrono::Utc::now();
        json!({
            "version": "2.0",
            "routeKey": self.route_key,
            "rawPath": self.path,
            "rawQueryString": self.query,
            "cookies": self.cookies,
            "headers": self.headers,
            "pathParameters": self.path_parameters,
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "local",
                "domainName": host,
                "domainPrefix": "local",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": header("user-agent"),
                },
                "requestId": Uuid::new_v4().to_string(),
                "routeKey": self.route_key,
                "stage": "$default",
                "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
                "timeEpoch": now.timestamp_millis(),
            },
            "body": BASE64.encode(&self.body),
            "isBase64Encoded": true,
        })
    }
}
