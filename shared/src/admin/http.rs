//! HTTP adapters for administrators: each checks the caller is one, then calls one operation.

use axum::{
    Json,
    extract::{Path, State},
};

use crate::{
    AppState, Error, ValidationErrors,
    admin::{
        self, AdminUserPage, AdminUserPatch, AdminUserView, AuditPage, AuditParams, UsersParams,
    },
    http::{
        error::ErrorBody,
        extract::{ApiJson, ApiQuery, CurrentUser},
    },
};

/// Every account, newest first, with what each stores (never their tasks).
#[utoipa::path(
    get,
    path = "/admin/users",
    operation_id = "admin_list_users",
    tag = "admin",
    params(UsersParams),
    responses(
        (status = 200, description = "A page of accounts", body = AdminUserPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 422, description = "A parameter is out of range", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiQuery(params): ApiQuery<UsersParams>,
) -> Result<Json<AdminUserPage>, Error> {
    admin::require(&current.user)?;
    Ok(Json(admin::list_users(&state, &params.parse()?).await?))
}

/// Activates, deactivates, promotes or demotes an account; recorded in the audit.
#[utoipa::path(
    patch,
    path = "/admin/users/{user_id}",
    operation_id = "admin_update_user",
    tag = "admin",
    params(("user_id" = uuid::Uuid, Path, description = "The account's id")),
    request_body = AdminUserPatch,
    responses(
        (status = 200, description = "The account as changed", body = AdminUserView),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "It would leave no active administrator", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A member is invalid or unknown", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn update_user(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(user_id): Path<String>,
    ApiJson(patch): ApiJson<AdminUserPatch>,
) -> Result<Json<AdminUserView>, Error> {
    admin::require(&current.user)?;
    let user_id = user_id.parse().map_err(|_| {
        ValidationErrors::at(&["path", "user_id"], "must be a UUID", "uuid_parsing")
    })?;
    Ok(Json(
        admin::update_user(&state, current.user.id, user_id, &patch).await?,
    ))
}

/// What administrators did, newest first.
#[utoipa::path(
    get,
    path = "/admin/audit",
    operation_id = "admin_audit",
    tag = "admin",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of the audit", body = AuditPage),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 422, description = "A parameter is out of range", body = ErrorBody),
    ),
    security(("OAuth2PasswordBearer" = []), ("accessCookie" = []))
)]
pub async fn audit(
    State(state): State<AppState>,
    current: CurrentUser,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, Error> {
    admin::require(&current.user)?;
    Ok(Json(admin::audit_page(&state, &params).await?))
}
