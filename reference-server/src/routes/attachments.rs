//! Serves uploaded attachments back at the URL their message gives.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use discord_proto::Snowflake;

use super::P;
use crate::state::AppState;

fn content_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("txt" | "log") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("mp3") => "audio/mpeg",
        Some("ogg") => "audio/ogg",
        Some("mp4") => "video/mp4",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// `GET /attachments/{channel_id}/{attachment_id}/{filename}`.
pub(super) async fn serve(
    State(state): State<AppState>,
    P((channel_id, attachment_id, filename)): P<(Snowflake, Snowflake, String)>,
) -> Response {
    if filename.contains(['/', '\\']) || filename.starts_with('.') {
        return StatusCode::NOT_FOUND.into_response();
    }
    let key = format!("{channel_id}/{attachment_id}/{filename}");
    match state.stores.blobs.get(&key).await {
        Ok(Some(bytes)) => (
            [
                (CONTENT_TYPE, content_type(&filename)),
                (X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(%key, "attachment read failed: {e}");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
