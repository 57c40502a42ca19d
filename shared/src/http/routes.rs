//! Every HTTP route, and the Lambda function that serves it: the single source.
//!
//! The local server, each function's router, the OpenAPI document (`http::docs`) and
//! `template.yaml` all derive from [`routes`] or are tested against it (`tests/api/template.rs`).
//! A documented route's method and path come from its handler's `#[utoipa::path]`, so the
//! routing and the API document cannot disagree.

use axum::{
    Router,
    body::Body,
    extract::DefaultBodyLimit,
    extract::State,
    handler::Handler,
    http::{HeaderName, HeaderValue, Method, Request, Uri, header},
    middleware::{Next, from_fn, from_fn_with_state},
    response::{IntoResponse, Response},
    routing::{MethodFilter, MethodRouter, get},
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;
use utoipa::openapi::{
    RefOr,
    path::{PathItem, Paths},
    schema::Schema,
};
use utoipa_axum::{router::UtoipaMethodRouter, routes as documented};

use crate::{
    AppState, admin, health,
    http::{
        csrf, docs,
        site::{self, Site},
    },
    tasks, users,
};

/// The largest request body any JSON or form endpoint reads; bigger bodies get `413`.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A deployable HTTP Lambda: one crate under `functions/`, one `AWS::Serverless::Function`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    Auth,
    CreateTask,
    ListTasks,
    GetTask,
    UpdateTask,
    Admin,
    ApiDocs,
}

impl Function {
    /// Every HTTP function, for tests that walk the function map.
    pub const ALL: [Self; 7] = [
        Self::Auth,
        Self::CreateTask,
        Self::ListTasks,
        Self::GetTask,
        Self::UpdateTask,
        Self::Admin,
        Self::ApiDocs,
    ];

    /// The router this function's Lambda binary serves: only its own routes. The binaries call
    /// [`function_router`] with their slice instead, which links nothing else.
    pub fn router(self, state: AppState) -> Router {
        function_router(self.slice(), state)
    }

    /// This function's routes.
    pub fn routes(self) -> Vec<Route> {
        self.slice()()
    }

    fn slice(self) -> fn() -> Vec<Route> {
        match self {
            Self::Auth => auth,
            Self::CreateTask => create_task,
            Self::ListTasks => list_tasks,
            Self::GetTask => get_task,
            Self::UpdateTask => update_task,
            Self::Admin => admin,
            Self::ApiDocs => api_docs,
        }
    }

    /// The function's logical ID in `template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            Self::Auth => "AuthFunction",
            Self::CreateTask => "CreateTaskFunction",
            Self::ListTasks => "ListTasksFunction",
            Self::GetTask => "GetTaskFunction",
            Self::UpdateTask => "UpdateTaskFunction",
            Self::Admin => "AdminFunction",
            Self::ApiDocs => "ApiDocsFunction",
        }
    }

    /// Whether its routes read the database (every function but the API docs).
    pub fn uses_database(self) -> bool {
        self != Self::ApiDocs
    }

    /// The package (and binary) under `functions/`.
    pub fn binary(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::CreateTask => "tasks-create",
            Self::ListTasks => "tasks-list",
            Self::GetTask => "tasks-get",
            Self::UpdateTask => "tasks-update",
            Self::Admin => "admin",
            Self::ApiDocs => "api-docs",
        }
    }
}

/// A documented route's slice of the OpenAPI document: its path item and the schemas it uses.
pub type OpenApiFragment = (Paths, Vec<(String, RefOr<Schema>)>);

/// One method on one path, the function that serves it, and its OpenAPI description if any.
pub struct Route {
    pub function: Function,
    pub method: Method,
    /// In axum's syntax: `{task_id}` for a segment, `{*path}` for the rest of the path.
    pub path: String,
    endpoint: MethodRouter<AppState>,
    openapi: Option<OpenApiFragment>,
    /// Reads a file upload: the body may be `MAX_UPLOAD_BYTES` plus room for the form.
    uploads: bool,
}

/// The table: every function's slice, in order. Documented routes take their method and path
/// from `#[utoipa::path]`.
pub fn routes() -> Vec<Route> {
    Function::ALL
        .into_iter()
        .flat_map(Function::routes)
        .collect()
}

