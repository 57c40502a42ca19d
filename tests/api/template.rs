//! The deployment shape: the route table, the OpenAPI document, each function's router and
//! template.yaml describe the same API.

use std::collections::BTreeSet;

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use sqlx::PgPool;
use writers::http::{Function, docs::openapi, routes};

use testkit::{app::send, aws::config};

type Endpoint = (String, String, String); // (function logical id, METHOD, path)

pub(crate) fn template() -> yaml_serde::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .expect("template.yaml is readable");
    yaml_serde::from_str(&text).expect("template.yaml is YAML")
}

/// axum's `{*rest}` is API Gateway's greedy `{rest+}`.
fn gateway_path(axum_path: &str) -> String {
    axum_path
        .split('/')
        .map(|segment| match segment.strip_prefix("{*") {
            Some(name) => format!("{{{}+}}", name.trim_end_matches('}')),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn served() -> BTreeSet<Endpoint> {
    routes()
        .into_iter()
        .map(|r| {
            (
                r.function.logical_id().to_owned(),
                r.method.to_string(),
                gateway_path(&r.path),
            )
        })
        .collect()
}

fn declared(template: &yaml_serde::Value) -> BTreeSet<Endpoint> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut endpoints = BTreeSet::new();
    for (id, resource) in resources {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for event in events.values().filter(|e| e["Type"] == "HttpApi") {
            let properties = &event["Properties"];
            endpoints.insert((
                id.as_str().expect("a logical id").to_owned(),
                properties["Method"]
                    .as_str()
                    .expect("Method")
                    .to_uppercase(),
                properties["Path"].as_str().expect("Path").to_owned(),
            ));
        }
    }
    endpoints
}

#[test]
fn template_declares_exactly_the_routes_we_serve_on_the_right_functions() {
    assert_eq!(declared(&template()), served());
}

#[test]
fn the_openapi_document_describes_exactly_the_documented_routes() {
    let documented: BTreeSet<(String, String)> = routes()
        .into_iter()
        .filter(|r| r.openapi().is_some())
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    let document = serde_json::to_value(openapi()).expect("serialises");
    let mut described = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            described.insert((method.to_uppercase(), path.clone()));
        }
    }
    assert_eq!(described, documented);
    // Only the Swagger UI pages are left out of the document.
    let hidden: Vec<String> = routes()
        .into_iter()
        .filter(|r| r.openapi().is_none())
        .map(|r| r.path)
        .collect();
    assert!(hidden.iter().all(|p| p.starts_with("/docs")), "{hidden:?}");
}

#[test]
fn every_http_function_is_a_crate_built_by_the_template() {
    let template = template();
    for function in Function::ALL {
        let resource = &template["Resources"][function.logical_id()];
        assert_eq!(
            resource["Type"], "AWS::Serverless::Function",
            "{function:?}"
        );
        assert_eq!(
            resource["Metadata"]["BuildProperties"]["Binary"],
            function.binary()
        );
        let manifest = format!(
            "{}/../functions/{}/Cargo.toml",
            env!("CARGO_MANIFEST_DIR"),
            function.binary()
        );
        assert!(std::path::Path::new(&manifest).exists(), "{manifest}");
    }
}

/// A request for `route` with every path parameter filled in.
fn request_for(method: &axum::http::Method, path: &str) -> Request<Body> {
    let concrete = path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "index.html"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    Request::builder()
        .method(method)
        .uri(concrete)
        .body(Body::empty())
        .expect("a valid request")
}

#[sqlx::test]
async fn each_function_serves_its_own_routes_and_no_others(pool: PgPool) {
    let state = writers::AppState::with_pool(config(), pool).await;
    for function in Function::ALL {
        let router = function.router(state.clone());
        for route in routes() {
            let response = send(router.clone(), request_for(&route.method, &route.path)).await;
            let fallback = matches!(
                response.status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ) && matches!(
                response.json()["detail"].as_str(),
                Some("not found" | "method not allowed")
            );
            assert_eq!(
                !fallback,
                route.function == function,
                "{function:?} and {} {}",
                route.method,
                route.path
            );
        }
        let health = send(
            router.clone(),
            request_for(&axum::http::Method::GET, "/health"),
        )
        .await;
        assert_eq!(
            health.status,
            StatusCode::NOT_FOUND,
            "/health is the local server's alone"
        );
    }
}

