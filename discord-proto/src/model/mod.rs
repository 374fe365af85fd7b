//! REST and gateway data models with Discord's field names and JSON shapes.
//!
//! Conventions, following Discord's documentation: a field Discord always
//! sends is a plain field (an `Option` written as `null` when the docs mark
//! it nullable); a field Discord sends only sometimes is an `Option` left out
//! when `None`; arrays Discord always sends are always written.

mod channel;
mod guild;
mod invite;
mod message;
mod presence;
mod timestamp;
mod user;
mod voice;

pub use channel::{Channel, ChannelType, OverwriteType, PermissionOverwrite};
pub use guild::{Emoji, Guild, Member, Role, RoleColors, RoleTags, UnavailableGuild};
pub use invite::Invite;
pub use message::{
    Attachment, Embed, EmbedAuthor, EmbedField, EmbedFooter, EmbedMedia, EmbedProvider, Message,
    MessageReference, MessageType, Nonce, Reaction, ReactionCountDetails,
};
pub use presence::{Activity, ClientStatus, Status};
pub use timestamp::Timestamp;
pub use user::User;
pub use voice::VoiceState;