/// `POST /auth/*`, `/auth/me`, `/auth/sessions*`, `/auth/password*`: the `auth` function.
pub fn auth() -> Vec<Route> {
    use Function::Auth;
    vec![
        Route::documented(Auth, documented!(users::http::register)),
        Route::documented(Auth, documented!(users::http::log_in)),
        Route::documented(Auth, documented!(users::http::token)),
        Route::documented(Auth, documented!(users::http::refresh)),
        Route::documented(Auth, documented!(users::http::log_out)),
        Route::documented(Auth, documented!(users::http::me)),
        Route::documented(Auth, documented!(users::http::update_me)),
        Route::documented(Auth, documented!(users::http::delete_me)),
        Route::documented(Auth, documented!(users::http::change_password)),
        Route::documented(Auth, documented!(users::http::list_sessions)),
        Route::documented(Auth, documented!(users::http::end_other_sessions)),
        Route::documented(Auth, documented!(users::http::end_session)),
        Route::documented(Auth, documented!(users::http::request_password_reset)),
        Route::documented(Auth, documented!(users::http::confirm_password_reset)),
    ]
}

/// Creating tasks and drafts: the `tasks-create` function.
pub fn create_task() -> Vec<Route> {
    use Function::CreateTask;
    vec![
        Route::documented(CreateTask, documented!(tasks::http::create)).accepting_uploads(),
        Route::documented(CreateTask, documented!(tasks::http::create_upload)),
        Route::documented(CreateTask, documented!(tasks::http::create_draft)).accepting_uploads(),
        Route::documented(CreateTask, documented!(tasks::http::create_draft_upload)),
    ]
}

/// `GET /api/v1/tasks`: the `tasks-list` function.
pub fn list_tasks() -> Vec<Route> {
    vec![Route::documented(
        Function::ListTasks,
        documented!(tasks::http::list),
    )]
}

/// Reading one task, its drafts, files and results: the `tasks-get` function.
pub fn get_task() -> Vec<Route> {
    use Function::GetTask;
    vec![
        Route::documented(GetTask, documented!(tasks::http::get)),
        Route::documented(GetTask, documented!(tasks::http::download)),
        Route::documented(GetTask, documented!(tasks::http::result)),
        Route::documented(GetTask, documented!(tasks::http::list_drafts)),
        Route::documented(GetTask, documented!(tasks::http::download_draft)),
        Route::documented(GetTask, documented!(tasks::http::draft_result)),
    ]
}

/// Editing, trashing, restoring and purging: the `tasks-update` function.
pub fn update_task() -> Vec<Route> {
    use Function::UpdateTask;
    vec![
        Route::documented(UpdateTask, documented!(tasks::http::update)),
        Route::documented(UpdateTask, documented!(tasks::http::delete)),
        Route::documented(UpdateTask, documented!(tasks::http::restore)),
        Route::documented(UpdateTask, documented!(tasks::http::delete_draft)),
    ]
}

/// The administrators' routes: the `admin` function.
pub fn admin() -> Vec<Route> {
    use Function::Admin;
    vec![
        Route::documented(Admin, documented!(admin::http::list_users)),
        Route::documented(Admin, documented!(admin::http::update_user)),
        Route::documented(Admin, documented!(admin::http::audit)),
    ]
}

/// The API's document and Swagger UI: the `api-docs` function.
pub fn api_docs() -> Vec<Route> {
    use Function::ApiDocs;
    vec![
        Route::documented(ApiDocs, documented!(docs::openapi_json)),
        // Swagger UI's HTML and assets: pages for people, not operations of the API.
        Route::hidden(ApiDocs, Method::GET, "/docs", docs::index),
        Route::hidden(ApiDocs, Method::GET, "/docs/{*path}", docs::asset),
    ]
}

/// The router one Lambda binary serves, from its own slice alone.
///
/// `slice` is one of the functions above, named in the binary's `main`, so the binary links that
/// slice's handlers and what they call, and no other route's (a `match` on [`Function`] would
/// link them all).
pub fn function_router(slice: fn() -> Vec<Route>, state: AppState) -> Router {
    let routes = slice();
    assert!(
        routes.windows(2).all(|w| w[0].function == w[1].function),
        "a function's slice holds another function's route"
    );
    build(routes, state)
}

/// The whole deployed API: what each function's slice is cut from.
pub fn app(state: AppState) -> Router {
    build(routes(), state)
}

/// The whole API plus `GET /health`: what the integration tests serve. With the headers the
/// CloudFront distribution adds (see [`site`]), but no web app: an unknown path is the API's `404`.
pub fn local_app(state: AppState) -> Router {
    local_app_serving(state, None)
}