/// The target of a `!GetAtt Resource.Attribute`.
fn get_att(value: &yaml_serde::Value) -> Option<&str> {
    match value {
        yaml_serde::Value::Tagged(tagged) if tagged.tag == "GetAtt" => tagged.value.as_str(),
        _ => None,
    }
}

/// The SDK and connection budgets (`aws::SDK_OPERATION_TIMEOUT`, `db::ACQUIRE_TIMEOUT`) are sized
/// to fit this timeout; every HTTP function must have exactly it.
#[test]
fn every_http_function_has_the_timeout_the_dependency_budgets_fit() {
    let template = template();
    let global = template["Globals"]["Function"]["Timeout"]
        .as_u64()
        .expect("a global Timeout");
    for function in Function::ALL {
        let own = template["Resources"][function.logical_id()]["Properties"]["Timeout"].as_u64();
        assert_eq!(
            own.unwrap_or(global),
            writers::http::HTTP_FUNCTION_TIMEOUT.as_secs(),
            "{}",
            function.logical_id()
        );
    }
}

#[test]
fn the_file_processor_is_wired_to_the_jobs_queue_as_the_code_expects() {
    let template = template();
    let resources = &template["Resources"];
    let function = &resources["FileProcessorFunction"];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "file-processor"
    );
    assert!(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../functions/file-processor/Cargo.toml"
        ))
        .exists()
    );
    let timeout = function["Properties"]["Timeout"].as_u64().expect("Timeout");
    assert_eq!(
        timeout,
        writers::processor::FUNCTION_TIMEOUT.as_secs(),
        "the code's deadline"
    );

    let trigger = &function["Properties"]["Events"]["Jobs"];
    assert_eq!(trigger["Type"], "SQS");
    assert_eq!(
        get_att(&trigger["Properties"]["Queue"]),
        Some("JobsQueue.Arn")
    );
    assert_eq!(
        trigger["Properties"]["BatchSize"].as_i64(),
        Some(i64::from(writers::processor::poller::BATCH_SIZE)),
        "the local poller's batch size"
    );
    assert_eq!(
        trigger["Properties"]["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );
    let concurrency = trigger["Properties"]["ScalingConfig"]["MaximumConcurrency"]
        .as_u64()
        .expect("a maximum concurrency");
    assert!((2..=1000).contains(&concurrency));

    let queue = &resources["JobsQueue"]["Properties"];
    let visibility = queue["VisibilityTimeout"]
        .as_u64()
        .expect("VisibilityTimeout");
    assert!(
        visibility >= 6 * timeout,
        "visibility {visibility} s < 6 x {timeout} s"
    );
    assert_eq!(
        get_att(&queue["RedrivePolicy"]["deadLetterTargetArn"]),
        Some("JobsDeadLetterQueue.Arn")
    );
    let receives = queue["RedrivePolicy"]["maxReceiveCount"]
        .as_u64()
        .expect("maxReceiveCount");
    // The sweeper gives up on a task by these two figures: its defaults must be the queue's.
    let defaults = testkit::aws::config();
    assert_eq!(
        visibility,
        defaults.job_visibility_timeout.as_secs(),
        "JOB_VISIBILITY_TIMEOUT_SECS"
    );
    assert_eq!(
        receives,
        u64::try_from(defaults.job_max_receives).expect("positive"),
        "JOB_MAX_RECEIVES"
    );
}

#[test]
fn the_sample_sqs_event_is_one_the_processor_reads() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/sqs-file-job.json"
    ))
    .expect("events/sqs-file-job.json");
    let event: writers::processor::SqsEvent = serde_json::from_str(&text).expect("an SQS event");
    let kinds: Vec<_> = event
        .records
        .iter()
        .map(|r| writers::files::message::JobMessage::parse(&r.body))
        .collect();
    assert!(matches!(
        kinds[..],
        [
            writers::files::message::JobMessage::Job(_),
            writers::files::message::JobMessage::TestEvent
        ]
    ));
}

