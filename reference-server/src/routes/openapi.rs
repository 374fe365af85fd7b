//! The OpenAPI document of the REST surface, served at
//! `/api/v10/openapi.json`. It lives in `openapi.json` next to this file; a
//! test checks that it lists every route the router serves and no other.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub(super) async fn serve() -> Response {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}
