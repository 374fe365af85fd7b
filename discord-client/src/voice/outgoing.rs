//! One track this client sends (its audio, or its video): the RTP
//! sequence, timestamp and SSRC it stamps on each payload, and the audio
//! level extension when the connection negotiated one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, Ordering};

use bytes::Bytes;
use discord_proto::voice::media::AudioLevel;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;

use crate::error::{ClientError, Result};

pub(super) struct Outgoing {
    /// The negotiated RFC 6464 audio level extension ID (0: none).
    pub(super) level_id: AtomicU8,
    pub(super) track: Arc<TrackLocalStaticRTP>,
    pub(super) ssrc: u32,
    seq: AtomicU16,
    timestamp: AtomicU32,
    payload_type: u8,
}

impl Outgoing {
    pub(super) fn new(
        kind: RtpCodecKind,
        ssrc: u32,
        codec: RTCRtpCodec,
        payload_type: u8,
    ) -> Outgoing {
        let name = if kind == RtpCodecKind::Audio {
            "audio"
        } else {
            "video"
        };
        Outgoing {
            level_id: AtomicU8::new(0),
            track: Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
                "bot".into(),
                format!("bot-{name}"),
                format!("bot-{name}"),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ))),
            ssrc,
            seq: AtomicU16::new(rand::random()),
            timestamp: AtomicU32::new(rand::random()),
            payload_type,
        }
    }

    pub(super) async fn send(&self, payload: Bytes, ticks: u32, marker: bool) -> Result<()> {
        self.send_with_level(payload, ticks, marker, None).await
    }

    pub(super) async fn send_with_level(
        &self,
        payload: Bytes,
        ticks: u32,
        marker: bool,
        level: Option<AudioLevel>,
    ) -> Result<()> {
        let mut packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker,
                payload_type: self.payload_type,
                sequence_number: self.seq.fetch_add(1, Ordering::Relaxed),
                timestamp: self.timestamp.load(Ordering::Relaxed),
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload,
        };
        let id = self.level_id.load(Ordering::Relaxed);
        if let Some(level) = level
            && id != 0
        {
            packet
                .header
                .set_extension(id, Bytes::copy_from_slice(&[level.to_byte()]))
                .map_err(|e| ClientError::Voice(e.to_string()))?;
        }
        self.timestamp.fetch_add(ticks, Ordering::Relaxed);
        self.track
            .write_rtp(packet)
            .await
            .map_err(|e| ClientError::Voice(e.to_string()))
    }
}