#[test]
fn only_direct_uploads_notify_the_jobs_queue_which_lets_s3_send() {
    let template = template();
    let resources = &template["Resources"];
    let bucket = &resources["UploadsBucket"];
    let notifications = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
        .as_sequence()
        .expect("queue notifications");
    assert_eq!(notifications.len(), 1);
    let notification = &notifications[0];
    assert_eq!(notification["Event"], "s3:ObjectCreated:*");
    assert_eq!(get_att(&notification["Queue"]), Some("JobsQueue.Arn"));
    let rule = &notification["Filter"]["S3Key"]["Rules"][0];
    assert_eq!(rule["Name"], "prefix");
    // `!Sub "${StoragePrefix}/incoming/"`: the keys `tasks::objects::incoming_key` builds.
    let prefix = match &rule["Value"] {
        yaml_serde::Value::Tagged(tagged) if tagged.tag == "Sub" => tagged.value.as_str(),
        _ => None,
    };
    assert_eq!(prefix, Some("${StoragePrefix}/incoming/"));
    assert_eq!(bucket["DependsOn"], "JobsQueuePolicy");

    let policy = &resources["JobsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(policy["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(policy["Action"], "sqs:SendMessage");
    assert_eq!(get_att(&policy["Resource"]), Some("JobsQueue.Arn"));
    // Only this bucket may send: the policy's source ARN is built from the bucket's own name.
    let sub = |value: &yaml_serde::Value| match value {
        yaml_serde::Value::Tagged(tagged) if tagged.tag == "Sub" => {
            tagged.value[0].as_str().map(ToOwned::to_owned)
        }
        _ => None,
    };
    let bucket_name = sub(&bucket["Properties"]["BucketName"]).expect("a deterministic name");
    let source_arn = sub(&policy["Condition"]["ArnEquals"]["aws:SourceArn"]).expect("a source ARN");
    assert_eq!(
        source_arn,
        format!("arn:${{AWS::Partition}}:s3:::{bucket_name}")
    );
}

#[test]
fn the_bucket_refuses_plain_http_and_aborts_abandoned_multipart_uploads() {
    let template = template();
    let resources = &template["Resources"];
    let statement =
        &resources["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], "s3:*");
    assert_eq!(
        statement["Condition"]["Bool"]["aws:SecureTransport"],
        yaml_serde::Value::Bool(false)
    );
    let rule = &resources["UploadsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(rule["Status"], "Enabled");
    assert_eq!(
        rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"].as_u64(),
        Some(1)
    );
}

#[test]
fn cargo_lambda_watch_routes_exactly_the_route_table() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let router = metadata["metadata"]["lambda"]["watch"]["router"]
        .as_object()
        .expect("[workspace.metadata.lambda.watch.router] in Cargo.toml");
    let mut watched = BTreeSet::new();
    for (path, methods) in router {
        for route in methods.as_array().expect("a list of {method, function}") {
            watched.insert((
                route["function"].as_str().expect("a function").to_owned(),
                route["method"].as_str().expect("a method").to_owned(),
                path.clone(),
            ));
        }
    }
    // cargo lambda's router (matchit) and axum share the `{param}` / `{*rest}` syntax.
    let table: BTreeSet<_> = routes()
        .into_iter()
        .map(|r| (r.function.binary().to_owned(), r.method.to_string(), r.path))
        .collect();
    assert_eq!(watched, table);
}

#[test]
fn migrations_run_on_each_deploy_before_the_code_that_needs_them() {
    let template = template();
    let resources = &template["Resources"];
    let migrations = &resources["Migrations"];
    assert_eq!(migrations["Type"], "Custom::Migrations");
    assert_eq!(
        get_att(&migrations["Properties"]["ServiceToken"]),
        Some("MigrateFunction.Arn")
    );
    // A new migrate binary (new migrations inside) is a new version: the resource updates.
    assert_eq!(
        resources["MigrateFunction"]["Properties"]["AutoPublishAlias"],
        "live"
    );
    let version = match &migrations["Properties"]["MigrateVersion"] {
        yaml_serde::Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    };
    assert_eq!(version, Some("MigrateFunction.Version"));
    let database_functions = Function::ALL
        .into_iter()
        .filter(|f| f.uses_database())
        .map(Function::logical_id)
        .chain(["FileProcessorFunction", "SweeperFunction"]);
    for id in database_functions {
        assert_eq!(resources[id]["DependsOn"], "Migrations", "{id}");
    }
}

#[test]
fn functions_read_their_secrets_at_run_time_and_log_for_a_bounded_time() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    let variables = globals["Environment"]["Variables"]
        .as_mapping()
        .expect("variables");
    let names: BTreeSet<&str> = variables.keys().filter_map(|k| k.as_str()).collect();
    for needed in [
        "DATABASE_SECRET_ARN",
        "JWT_SECRET_ARN",
        "STORAGE_ROOT",
        "QUEUE_URL",
    ] {
        assert!(names.contains(needed), "{needed}");
    }
    // Never a secret's value in the functions' configuration.
    for value in ["DATABASE_URL", "JWT_SECRET"] {
        assert!(!names.contains(value), "{value}");
    }
    let resources = template["Resources"].as_mapping().expect("Resources");
    for (id, resource) in resources {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let group = match &resource["Properties"]["LoggingConfig"]["LogGroup"] {
            yaml_serde::Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
            _ => None,
        }
        .unwrap_or_else(|| panic!("{id:?} logs to a group of its own"));
        let retention = match &template["Resources"][group]["Properties"]["RetentionInDays"] {
            yaml_serde::Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
            _ => None,
        };
        assert_eq!(retention, Some("LogRetentionDays"), "{group}");
        assert_eq!(template["Resources"][group]["Type"], "AWS::Logs::LogGroup");
    }
}

#[test]
fn cors_is_for_the_configured_origins_with_credentials() {
    let template = template();
    let cors = match &template["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"] {
        yaml_serde::Value::Tagged(tagged) if tagged.tag == "If" => tagged.value[1].clone(),
        other => panic!("CORS only when origins are configured: {other:?}"),
    };
    assert_eq!(cors["AllowCredentials"], yaml_serde::Value::Bool(true));
    let origins = match &cors["AllowOrigins"] {
        yaml_serde::Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    };
    assert_eq!(origins, Some("AllowedOrigins"));
}

#[test]
fn the_sweeper_alarms_read_the_metrics_the_sweeper_prints() {
    let template = template();
    let line: serde_json::Value = serde_json::from_str(
        &writers::sweeper::SweepReport::default().metrics_line("sweeper", chrono::Utc::now()),
    )
    .expect("JSON");
    for name in ["UnsentJobsAlarm", "ResetEmailsAlarm"] {
        let alarm = &template["Resources"][name]["Properties"];
        assert_eq!(
            alarm["Namespace"],
            writers::sweeper::METRICS_NAMESPACE,
            "{name}"
        );
        let metric = alarm["MetricName"].as_str().expect("a metric");
        assert!(line[metric].is_number(), "the sweeper prints {metric}");
        assert_eq!(alarm["Dimensions"][0]["Name"], "FunctionName", "{name}");
    }
    for alarm in [
        "DeadLetterAlarm",
        "FunctionErrorsAlarm",
        "FunctionThrottlesAlarm",
        "ApiServerErrorsAlarm",
        "ApiDurationAlarm",
        "BackgroundDurationAlarm",
    ] {
        assert_eq!(
            template["Resources"][alarm]["Type"], "AWS::CloudWatch::Alarm",
            "{alarm}"
        );
    }
}

/// The value under `!<tag>` (`!Sub "…"`, `!Ref Name`), if `value` carries that tag.
fn tagged<'a>(value: &'a yaml_serde::Value, tag: &str) -> Option<&'a yaml_serde::Value> {
    match value {
        yaml_serde::Value::Tagged(tagged) if tagged.tag == tag => Some(&tagged.value),
        _ => None,
    }
}

