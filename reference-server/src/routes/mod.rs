//! The HTTP routes: REST under `/api/v10` (and `/api/v9`), the gateway,
//! attachments, metrics and the health check.

mod accounts;
mod applications;
mod attachments;
mod channels;
mod gateway;
mod guilds;
mod invites;
mod members;
mod messages;
pub mod openapi;
mod reactions;
mod roles;
mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use discord_proto::rest::{ErrorBody, JsonErrorCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// Every route of the REST API, relative to `/api/v10`.
fn api() -> Router<AppState> {
    Router::new()
        .merge(accounts::routes())
        .merge(applications::routes())
        .merge(users::routes())
        .merge(guilds::routes())
        .merge(channels::routes())
        .merge(members::routes())
        .merge(roles::routes())
        .merge(messages::routes())
        .merge(reactions::routes())
        .merge(invites::routes())
        .merge(gateway::routes())
        .route("/openapi.json", get(openapi::serve))
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = api()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(
            state.clone(),
            crate::ratelimit::middleware,
        ));
    Router::new()
        .nest("/api/v10", api.clone())
        .nest("/api/v9", api)
        .route("/healthz", get(health))
        .route("/metrics", get(crate::metrics::serve))
        .route(
            "/attachments/{channel_id}/{attachment_id}/{filename}",
            get(attachments::serve),
        )
        .merge(state.gateway.router("/gateway"))
        .merge(state.voice.router("/voice"))
        .fallback(not_found)
        .layer(from_fn_with_state(
            state.clone(),
            crate::metrics::middleware,
        ))
        .layer(DefaultBodyLimit::max(state.config.max_body))
        .with_state(state)
}

fn plain_error(status: StatusCode, message: &str) -> Response {
    let mut body = ErrorBody::new(JsonErrorCode::GENERAL);
    body.message = message.to_owned();
    (status, axum::Json(body)).into_response()
}

async fn not_found() -> Response {
    plain_error(StatusCode::NOT_FOUND, "404: Not Found")
}

async fn method_not_allowed() -> Response {
    plain_error(StatusCode::METHOD_NOT_ALLOWED, "405: Method Not Allowed")
}

/// `GET /healthz`: 200 when the stores answer.
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state
        .stores
        .guilds
        .user(discord_proto::Snowflake::new(0))
        .await
    {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "unavailable", "error": e.to_string()})),
        )
            .into_response(),
    }
}

/// Path parameters; a malformed ID is 404 as an unknown route.
#[derive(Debug)]
pub struct P<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for P<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(P(v)),
            Err(_) => Err(not_found().await),
        }
    }
}

/// Query parameters; bad values are 400 50035.
#[derive(Debug)]
pub struct Q<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Q(v)),
            Err(e) => Err(ApiError::field("", "BASE_TYPE_INVALID", &e.body_text())),
        }
    }
}

/// For `Option<Option<T>>` fields: `Some(None)` for an explicit `null`,
/// `None` (with `#[serde(default)]`) when absent.
pub fn nullable<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// 204 No Content.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// A JSON body with a status.
pub fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

/// 200 with a JSON body.
pub fn ok<T: serde::Serialize>(body: &T) -> Response {
    json(StatusCode::OK, body)
}
