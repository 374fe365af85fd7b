//! Opus for voice: 48 kHz stereo in 20 ms frames, encoded and decoded in
//! pure Rust (the `opus-rs` port of libopus), so a bot can play a sound or
//! record one with no C library installed.

use bytes::Bytes;

use crate::error::{ClientError, Result};

/// Samples per channel in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
/// Interleaved stereo samples in one frame.
pub const FRAME_LEN: usize = FRAME_SAMPLES * 2;

fn opus_error(e: &str) -> ClientError {
    ClientError::Voice(format!("opus: {e}"))
}

/// Encodes 20 ms frames of 48 kHz interleaved stereo PCM into Opus
/// packets for [`VoiceConnection::send_audio`](super::VoiceConnection::send_audio).
pub struct OpusEncoder {
    inner: opus_rs::OpusEncoder,
    out: Vec<u8>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder").finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// A music-quality encoder at `bitrate` bits per second (64,000 is
    /// Discord's default for voice channels).
    pub fn new(bitrate: i32) -> Result<OpusEncoder> {
        let mut inner = opus_rs::OpusEncoder::new(48_000, 2, opus_rs::Application::Audio)
            .map_err(opus_error)?;
        inner.bitrate_bps = bitrate;
        Ok(OpusEncoder {
            inner,
            out: vec![0; 4000],
        })
    }

    /// Encodes one frame: [`FRAME_LEN`] interleaved samples.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Bytes> {
        if pcm.len() != FRAME_LEN {
            return Err(opus_error("a frame is 960 stereo samples (1920 values)"));
        }
        let n = self
            .inner
            .encode_i16(pcm, FRAME_SAMPLES, &mut self.out)
            .map_err(opus_error)?;
        Ok(Bytes::copy_from_slice(&self.out[..n]))
    }
}

/// Decodes Opus packets (from [`VoiceEvent::Rtp`](super::VoiceEvent::Rtp))
/// into 48 kHz interleaved stereo PCM. Keep one per participant.
pub struct OpusDecoder {
    inner: opus_rs::OpusDecoder,
    pcm: Vec<f32>,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder").finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// A 48 kHz stereo decoder.
    pub fn new() -> Result<OpusDecoder> {
        Ok(OpusDecoder {
            inner: opus_rs::OpusDecoder::new(48_000, 2).map_err(opus_error)?,
            // Up to 120 ms per packet.
            pcm: vec![0.0; FRAME_LEN * 6],
        })
    }

    /// Decodes one packet; returns its interleaved samples.
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>> {
        let per_channel = self
            .inner
            .decode(packet, FRAME_SAMPLES * 6, &mut self.pcm)
            .map_err(opus_error)?;
        Ok(self.pcm[..per_channel * 2]
            .iter()
            .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16)
            .collect())
    }
}

/// A sine tone as 20 ms frames of 48 kHz interleaved stereo PCM, e.g.
/// `tone(440.0, 0.3)` for an A at 30% volume; endless.
pub fn tone(frequency: f32, volume: f32) -> impl Iterator<Item = Vec<i16>> {
    let step = std::f32::consts::TAU * frequency / 48_000.0;
    let amplitude = volume.clamp(0.0, 1.0) * f32::from(i16::MAX);
    let mut phase = 0.0f32;
    std::iter::repeat_with(move || {
        let mut frame = Vec::with_capacity(FRAME_LEN);
        for _ in 0..FRAME_SAMPLES {
            let s = (phase.sin() * amplitude) as i16;
            frame.push(s);
            frame.push(s);
            phase = (phase + step) % std::f32::consts::TAU;
        }
        frame
    })
}

/// The dominant frequency of mono or interleaved stereo PCM at 48 kHz,
/// estimated from zero crossings of the first channel (for checking a
/// received tone).
pub fn zero_crossing_frequency(pcm: &[i16], channels: usize) -> f32 {
    let left: Vec<i16> = pcm.iter().step_by(channels.max(1)).copied().collect();
    if left.len() < 2 {
        return 0.0;
    }
    let crossings = left.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    crossings as f32 / 2.0 / (left.len() as f32 / 48_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_survives_encoding_and_decoding() {
        let mut encoder = OpusEncoder::new(64_000).unwrap();
        let mut decoder = OpusDecoder::new().unwrap();
        let mut decoded = Vec::new();
        for frame in tone(440.0, 0.5).take(50) {
            let packet = encoder.encode(&frame).unwrap();
            assert!(packet.len() > 3, "a voiced frame, not silence");
            decoded.extend(decoder.decode(&packet).unwrap());
        }
        // Skip the codec's start-up; the rest is a 440 Hz tone.
        let steady = &decoded[FRAME_LEN * 10..];
        let f = zero_crossing_frequency(steady, 2);
        assert!((420.0..460.0).contains(&f), "decoded {f} Hz");
    }

    #[test]
    fn frames_of_the_wrong_size_are_refused() {
        let mut encoder = OpusEncoder::new(64_000).unwrap();
        assert!(encoder.encode(&[0; 100]).is_err());
    }
}
