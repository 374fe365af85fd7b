//! Discord's JSON error body, `{code, message, errors}`, and the error codes
//! the reference server and clients use.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON error code (the `code` of an error body), a newtype so that codes
/// this crate does not name still round-trip. The named ones carry Discord's
/// message for them: [`JsonErrorCode::message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonErrorCode(pub u32);

macro_rules! codes {
    ($( $(#[$doc:meta])* $name:ident = $n:literal, $msg:literal; )*) => {
        impl JsonErrorCode {
            $( $(#[$doc])* pub const $name: JsonErrorCode = JsonErrorCode($n); )*

            /// The message that goes with this code, or `"Unknown error"`
            /// for codes this crate does not name.
            pub const fn message(self) -> &'static str {
                match self.0 {
                    $( $n => $msg, )*
                    _ => "Unknown error",
                }
            }
        }
    };
}

codes! {
    /// 0: a general error (also used with 404 for unknown routes).
    GENERAL = 0, "General error";
    /// 10003.
    UNKNOWN_CHANNEL = 10003, "Unknown Channel";
    /// 10004.
    UNKNOWN_GUILD = 10004, "Unknown Guild";
    /// 10006.
    UNKNOWN_INVITE = 10006, "Unknown Invite";
    /// 10007.
    UNKNOWN_MEMBER = 10007, "Unknown Member";
    /// 10008.
    UNKNOWN_MESSAGE = 10008, "Unknown Message";
    /// 10011.
    UNKNOWN_ROLE = 10011, "Unknown Role";
    /// 10013.
    UNKNOWN_USER = 10013, "Unknown User";
    /// 10014.
    UNKNOWN_EMOJI = 10014, "Unknown Emoji";
    /// 10002.
    UNKNOWN_APPLICATION = 10002, "Unknown Application";
    /// 20016: the channel's slowmode (`rate_limit_per_user`) is in effect.
    SLOWMODE_RATE_LIMIT = 20016, "This action cannot be performed due to slowmode rate limit";
    /// 20028: the channel's write rate limit was hit.
    CHANNEL_WRITE_RATE_LIMIT = 20028, "The write action you are performing on the channel has hit the write rate limit";
    /// 30001.
    MAX_GUILDS = 30001, "Maximum number of guilds reached (100)";
    /// 30005.
    MAX_ROLES = 30005, "Maximum number of guild roles reached (250)";
    /// 30010.
    MAX_REACTIONS = 30010, "Maximum number of reactions reached (20)";
    /// 30013.
    MAX_CHANNELS = 30013, "Maximum number of guild channels reached (500)";
    /// 40001.
    UNAUTHORIZED = 40001, "401: Unauthorized";
    /// 40005.
    REQUEST_TOO_LARGE = 40005, "Request entity too large";
    /// 50001.
    MISSING_ACCESS = 50001, "Missing Access";
    /// 50003.
    CANNOT_EXECUTE_ON_DM = 50003, "Cannot execute action on a DM channel";
    /// 50005.
    CANNOT_EDIT_OTHERS_MESSAGE = 50005, "Cannot edit a message authored by another user";
    /// 50006.
    EMPTY_MESSAGE = 50006, "Cannot send an empty message";
    /// 50008.
    NON_TEXT_CHANNEL = 50008, "Cannot send messages in a non-text channel";
    /// 50013.
    MISSING_PERMISSIONS = 50013, "Missing Permissions";
    /// 50014.
    INVALID_TOKEN = 50014, "Invalid authentication token provided";
    /// 50016.
    BULK_DELETE_COUNT = 50016, "You can only bulk delete messages between 2 and 100";
    /// 50021.
    SYSTEM_MESSAGE = 50021, "Cannot execute action on a system message";
    /// 50024.
    WRONG_CHANNEL_TYPE = 50024, "Cannot execute action on this channel type";
    /// 50034.
    MESSAGE_TOO_OLD_TO_BULK_DELETE = 50034, "A message provided was too old to bulk delete";
    /// 50035.
    INVALID_FORM_BODY = 50035, "Invalid Form Body";
    /// 50041.
    INVALID_API_VERSION = 50041, "Invalid API version provided";
    /// 50045.
    FILE_TOO_LARGE = 50045, "File uploaded exceeds the maximum size";
    /// 50109.
    INVALID_JSON = 50109, "The request body contains invalid JSON.";
    /// 130000.
    OVERLOADED = 130000, "API resource is currently overloaded. Try again a little later";
}

/// Discord's error body: `{"code": 50035, "message": "Invalid Form Body",
/// "errors": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The JSON error code.
    pub code: JsonErrorCode,
    /// A human-readable message.
    pub message: String,
    /// Nested field errors, for 50035.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
}

impl ErrorBody {
    /// An error body with the code's own message and no field errors.
    pub fn new(code: JsonErrorCode) -> Self {
        ErrorBody {
            code,
            message: code.message().to_owned(),
            errors: None,
        }
    }

    /// A 50035 Invalid Form Body with these field errors.
    pub fn invalid_form(errors: FieldErrors) -> Self {
        ErrorBody {
            code: JsonErrorCode::INVALID_FORM_BODY,
            message: JsonErrorCode::INVALID_FORM_BODY.message().to_owned(),
            errors: Some(errors.into_value()),
        }
    }
}

/// Builds the `errors` object of a 50035 response: for each field path, a
/// list of `{code, message}` under `_errors`.
///
/// ```
/// use discord_proto::rest::FieldErrors;
///
/// let mut errors = FieldErrors::new();
/// errors.add("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.");
/// errors.add("embeds.0.title", "BASE_TYPE_REQUIRED", "This field is required");
/// let v = errors.into_value();
/// assert_eq!(v["content"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
/// assert_eq!(v["embeds"]["0"]["title"]["_errors"][0]["message"], "This field is required");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldErrors {
    root: Map<String, Value>,
}

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        FieldErrors::default()
    }

    /// Whether no error was added.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    /// Adds an error at a dotted path (`"embeds.0.title"`); an empty path is
    /// an error about the request as a whole.
    pub fn add(&mut self, path: &str, code: &str, message: &str) -> &mut Self {
        let mut node = &mut self.root;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let child = node
                .entry(part.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            node = match child {
                Value::Object(map) => map,
                _ => unreachable!("just made an object"),
            };
        }
        let list = node
            .entry("_errors")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = list {
            items.push(serde_json::json!({ "code": code, "message": message }));
        }
        self
    }

    /// The `errors` object.
    pub fn into_value(self) -> Value {
        Value::Object(self.root)
    }
}