/// What `local-api` serves: the API, `GET /health`, and the built web app for every other path
/// (client routes fall back to its `index.html`), under the distribution's security headers.
pub fn local_app_serving(state: AppState, web_app: Option<Site>) -> Router {
    let policy =
        HeaderValue::from_str(&site::content_security_policy(&state.config.uploads_origin))
            .expect("the policy is a valid header value");
    let docs_policy = HeaderValue::from_static(site::DOCS_CONTENT_SECURITY_POLICY);
    let router = table(routes(), &state)
        .route("/health", get(health::handler))
        .fallback(move |method: Method, uri: Uri| async move {
            match &web_app {
                Some(web_app) => match web_app.serve(&method, &uri).await {
                    Some(page) => page,
                    None => crate::http::error::not_found().await,
                },
                None => crate::http::error::not_found().await,
            }
        });
    finish(router, state).layer(from_fn(move |request: Request<Body>, next: Next| {
        // As the distribution's behaviours do: Swagger UI's pages have a policy of their own.
        let policy = if request.uri().path().starts_with("/docs") {
            docs_policy.clone()
        } else {
            policy.clone()
        };
        async move {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_SECURITY_POLICY, policy);
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(site::STRICT_TRANSPORT_SECURITY),
            );
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            response
        }
    }))
}

impl Route {
    /// A route described by its handler's `#[utoipa::path]` (one method per handler).
    fn documented(
        function: Function,
        (schemas, paths, endpoint): UtoipaMethodRouter<AppState>,
    ) -> Self {
        let (path, item) = paths
            .paths
            .iter()
            .next()
            .expect("#[utoipa::path] names a path");
        let method = only_method(item);
        Self {
            function,
            method,
            path: path.clone(),
            endpoint,
            openapi: Some((paths, schemas)),
            uploads: false,
        }
    }

    /// A route that the OpenAPI document leaves out (the docs pages themselves).
    fn hidden<H, T>(function: Function, method: Method, path: &str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
        Self {
            function,
            method,
            path: path.to_owned(),
            endpoint: axum::routing::on(filter, handler),
            openapi: None,
            uploads: false,
        }
    }

    fn accepting_uploads(mut self) -> Self {
        self.uploads = true;
        self
    }

    /// This route's entry in the OpenAPI document, if it is documented.
    pub fn openapi(&self) -> Option<&OpenApiFragment> {
        self.openapi.as_ref()
    }
}

fn only_method(item: &PathItem) -> Method {
    let methods = [
        (&item.get, Method::GET),
        (&item.post, Method::POST),
        (&item.put, Method::PUT),
        (&item.patch, Method::PATCH),
        (&item.delete, Method::DELETE),
    ];
    let mut present = methods.into_iter().filter(|(op, _)| op.is_some());
    let (_, method) = present.next().expect("#[utoipa::path] names a method");
    assert!(
        present.next().is_none(),
        "one method per documented handler"
    );
    method
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn build(routes: impl IntoIterator<Item = Route>, state: AppState) -> Router {
    let router = table(routes, &state).fallback(crate::http::error::not_found);
    finish(router, state)
}

fn table(routes: impl IntoIterator<Item = Route>, state: &AppState) -> Router<AppState> {
    let upload_limit = state.config.max_upload_bytes + tasks::http::FORM_ALLOWANCE_BYTES;
    routes.into_iter().fold(Router::new(), |router, r| {
        // The route's own limit replaces the small default that every other body gets.
        let mut endpoint = if r.uploads {
            r.endpoint.layer(DefaultBodyLimit::max(upload_limit))
        } else {
            r.endpoint
        };
        if r.function.uses_database() {
            endpoint = endpoint.layer(from_fn_with_state(state.clone(), database_ready));
        }
        router.route(&r.path, endpoint)
    })
}

/// Reads the database credentials before a route that needs them runs (a no-op with
/// `DATABASE_URL`), once a cold start's warm-up has done what it could.
async fn database_ready(
    State(state): State<AppState>,
    request: Request<Body>,
    next: Next,
) -> Response {
    state.warmed().await;
    match state.database_ready().await {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// `X-Content-Type-Options: nosniff` on every response, so a browser never reads a JSON body
/// or a download as something else; `Referrer-Policy: no-referrer`, so no URL of the app (a
/// reset link's included) travels to another site in a `Referer`; `Cache-Control: no-store` on every response that has not set
/// its own, since all but the docs pages carry a user's data or tokens (a shared cache or the
/// browser's back button must not replay them).
async fn security_headers(request: Request<Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The layers and fallbacks every router gets, whether it serves one function or all.
fn finish(router: Router<AppState>, state: AppState) -> Router {
    router
        .method_not_allowed_fallback(crate::http::error::method_not_allowed)
        .layer(from_fn_with_state(state.clone(), csrf::guard))
        .layer(from_fn(security_headers))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        // Outermost first: give each request an id, log it in the span, echo it to the client.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO)))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}
