//! WebRTC pieces both ends of a voice connection share: the codecs and
//! payload types of the default codec table, and an interceptor that lets
//! keyframe requests through to the application. Sans I/O, on webrtc-rs's
//! `rtc` core (feature `webrtc`).

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RTCRtpCodec;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Opus's payload type in webrtc-rs's default codec table.
pub const OPUS_PAYLOAD_TYPE: u8 = 111;
/// VP8's payload type in webrtc-rs's default codec table.
pub const VP8_PAYLOAD_TYPE: u8 = 96;

/// Opus, 48 kHz stereo, in-band FEC: the audio codec.
pub fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "audio/opus".into(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".into(),
        rtcp_feedback: vec![],
    }
}

/// VP8 on the 90 kHz video clock.
pub fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "video/VP8".into(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

/// Whether an RTCP packet asks for a keyframe (PLI or FIR).
pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// An interceptor that hands inbound keyframe requests to the application
/// (webrtc-rs delivers inbound RTCP only when an interceptor marks it) and
/// leaves every other inbound RTCP packet to the interceptors before it.
/// Place it last in the chain, e.g. at `Slot::from(14_000)`.
#[derive(Default)]
pub struct KeyframeRequests {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl std::fmt::Debug for KeyframeRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyframeRequests")
            .field("queued_reads", &self.reads.len())
            .field("queued_writes", &self.writes.len())
            .finish()
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let requests: Vec<Box<dyn rtc::rtcp::Packet>> = packets
                .iter()
                .filter(|p| is_keyframe_request(p.as_ref()))
                .cloned()
                .collect();
            if requests.is_empty() {
                // Already acted on by the interceptors before this one.
                return Ok(());
            }
            msg.message.packet = Packet::Rtcp(requests);
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }
}

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::receiver_report::ReceiverReport;

    #[test]
    fn keyframe_requests_are_told_from_other_rtcp() {
        let pli = PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 2,
        };
        let fir = FullIntraRequest::default();
        assert!(is_keyframe_request(&pli));
        assert!(is_keyframe_request(&fir));
        assert!(!is_keyframe_request(&ReceiverReport::default()));
    }
}

/// The RFC 6464 client-to-mixer audio level RTP header extension.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// Audio at or louder than this many dB below full scale counts as speech
/// (levels are carried as -dBov, 0 loudest, 127 silence).
pub const SPEECH_DBOV: u8 = 50;

/// Offers (or accepts) the audio level header extension on audio.
pub fn register_audio_level(
    engine: &mut rtc::peer_connection::configuration::media_engine::MediaEngine,
) -> Result<(), Error> {
    engine.register_header_extension(
        rtc::rtp_transceiver::rtp_sender::RTCRtpHeaderExtensionCapability {
            uri: AUDIO_LEVEL_URI.to_owned(),
        },
        rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Audio,
        None,
    )
}

/// The ID an SDP's `a=extmap` line gives the header extension `uri`.
pub fn extmap_id(sdp: &str, uri: &str) -> Option<u8> {
    sdp.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("a=extmap:")?;
        let (id, rest) = rest.split_once(' ')?;
        let id = id.split('/').next()?.parse::<u8>().ok()?;
        (rest.split_whitespace().next()? == uri && (1..=14).contains(&id)).then_some(id)
    })
}

/// One RFC 6464 audio level: the sender's voice activity flag and the
/// level in -dBov (0 loudest, 127 silence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioLevel {
    /// The sender thinks the packet holds voice.
    pub voice: bool,
    /// -dBov, 0 to 127.
    pub level: u8,
}

impl AudioLevel {
    /// The extension element's one byte.
    pub fn to_byte(self) -> u8 {
        (u8::from(self.voice) << 7) | self.level.min(127)
    }

    /// Reads the extension element (its first byte).
    pub fn parse(data: &[u8]) -> Option<AudioLevel> {
        let b = *data.first()?;
        Some(AudioLevel {
            voice: b & 0x80 != 0,
            level: b & 0x7f,
        })
    }

    /// Whether this is loud enough to count as speaking.
    pub fn is_speech(self) -> bool {
        self.level <= SPEECH_DBOV
    }

    /// The level of 16-bit PCM samples (their RMS against full scale).
    pub fn of_pcm(samples: &[i16]) -> AudioLevel {
        let level = if samples.is_empty() {
            127
        } else {
            let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
            let rms = (sum / samples.len() as f64).sqrt() / 32768.0;
            if rms <= 0.0 {
                127
            } else {
                (-20.0 * rms.log10()).round().clamp(0.0, 127.0) as u8
            }
        };
        AudioLevel {
            voice: level <= SPEECH_DBOV,
            level,
        }
    }
}

#[cfg(test)]
mod audio_level_tests {
    use super::*;

    #[test]
    fn extmap_ids_are_found() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:4/sendrecv urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n";
        assert_eq!(extmap_id(sdp, AUDIO_LEVEL_URI), Some(4));
        assert_eq!(
            extmap_id(sdp, "urn:ietf:params:rtp-hdrext:sdes:mid"),
            Some(1)
        );
        assert_eq!(extmap_id("a=extmap:x bad", AUDIO_LEVEL_URI), None);
        assert_eq!(extmap_id("", AUDIO_LEVEL_URI), None);
    }

    #[test]
    fn levels_round_trip_and_follow_loudness() {
        for b in [0u8, 0x7f, 0x80, 0xff, 0x35] {
            assert_eq!(AudioLevel::parse(&[b]).unwrap().to_byte(), b);
        }
        assert_eq!(AudioLevel::parse(&[]), None);
        assert_eq!(AudioLevel::of_pcm(&[0; 960]).level, 127);
        // A full-scale square wave is 0 dBov; a tenth of it is 20.
        let full: Vec<i16> = (0..960)
            .map(|i| if i % 2 == 0 { 32767 } else { -32767 })
            .collect();
        assert_eq!(AudioLevel::of_pcm(&full).level, 0);
        let tenth: Vec<i16> = full.iter().map(|s| s / 10).collect();
        assert_eq!(AudioLevel::of_pcm(&tenth).level, 20);
        assert!(AudioLevel::of_pcm(&tenth).is_speech());
        let quiet: Vec<i16> = full.iter().map(|s| s / 1000).collect();
        assert!(!AudioLevel::of_pcm(&quiet).is_speech());
    }
}
