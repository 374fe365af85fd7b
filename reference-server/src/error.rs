//! The crate's error: an HTTP status with Discord's JSON error body, and the
//! JSON body extractor that reports bad input the way Discord does.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use discord_proto::rest::{ErrorBody, FieldErrors, JsonErrorCode};
use discord_store::StoreError;
use serde::de::DeserializeOwned;

/// An error answered to a REST client.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {}", body.message)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: ErrorBody,
}

/// The result of a route handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with a Discord JSON error code and its standard message.
    pub fn new(status: StatusCode, code: JsonErrorCode) -> Self {
        ApiError {
            status,
            body: ErrorBody::new(code),
        }
    }

    /// 401 as Discord sends it.
    pub fn unauthorized() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, JsonErrorCode::UNAUTHORIZED)
            .with_code(JsonErrorCode::GENERAL)
    }

    /// 404 with an "Unknown X" code.
    pub fn unknown(code: JsonErrorCode) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code)
    }

    /// 403 50001 Missing Access.
    pub fn missing_access() -> Self {
        ApiError::new(StatusCode::FORBIDDEN, JsonErrorCode::MISSING_ACCESS)
    }

    /// 403 50013 Missing Permissions.
    pub fn missing_permissions() -> Self {
        ApiError::new(StatusCode::FORBIDDEN, JsonErrorCode::MISSING_PERMISSIONS)
    }

    /// 400 with a code that is not a form error.
    pub fn bad_request(code: JsonErrorCode) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code)
    }

    /// 400 50035 Invalid Form Body with one field error.
    pub fn field(path: &str, code: &str, message: &str) -> Self {
        let mut errors = FieldErrors::new();
        errors.add(path, code, message);
        ApiError::form(errors)
    }

    /// 400 50035 Invalid Form Body with these field errors.
    pub fn form(errors: FieldErrors) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody::invalid_form(errors),
        }
    }

    /// Keeps the message, changes the code.
    fn with_code(mut self, code: JsonErrorCode) -> Self {
        self.body.code = code;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => {
                tracing::debug!("store: {what} not found");
                ApiError::new(StatusCode::NOT_FOUND, JsonErrorCode::GENERAL)
            }
            StoreError::Conflict(why) => {
                let mut body = ErrorBody::new(JsonErrorCode::GENERAL);
                body.message = format!("Conflict: {why}");
                ApiError {
                    status: StatusCode::CONFLICT,
                    body,
                }
            }
            StoreError::Invalid(why) => ApiError::field("", "INVALID", &why),
            e if e.is_unavailable() => {
                tracing::warn!("store unavailable: {e}");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, JsonErrorCode::OVERLOADED)
            }
            e => {
                tracing::error!("store error: {e}");
                let mut body = ErrorBody::new(JsonErrorCode::GENERAL);
                body.message = "500: Internal Server Error".to_owned();
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    body,
                }
            }
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::from(StoreError::Backend(Box::new(e)))
    }
}

impl From<discord_gateway::GatewayError> for ApiError {
    fn from(e: discord_gateway::GatewayError) -> Self {
        tracing::error!("gateway publish failed: {e}");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, JsonErrorCode::OVERLOADED)
    }
}

/// A JSON request body. Malformed JSON is 400 50109; JSON of the wrong
/// shape is 400 50035 with the offending field's path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    JsonErrorCode::REQUEST_TOO_LARGE,
                )
            } else {
                ApiError::bad_request(JsonErrorCode::INVALID_JSON)
            }
        })?;
        parse_json(&bytes).map(Body)
    }
}

/// Parses a JSON document the way [`Body`] does.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::bad_request(JsonErrorCode::INVALID_JSON));
            }
            let path = if path == "." { String::new() } else { path };
            let code = if inner.to_string().starts_with("missing field") {
                "BASE_TYPE_REQUIRED"
            } else {
                "BASE_TYPE_INVALID"
            };
            let mut message = inner.to_string();
            if let Some(at) = message.find(" at line ") {
                message.truncate(at);
            }
            // A missing field is reported at the field itself.
            let path = match (code, missing_field(&message)) {
                ("BASE_TYPE_REQUIRED", Some(field)) if path.is_empty() => field.to_owned(),
                ("BASE_TYPE_REQUIRED", Some(field)) => format!("{path}.{field}"),
                _ => path,
            };
            Err(ApiError::field(&path, code, &message))
        }
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Req {
        name: String,
        inner: Option<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u8,
    }

    #[test]
    fn bad_json_and_bad_fields_get_discord_codes() {
        let e = parse_json::<Req>(b"{nope").unwrap_err();
        assert_eq!(e.body.code, JsonErrorCode::INVALID_JSON);
        let e = parse_json::<Req>(b"{}").unwrap_err();
        assert_eq!(e.body.code, JsonErrorCode::INVALID_FORM_BODY);
        let errors = e.body.errors.unwrap();
        assert_eq!(errors["name"]["_errors"][0]["code"], "BASE_TYPE_REQUIRED");
        let e = parse_json::<Req>(br#"{"name":"a","inner":{"n":300}}"#).unwrap_err();
        let errors = e.body.errors.unwrap();
        assert_eq!(
            errors["inner"]["n"]["_errors"][0]["code"],
            "BASE_TYPE_INVALID"
        );
        assert!(parse_json::<Req>(br#"{"name":"a"}"#).is_ok());
    }
}
