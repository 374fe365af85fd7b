//! Typed requests for the routes bots use most, over [`RestClient::request`].

use discord_proto::Snowflake;
use discord_proto::model::{Channel, Embed, Guild, Message, MessageReference, User};
use discord_proto::rest::{GatewayBot, GatewayInfo};
use reqwest::Method;
use serde::Serialize;

use super::RestClient;
use crate::error::{ClientError, Result};

/// The body of `POST /channels/{id}/messages`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateMessage {
    /// The text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A nonce; with `enforce_nonce`, a retry returns the first message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// De-duplicate by `nonce`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enforce_nonce: bool,
    /// Embeds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub embeds: Vec<Embed>,
    /// The message this replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<MessageReference>,
}

impl CreateMessage {
    /// A message with this text.
    pub fn text(content: impl Into<String>) -> Self {
        CreateMessage {
            content: Some(content.into()),
            ..CreateMessage::default()
        }
    }

    /// Makes it a reply to `message_id`.
    pub fn reply_to(mut self, message_id: Snowflake) -> Self {
        self.message_reference = Some(MessageReference {
            message_id: Some(message_id),
            ..MessageReference::default()
        });
        self
    }

    /// De-duplicates retries with `nonce`.
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self.enforce_nonce = true;
        self
    }
}

/// Where a history page starts (`GET /channels/{id}/messages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessagesQuery {
    /// The newest `limit` messages.
    Latest(u8),
    /// `limit` messages before this one.
    Before(Snowflake, u8),
    /// `limit` messages after this one.
    After(Snowflake, u8),
    /// `limit` messages around this one.
    Around(Snowflake, u8),
}

impl MessagesQuery {
    fn query(self) -> String {
        match self {
            MessagesQuery::Latest(n) => format!("limit={n}"),
            MessagesQuery::Before(id, n) => format!("before={id}&limit={n}"),
            MessagesQuery::After(id, n) => format!("after={id}&limit={n}"),
            MessagesQuery::Around(id, n) => format!("around={id}&limit={n}"),
        }
    }
}

const NO_BODY: Option<&()> = None;

impl RestClient {
    /// `GET /users/@me`.
    pub async fn current_user(&self) -> Result<User> {
        self.request(Method::GET, "/users/@me", NO_BODY).await
    }

    /// `GET /users/{id}`.
    pub async fn user(&self, id: Snowflake) -> Result<User> {
        self.request(Method::GET, &format!("/users/{id}"), NO_BODY)
            .await
    }

    /// `GET /gateway`.
    pub async fn gateway(&self) -> Result<GatewayInfo> {
        self.request(Method::GET, "/gateway", NO_BODY).await
    }

    /// `GET /gateway/bot`.
    pub async fn gateway_bot(&self) -> Result<GatewayBot> {
        self.request(Method::GET, "/gateway/bot", NO_BODY).await
    }

    /// `GET /guilds/{id}`.
    pub async fn guild(&self, id: Snowflake) -> Result<Guild> {
        self.request(Method::GET, &format!("/guilds/{id}"), NO_BODY)
            .await
    }

    /// `GET /guilds/{id}/channels`.
    pub async fn guild_channels(&self, id: Snowflake) -> Result<Vec<Channel>> {
        self.request(Method::GET, &format!("/guilds/{id}/channels"), NO_BODY)
            .await
    }

    /// `GET /channels/{id}`.
    pub async fn channel(&self, id: Snowflake) -> Result<Channel> {
        self.request(Method::GET, &format!("/channels/{id}"), NO_BODY)
            .await
    }

    /// `POST /channels/{id}/messages`.
    pub async fn create_message(
        &self,
        channel: Snowflake,
        message: &CreateMessage,
    ) -> Result<Message> {
        self.request(
            Method::POST,
            &format!("/channels/{channel}/messages"),
            Some(message),
        )
        .await
    }

    /// `GET /channels/{id}/messages/{id}`.
    pub async fn message(&self, channel: Snowflake, id: Snowflake) -> Result<Message> {
        self.request(
            Method::GET,
            &format!("/channels/{channel}/messages/{id}"),
            NO_BODY,
        )
        .await
    }

    /// `GET /channels/{id}/messages`: a page, newest first.
    pub async fn messages(&self, channel: Snowflake, query: MessagesQuery) -> Result<Vec<Message>> {
        let path = format!("/channels/{channel}/messages?{}", query.query());
        self.request(Method::GET, &path, NO_BODY).await
    }

    /// Every message in a channel, newest first, fetched 100 at a time as
    /// the stream is read (each page starts before the last message of
    /// the one before, so none is skipped or repeated).
    pub fn history(
        &self,
        channel: Snowflake,
    ) -> impl futures::Stream<Item = Result<Message>> + Send + '_ {
        use futures::TryStreamExt;
        // `None`: done; `Some(None)`: the newest page; `Some(Some(id))`:
        // the page before `id`.
        futures::stream::try_unfold(
            Some(None),
            move |cursor: Option<Option<Snowflake>>| async move {
                let Some(before) = cursor else {
                    return Ok(None);
                };
                let (page, next) = self.history_page(channel, before).await?;
                let page = futures::stream::iter(page.into_iter().map(Ok::<_, ClientError>));
                Ok::<_, ClientError>(Some((page, next)))
            },
        )
        .try_flatten()
    }

    /// One page of [`RestClient::history`] and the cursor after it.
    async fn history_page(
        &self,
        channel: Snowflake,
        before: Option<Snowflake>,
    ) -> Result<(Vec<Message>, Option<Option<Snowflake>>)> {
        const PAGE: u8 = 100;
        let query = match before {
            None => MessagesQuery::Latest(PAGE),
            Some(id) => MessagesQuery::Before(id, PAGE),
        };
        let page = self.messages(channel, query).await?;
        let next = match page.last() {
            Some(last) if page.len() == usize::from(PAGE) => Some(Some(last.id)),
            _ => None,
        };
        Ok((page, next))
    }

    /// `PATCH /channels/{id}/messages/{id}` with new text.
    pub async fn edit_message(
        &self,
        channel: Snowflake,
        id: Snowflake,
        content: &str,
    ) -> Result<Message> {
        let body = serde_json::json!({ "content": content });
        self.request(
            Method::PATCH,
            &format!("/channels/{channel}/messages/{id}"),
            Some(&body),
        )
        .await
    }

    /// `DELETE /channels/{id}/messages/{id}`.
    pub async fn delete_message(&self, channel: Snowflake, id: Snowflake) -> Result<()> {
        self.request_empty(
            Method::DELETE,
            &format!("/channels/{channel}/messages/{id}"),
            NO_BODY,
        )
        .await
    }
}
