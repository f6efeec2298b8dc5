//! Audio files to the model's input: 16 kHz mono samples in [-1, 1].
//!
//! The container and codec are recognized from the bytes (the file name and media type are
//! only hints): WAV (8-, 16-, 24- and 32-bit integer PCM, 32- and 64-bit float, A-law, µ-law,
//! plain or `WAVE_FORMAT_EXTENSIBLE`), FLAC, MP3 and Ogg Vorbis. The first audio track is
//! decoded, its channels averaged into one, and the result resampled to 16 kHz
//! ([`super::resample`]). A packet the decoder rejects is skipped, as players do.

use std::io::Cursor;

use symphonia::core::audio::{SampleBuffer, SignalSpec};
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::resample::resample;

/// The sample rate the model reads.
pub const SAMPLE_RATE: u32 = 16_000;

/// Why a clip cannot be transcribed. Each is a property of the clip, so the same clip always
/// fails the same way.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AudioError {
    /// The bytes are not audio in a supported format, or its stream is broken.
    #[error("cannot decode the audio {file}: {reason} (supported: WAV, FLAC, MP3, Ogg Vorbis)")]
    Undecodable {
        /// The clip's file name.
        file: String,
        /// What the decoder said.
        reason: String,
    },
    /// The file holds no samples.
    #[error("the audio {file} holds no samples")]
    Empty {
        /// The clip's file name.
        file: String,
    },
    /// Longer than the model can read at once.
    #[error(
        "the audio {file} lasts {seconds:.1} s, longer than the {limit:.0} s this model transcribes in one pass; split it into shorter clips"
    )]
    TooLong {
        /// The clip's file name.
        file: String,
        /// Its duration as far as it was read (at least this long).
        seconds: f64,
        /// The longest clip accepted.
        limit: f64,
    },
}

/// Decodes `bytes` (named `file`, of media type `mime`, both only hints) to mono samples at
/// [`SAMPLE_RATE`], refusing audio longer than `max_seconds` before decoding more than that.
pub fn decode_16k_mono(
    bytes: &[u8],
    file: &str,
    mime: &str,
    max_seconds: f64,
) -> Result<Vec<f32>, AudioError> {
    let (samples, rate) = decode_mono(bytes, file, mime, max_seconds)?;
    if samples.is_empty() {
        return Err(AudioError::Empty { file: file.into() });
    }
    Ok(resample(&samples, rate, SAMPLE_RATE))
}

