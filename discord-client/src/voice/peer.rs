//! The client's WebRTC peer connection: codecs, interceptors, and the
//! events it reports to the voice connection.

use std::sync::Arc;

use async_trait::async_trait;
use discord_proto::voice::media::KeyframeRequests;
use rtc::interceptor::Slot;
use rtc::shared::error::Error;
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCIceGatheringState, Registry, register_default_interceptors,
};
use webrtc::runtime::TokioRuntime;

struct Handler {
    gathered: watch::Sender<bool>,
    tracks: mpsc::UnboundedSender<Arc<dyn TrackRemote>>,
}

#[async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tracks.send(track);
    }
}

/// A peer connection and what it reports.
pub(crate) struct Peer {
    pub(crate) pc: Arc<dyn PeerConnection>,
    pub(crate) gathered: watch::Receiver<bool>,
    pub(crate) tracks: mpsc::UnboundedReceiver<Arc<dyn TrackRemote>>,
}

/// A peer connection with the default codecs (Opus, VP8, VP9, H.264, AV1)
/// and interceptors (NACK, RTCP reports, TWCC), bound to `ip`.
pub(crate) async fn build(ip: std::net::IpAddr) -> Result<Peer, Error> {
    let mut engine = MediaEngine::default();
    engine.register_default_codecs()?;
    discord_proto::voice::media::register_audio_level(&mut engine)?;
    let registry = register_default_interceptors(Registry::new(), &mut engine)?
        .with(Slot::from(14_000), KeyframeRequests::default());
    let (gathered_tx, gathered) = watch::channel(false);
    let (tracks_tx, tracks) = mpsc::unbounded_channel();
    let pc = PeerConnectionBuilder::new()
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler {
            gathered: gathered_tx,
            tracks: tracks_tx,
        }))
        .with_runtime(Arc::new(TokioRuntime))
        .with_udp_addrs(vec![format!("{ip}:0")])
        .build()
        .await?;
    Ok(Peer {
        pc: Arc::new(pc),
        gathered,
        tracks,
    })
}