/// The body of a 429 response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimited {
    /// A message saying that the client is rate limited.
    pub message: String,
    /// Seconds to wait before retrying.
    pub retry_after: f64,
    /// Whether the global limit (not a route's) was hit.
    pub global: bool,
    /// An error code for some special limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<JsonErrorCode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_object_error_shape() {
        let mut errors = FieldErrors::new();
        errors.add(
            "access_token",
            "BASE_TYPE_REQUIRED",
            "This field is required",
        );
        let body = ErrorBody::invalid_form(errors);
        let expected = serde_json::json!({
            "code": 50035,
            "errors": {"access_token": {"_errors": [
                {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
            ]}},
            "message": "Invalid Form Body"
        });
        assert_eq!(serde_json::to_value(&body).unwrap(), expected);
        assert_eq!(serde_json::from_value::<ErrorBody>(expected).unwrap(), body);
    }

    #[test]
    fn request_level_errors_and_several_per_field() {
        let mut errors = FieldErrors::new();
        errors.add("", "APPLICATION_COMMAND_TOO_LARGE", "too large");
        errors.add("a.0.b", "X", "x").add("a.0.b", "Y", "y");
        let v = errors.into_value();
        assert_eq!(v["_errors"][0]["code"], "APPLICATION_COMMAND_TOO_LARGE");
        assert_eq!(v["a"]["0"]["b"]["_errors"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn simple_errors_have_no_errors_field() {
        let body = ErrorBody::new(JsonErrorCode::MISSING_PERMISSIONS);
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"code":50013,"message":"Missing Permissions"}"#
        );
        assert_eq!(JsonErrorCode(1).message(), "Unknown error");
    }
}