/// The first audio track of `bytes`, its channels averaged, at its own sample rate.
fn decode_mono(
    bytes: &[u8],
    file: &str,
    mime: &str,
    max_seconds: f64,
) -> Result<(Vec<f32>, u32), AudioError> {
    let undecodable = |reason: String| AudioError::Undecodable {
        file: file.into(),
        reason,
    };
    let too_long = |seconds: f64| AudioError::TooLong {
        file: file.into(),
        seconds,
        limit: max_seconds,
    };
    if bytes.is_empty() {
        return Err(AudioError::Empty { file: file.into() });
    }
    let mut hint = Hint::new();
    if let Some((_, extension)) = file.rsplit_once('.') {
        hint.with_extension(extension);
    }
    if !mime.is_empty() {
        hint.mime_type(mime);
    }
    let source = Cursor::new(bytes.to_vec());
    let stream = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| undecodable(format!("not a recognized audio file ({e})")))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| undecodable("the file has no audio track".into()))?;
    let track_id = track.id;
    if let (Some(frames), Some(rate)) =
        (track.codec_params.n_frames, track.codec_params.sample_rate)
    {
        let seconds = frames as f64 / f64::from(rate.max(1));
        if seconds > max_seconds {
            return Err(too_long(seconds));
        }
    }
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| undecodable(format!("unsupported codec ({e})")))?;

    let mut mono: Vec<f32> = Vec::new();
    let mut rate: Option<u32> = None;
    let mut buffer: Option<(SampleBuffer<f32>, SignalSpec)> = None;
    let mut skipped = 0usize;
    let mut last_error = String::new();
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            // A new chained stream (Ogg): the first one is the clip.
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(undecodable(e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            Err(SymphoniaError::DecodeError(e)) => {
                skipped += 1;
                last_error = e.to_string();
                continue;
            }
            Err(SymphoniaError::IoError(e)) => {
                skipped += 1;
                last_error = e.to_string();
                continue;
            }
            Err(e) => return Err(undecodable(e.to_string())),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count().max(1);
        let clip_rate = *rate.get_or_insert(spec.rate);
        let fits = buffer
            .as_ref()
            .is_some_and(|(b, s)| *s == spec && b.capacity() >= decoded.capacity() * channels);
        if !fits {
            buffer = Some((SampleBuffer::new(decoded.capacity() as u64, spec), spec));
        }
        let Some((samples, _)) = buffer.as_mut() else {
            continue;
        };
        samples.copy_interleaved_ref(decoded);
        let scale = 1.0 / channels as f32;
        mono.extend(
            samples
                .samples()
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() * scale),
        );
        let seconds = mono.len() as f64 / f64::from(clip_rate.max(1));
        if seconds > max_seconds {
            return Err(too_long(seconds));
        }
    }
    let Some(rate) = rate.filter(|&r| r > 0) else {
        return Err(if skipped > 0 {
            undecodable(format!("no packet could be decoded ({last_error})"))
        } else {
            AudioError::Empty { file: file.into() }
        });
    };
    // Non-finite samples (a float WAV can hold anything) would poison the whole clip.
    for s in &mut mono {
        if !s.is_finite() {
            *s = 0.0;
        }
    }
    Ok((mono, rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAV file: `format` 1 (integer PCM) or 3 (float), `bits` per sample, interleaved
    /// `frames` already encoded little-endian.
    fn wav(format: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let block = channels * bits / 8;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&format.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        out.extend_from_slice(&block.to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    /// `seconds` of a 440 Hz sine at `rate`, amplitude 0.5, one value per frame.
    fn tone(rate: u32, seconds: f64) -> Vec<f64> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| 0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin())
            .collect()
    }

    fn decode(bytes: &[u8]) -> Result<(Vec<f32>, u32), AudioError> {
        decode_mono(bytes, "clip.wav", "audio/wav", 60.0)
    }

    fn assert_close(got: &[f32], want: &[f64], tolerance: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() <= tolerance, "{g} vs {w}");
        }
    }

    #[test]
    fn every_pcm_width_decodes_to_the_same_signal() {
        let signal = tone(8_000, 0.1);
        let encode =
            |f: &dyn Fn(f64) -> Vec<u8>| -> Vec<u8> { signal.iter().flat_map(|&v| f(v)).collect() };
        let cases: Vec<(u16, u16, Vec<u8>, f64)> = vec![
            (
                1,
                8,
                encode(&|v| vec![(v * 127.0 + 128.0).round() as u8]),
                1.0 / 64.0,
            ),
            (
                1,
                16,
                encode(&|v| ((v * 32_767.0).round() as i16).to_le_bytes().to_vec()),
                1e-4,
            ),
            (
                1,
                24,
                encode(&|v| ((v * 8_388_607.0).round() as i32).to_le_bytes()[..3].to_vec()),
                1e-6,
            ),
            (
                1,
                32,
                encode(&|v| {
                    ((v * 2_147_483_647.0).round() as i32)
                        .to_le_bytes()
                        .to_vec()
                }),
                1e-6,
            ),
            (3, 32, encode(&|v| (v as f32).to_le_bytes().to_vec()), 1e-7),
        ];
        for (format, bits, data, tolerance) in cases {
            let (samples, rate) = decode(&wav(format, 1, 8_000, bits, &data))
                .unwrap_or_else(|e| panic!("{bits}-bit: {e}"));
            assert_eq!(rate, 8_000);
            assert_close(&samples, &signal, tolerance);
        }
    }

    #[test]
    fn channels_are_averaged() {
        // Left: the tone; right: silence; a third channel: the tone again.
        let signal = tone(16_000, 0.05);
        let data: Vec<u8> = signal
            .iter()
            .flat_map(|&v| {
                let s = ((v * 32_767.0).round() as i16).to_le_bytes();
                [s, [0, 0], s].concat()
            })
            .collect();
        let (samples, rate) = decode(&wav(1, 3, 16_000, 16, &data)).expect("decodes");
        assert_eq!(rate, 16_000);
        let want: Vec<f64> = signal.iter().map(|v| v * 2.0 / 3.0).collect();
        assert_close(&samples, &want, 1e-4);
    }

    #[test]
    fn other_rates_come_out_at_16_khz() {
        let signal = tone(22_050, 0.5);
        let data: Vec<u8> = signal
            .iter()
            .flat_map(|&v| ((v * 32_767.0).round() as i16).to_le_bytes())
            .collect();
        let bytes = wav(1, 1, 22_050, 16, &data);
        let samples = decode_16k_mono(&bytes, "a.wav", "audio/wav", 60.0).expect("decodes");
        assert_eq!(samples.len(), 8_000);
    }

    #[test]
    fn every_claimed_codec_is_built_in() {
        use symphonia::core::codecs::{
            CODEC_TYPE_FLAC, CODEC_TYPE_MP3, CODEC_TYPE_PCM_F32LE, CODEC_TYPE_PCM_S24LE,
            CODEC_TYPE_PCM_U8, CODEC_TYPE_VORBIS,
        };
        let codecs = symphonia::default::get_codecs();
        for codec in [
            CODEC_TYPE_PCM_U8,
            CODEC_TYPE_PCM_S24LE,
            CODEC_TYPE_PCM_F32LE,
            CODEC_TYPE_FLAC,
            CODEC_TYPE_MP3,
            CODEC_TYPE_VORBIS,
        ] {
            assert!(codecs.get_codec(codec).is_some(), "{codec}");
        }
    }

    #[test]
    fn unreadable_empty_and_long_clips_are_refused() {
        let garbage = b"this is not audio at all, just some text bytes".repeat(20);
        let e = decode_16k_mono(&garbage, "x.wav", "audio/wav", 60.0).unwrap_err();
        assert!(matches!(e, AudioError::Undecodable { .. }), "{e}");
        assert!(e.to_string().contains("x.wav"), "{e}");

        let e = decode_16k_mono(&[], "x.wav", "audio/wav", 60.0).unwrap_err();
        assert_eq!(
            e,
            AudioError::Empty {
                file: "x.wav".into()
            }
        );
        let e = decode_16k_mono(&wav(1, 1, 16_000, 16, &[]), "x.wav", "", 60.0).unwrap_err();
        assert_eq!(
            e,
            AudioError::Empty {
                file: "x.wav".into()
            }
        );

        let data = vec![0u8; 2 * 8_000 * 3];
        let e = decode_16k_mono(&wav(1, 1, 8_000, 16, &data), "x.wav", "", 2.0).unwrap_err();
        assert!(matches!(e, AudioError::TooLong { .. }), "{e}");
        assert!(e.to_string().contains("3.0 s"), "{e}");
    }
}
