//! The CloudFormation custom-resource protocol: the event the stack sends, and the answer the
//! function `PUT`s to the event's presigned `ResponseURL`.

use anyhow::Context;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde::{Deserialize, Serialize};

/// The resource's one physical ID: the schema of this stack's database.
const PHYSICAL_ID: &str = "writers-database-schema";

/// CloudFormation's answer body is limited to 4 KiB; the reason is cut well below that.
const REASON_LIMIT: usize = 1_000;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// The fields of a custom-resource request that the answer needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceEvent {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Answer<'a> {
    status: &'static str,
    reason: String,
    physical_resource_id: &'static str,
    stack_id: &'a str,
    request_id: &'a str,
    logical_resource_id: &'a str,
    data: serde_json::Value,
}

impl CustomResourceEvent {
    /// Tells CloudFormation how it went: `Ok(migrations known)` or the failure, which fails the
    /// deploy (and rolls it back) with the failure's message as the reason.
    ///
    /// # Errors
    /// When the answer cannot be delivered.
    pub async fn respond(&self, outcome: anyhow::Result<usize>) -> anyhow::Result<()> {
        let (status, reason, data) = match outcome {
            Ok(migrations) => (
                "SUCCESS",
                format!("{migrations} migrations known, all applied"),
                serde_json::json!({ "Migrations": migrations }),
            ),
            Err(e) => {
                let mut reason = format!("{e:#}");
                if reason.len() > REASON_LIMIT {
                    let mut cut = REASON_LIMIT;
                    while !reason.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    reason.truncate(cut);
                }
                ("FAILED", reason, serde_json::json!({}))
            }
        };
        let body = serde_json::to_vec(&Answer {
            status,
            reason,
            physical_resource_id: PHYSICAL_ID,
            stack_id: &self.stack_id,
            request_id: &self.request_id,
            logical_resource_id: &self.logical_resource_id,
            data,
        })?;
        // The URL is presigned without a content type: sending one would break its signature.
        let request = hyper::Request::put(&self.response_url)
            .header("content-length", body.len())
            .body(Full::new(Bytes::from(body)))
            .context("the ResponseURL is not a valid URL")?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("loading the system's CA certificates")?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        let response = client
            .request(request)
            .await
            .context("sending the answer to CloudFormation")?;
        anyhow::ensure!(
            response.status().is_success(),
            "CloudFormation's ResponseURL answered {}",
            response.status()
        );
        tracing::info!(status, "answered CloudFormation");
        Ok(())
    }
}
