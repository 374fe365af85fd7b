//! The crate's one error type.

use discord_proto::voice::VoiceCloseCode;

/// What can go wrong joining voice or negotiating media.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VoiceError {
    /// The token, user, session or guild in IDENTIFY or RESUME does not
    /// match a grant from VOICE_SERVER_UPDATE (or the grant expired).
    #[error("voice authentication failed")]
    AuthenticationFailed,
    /// The signaling session to resume is gone.
    #[error("voice session is no longer valid")]
    SessionNoLongerValid,
    /// The channel lives on another SFU node than this one.
    #[error("this voice server does not host that channel")]
    WrongNode,
    /// The channel or this node holds as many participants as it may.
    #[error("{0} is full")]
    Full(&'static str),
    /// SELECT_PROTOCOL named a protocol other than `webrtc`.
    #[error("unknown media protocol {0:?}")]
    UnknownProtocol(String),
    /// An SDP or ICE candidate the WebRTC stack refused.
    #[error("bad session description: {0}")]
    BadSdp(String),
    /// The WebRTC stack failed.
    #[error("webrtc: {0}")]
    WebRtc(#[from] webrtc::error::Error),
    /// The gateway failed to publish an event.
    #[error("gateway: {0}")]
    Gateway(String),
}

impl VoiceError {
    /// The signaling close code a client gets for this error.
    pub fn close_code(&self) -> VoiceCloseCode {
        match self {
            VoiceError::AuthenticationFailed => VoiceCloseCode::AuthenticationFailed,
            VoiceError::SessionNoLongerValid => VoiceCloseCode::SessionNoLongerValid,
            VoiceError::WrongNode => VoiceCloseCode::ServerNotFound,
            VoiceError::Full(_) => VoiceCloseCode::RoomFull,
            VoiceError::UnknownProtocol(_) => VoiceCloseCode::UnknownProtocol,
            VoiceError::BadSdp(_) => VoiceCloseCode::BadRequest,
            VoiceError::WebRtc(_) | VoiceError::Gateway(_) => VoiceCloseCode::VoiceServerCrashed,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = VoiceError> = std::result::Result<T, E>;