fn distribution_config(template: &yaml_serde::Value) -> &yaml_serde::Value {
    &template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
}

/// The default behaviour, then every ordered one.
fn behaviours(config: &yaml_serde::Value) -> Vec<&yaml_serde::Value> {
    std::iter::once(&config["DefaultCacheBehavior"])
        .chain(
            config["CacheBehaviors"]
                .as_sequence()
                .expect("ordered behaviours"),
        )
        .collect()
}

#[test]
fn the_distribution_sends_exactly_the_apis_paths_to_the_api_uncached() {
    let template = template();
    let config = distribution_config(&template);
    // The paths the API owns, but local-api's own /health: a tree (`/api/`, `/docs`) as its
    // prefix and `*`, a file (`/openapi.json`) as itself.
    let owned: BTreeSet<String> = writers::http::site::API_PREFIXES
        .into_iter()
        .filter(|prefix| *prefix != "/health")
        .map(|prefix| {
            let file = prefix
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains('.'));
            if file {
                prefix.to_owned()
            } else {
                format!("{prefix}*")
            }
        })
        .collect();
    let ordered = config["CacheBehaviors"]
        .as_sequence()
        .expect("ordered behaviours");
    let patterns: BTreeSet<String> = ordered
        .iter()
        .map(|b| b["PathPattern"].as_str().expect("PathPattern").to_owned())
        .collect();
    assert_eq!(patterns, owned);
    assert_eq!(patterns.len(), ordered.len(), "one behaviour per path");

    // Each goes to the HTTP API, never cached, with every method and every viewer header but Host.
    let origins = config["Origins"].as_sequence().expect("origins");
    let api = origins
        .iter()
        .find(|o| o["Id"] == "api")
        .expect("an origin with the Id api");
    assert_eq!(
        tagged(&api["DomainName"], "Sub").and_then(yaml_serde::Value::as_str),
        Some("${HttpApi}.execute-api.${AWS::Region}.amazonaws.com")
    );
    assert_eq!(
        api["CustomOriginConfig"]["OriginProtocolPolicy"],
        "https-only"
    );
    for behaviour in ordered {
        let path = behaviour["PathPattern"].as_str().expect("PathPattern");
        assert_eq!(behaviour["TargetOriginId"], "api", "{path}");
        // Managed policies: CachingDisabled, AllViewerExceptHostHeader.
        assert_eq!(
            behaviour["CachePolicyId"], "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
            "{path}"
        );
        assert_eq!(
            behaviour["OriginRequestPolicyId"], "b689b0a8-53d0-40ab-baf2-68738e2966ac",
            "{path}"
        );
        let methods: BTreeSet<&str> = behaviour["AllowedMethods"]
            .as_sequence()
            .expect("AllowedMethods")
            .iter()
            .filter_map(yaml_serde::Value::as_str)
            .collect();
        assert_eq!(
            methods,
            BTreeSet::from(["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]),
            "{path}"
        );
    }
    assert_eq!(config["DefaultCacheBehavior"]["TargetOriginId"], "site");
}

#[test]
fn every_behaviour_sends_the_security_headers_of_writers_http_site() {
    let template = template();
    let headers_policy = &template["Resources"]["SiteHeadersPolicy"]["Properties"];
    let security = &headers_policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    // The policy's `!Sub`, whose placeholder CloudFormation fills with the uploads bucket's
    // regional domain: the origin presigned PUTs go to.
    let policy = tagged(
        &security["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "Sub",
    )
    .and_then(yaml_serde::Value::as_str)
    .expect("a !Sub Content-Security-Policy");
    assert_eq!(
        policy,
        writers::http::site::content_security_policy("https://${UploadsBucket.RegionalDomainName}")
    );
    let hsts = &security["StrictTransportSecurity"];
    assert_eq!(hsts["IncludeSubdomains"], yaml_serde::Value::Bool(true));
    assert_eq!(
        format!(
            "max-age={}; includeSubDomains",
            hsts["AccessControlMaxAgeSec"].as_u64().expect("a max age")
        ),
        writers::http::site::STRICT_TRANSPORT_SECURITY
    );
    assert_eq!(security["ReferrerPolicy"]["ReferrerPolicy"], "no-referrer");
    assert_eq!(security["FrameOptions"]["FrameOption"], "DENY");
    for header in [
        "ContentSecurityPolicy",
        "StrictTransportSecurity",
        "ContentTypeOptions",
        "ReferrerPolicy",
        "FrameOptions",
    ] {
        assert_eq!(
            security[header]["Override"],
            yaml_serde::Value::Bool(true),
            "{header}"
        );
    }
    // Swagger UI's pages have their own policy, with the same other headers.
    let docs = &template["Resources"]["DocsHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"];
    assert_eq!(
        docs["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        writers::http::site::DOCS_CONTENT_SECURITY_POLICY
    );
    for header in [
        "StrictTransportSecurity",
        "ContentTypeOptions",
        "ReferrerPolicy",
        "FrameOptions",
    ] {
        assert_eq!(docs[header], security[header], "{header}");
    }
    // The app's responses and the API's alike; /docs* with the docs' policy.
    for behaviour in behaviours(distribution_config(&template)) {
        let expected = if behaviour["PathPattern"] == "/docs*" {
            "DocsHeadersPolicy"
        } else {
            "SiteHeadersPolicy"
        };
        assert_eq!(
            tagged(&behaviour["ResponseHeadersPolicyId"], "Ref")
                .and_then(yaml_serde::Value::as_str),
            Some(expected),
            "{:?}",
            behaviour["PathPattern"]
        );
    }
}

#[test]
fn only_the_apps_own_routes_fall_back_to_index_html() {
    let template = template();
    let config = distribution_config(&template);
    // Error responses are the whole distribution's: they would turn the API's JSON 403 and 404
    // into the page.
    assert_eq!(config["CustomErrorResponses"], yaml_serde::Value::Null);
    let associations = &config["DefaultCacheBehavior"]["FunctionAssociations"];
    assert_eq!(associations.as_sequence().map(Vec::len), Some(1));
    assert_eq!(associations[0]["EventType"], "viewer-request");
    assert_eq!(
        get_att(&associations[0]["FunctionARN"]),
        Some("SpaFallbackFunction.FunctionARN")
    );
    let function = &template["Resources"]["SpaFallbackFunction"]["Properties"];
    assert_eq!(function["FunctionConfig"]["Runtime"], "cloudfront-js-2.0");
    assert!(
        function["FunctionCode"]
            .as_str()
            .expect("inline code")
            .contains("request.uri = '/index.html'")
    );
    // The API's behaviours have the viewer-address function alone.
    for behaviour in config["CacheBehaviors"]
        .as_sequence()
        .expect("ordered behaviours")
    {
        let functions: Vec<Option<&str>> = behaviour["FunctionAssociations"]
            .as_sequence()
            .expect("function associations")
            .iter()
            .map(|association| get_att(&association["FunctionARN"]))
            .collect();
        assert_eq!(
            functions,
            [Some("ApiViewerAddressFunction.FunctionARN")],
            "{:?}",
            behaviour["PathPattern"]
        );
    }
}

/// The functions believe a viewer's address only beside the distribution's secret header.
#[test]
fn the_api_trusts_the_viewer_address_only_with_the_distributions_secret() {
    let template = template();
    let config = distribution_config(&template);
    let api = config["Origins"]
        .as_sequence()
        .expect("origins")
        .iter()
        .find(|o| o["Id"] == "api")
        .expect("an origin with the Id api");
    let header = &api["OriginCustomHeaders"][0];
    assert!(
        header["HeaderName"]
            .as_str()
            .expect("a header name")
            .eq_ignore_ascii_case(writers::http::extract::ORIGIN_VERIFY)
    );
    // One dynamic reference to one generated secret, in the header and in the functions' variable.
    let sent = tagged(&header["HeaderValue"], "Sub").and_then(yaml_serde::Value::as_str);
    let expected = tagged(
        &template["Globals"]["Function"]["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET"],
        "Sub",
    )
    .and_then(yaml_serde::Value::as_str);
    assert_eq!(
        sent,
        Some("{{resolve:secretsmanager:${OriginVerifySecret}:SecretString}}")
    );
    assert_eq!(sent, expected);
    assert_eq!(
        template["Resources"]["OriginVerifySecret"]["Type"],
        "AWS::SecretsManager::Secret"
    );
    // The function replaces whatever address a viewer sent with the one CloudFront saw.
    let code = template["Resources"]["ApiViewerAddressFunction"]["Properties"]["FunctionCode"]
        .as_str()
        .expect("inline code");
    let set = format!(
        "request.headers['{}'] = {{ value: event.viewer.ip }}",
        writers::http::extract::VIEWER_ADDRESS
    );
    assert!(code.contains(&set), "{code}");
}
