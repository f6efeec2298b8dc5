//! Sample-rate conversion by a polyphase windowed-sinc filter.
//!
//! The ratio of the two rates is reduced to `up / down`; output sample `n` sits at input
//! position `n · down / up`, whose fractional part is one of `up` phases. Each phase has its
//! own taps, computed once: a sinc low-pass at the lower of the two Nyquist frequencies (a
//! little below it, so the transition band ends before aliasing starts), shaped by a Kaiser
//! window and normalized to a gain of exactly 1 at DC. Samples beyond either end count as
//! silence.

use std::f64::consts::PI;

/// Zero crossings of the sinc on each side of the centre: the filter's length, so its
/// steepness.
const ZERO_CROSSINGS: f64 = 16.0;
/// Cutoff as a fraction of the lower Nyquist frequency: the pass band ends here, and the
/// stop band starts near the Nyquist frequency itself.
const ROLLOFF: f64 = 0.94;
/// Kaiser window β: about 80 dB of stop-band attenuation.
const KAISER_BETA: f64 = 8.0;

/// `input` at `from` Hz, resampled to `to` Hz (both > 0). The output has
/// `ceil(len · to / from)` samples. Memory for the filter table grows with
/// `to / gcd(from, to)` (at most `to` phases) times the taps per phase (about 35 when
/// downsampling 2:1).
pub(crate) fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let g = gcd(from, to);
    let (up, down) = (u64::from(to / g), u64::from(from / g));
    let filter = Filter::new(up as usize, down as usize);
    let out_len = (input.len() as u64 * up).div_ceil(down) as usize;
    let half = filter.half as i64;
    let len = input.len() as i64;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len as u64 {
        let position = n * down;
        let (i, phase) = ((position / up) as i64, (position % up) as usize);
        let taps = filter.phase(phase);
        // Tap k multiplies input sample i - half + 1 + k.
        let first = i - half + 1;
        let (skip, start) = if first < 0 {
            ((-first) as usize, 0usize)
        } else {
            (0, first as usize)
        };
        let end = (first + taps.len() as i64).min(len);
        let mut acc = 0.0f32;
        if (start as i64) < end {
            let samples = &input[start..end as usize];
            for (x, h) in samples.iter().zip(&taps[skip..]) {
                acc += x * h;
            }
        }
        out.push(acc);
    }
    out
}

/// One table of taps per phase.
struct Filter {
    /// Taps on each side of the centre (so `2 · half` per phase).
    half: usize,
    taps: Vec<f32>,
}

impl Filter {
    fn new(up: usize, down: usize) -> Self {
        // Cutoff relative to the input's Nyquist frequency.
        let cutoff = (up as f64 / down as f64).min(1.0) * ROLLOFF;
        let reach = ZERO_CROSSINGS / cutoff; // in input samples
        let half = reach.ceil() as usize;
        let width = 2 * half;
        let mut taps = Vec::with_capacity(up * width);
        let norm = bessel_i0(KAISER_BETA);
        for phase in 0..up {
            let frac = phase as f64 / up as f64;
            let mut sum = 0.0f64;
            let row: Vec<f64> = (0..width)
                .map(|k| {
                    let x = (k as f64 - half as f64 + 1.0) - frac;
                    let r = x / reach;
                    let h = if r.abs() >= 1.0 {
                        0.0
                    } else {
                        let window = bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / norm;
                        cutoff * sinc(cutoff * x) * window
                    };
                    sum += h;
                    h
                })
                .collect();
            taps.extend(row.iter().map(|h| (h / sum) as f32));
        }
        Self { half, taps }
    }

    fn phase(&self, phase: usize) -> &[f32] {
        let width = 2 * self.half;
        &self.taps[phase * width..(phase + 1) * width]
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

/// The modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let quarter = x * x / 4.0;
    let (mut sum, mut term) = (1.0f64, 1.0f64);
    for k in 1..64 {
        term *= quarter / (k * k) as f64;
        sum += term;
        if term < sum * 1e-16 {
            break;
        }
    }
    sum
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, seconds: f64, amplitude: f64) -> Vec<f32> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| (amplitude * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as f32)
            .collect()
    }

    /// The root mean square of the middle of `x` (a tenth cut off each end: the filter's
    /// edges see silence beyond the signal).
    fn rms(x: &[f32]) -> f64 {
        let cut = x.len() / 10;
        let mid = &x[cut..x.len() - cut];
        (mid.iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            / mid.len() as f64)
            .sqrt()
    }

    /// The amplitude of the component at `freq` in the middle of `x` (a single DFT bin over a
    /// whole number of periods).
    fn amplitude_at(x: &[f32], rate: u32, freq: f64) -> f64 {
        let cut = x.len() / 10;
        let period = f64::from(rate) / freq;
        let periods = ((x.len() - 2 * cut) as f64 / period).floor();
        let n = (periods * period).round() as usize;
        let mid = &x[cut..cut + n];
        let (mut re, mut im) = (0.0f64, 0.0f64);
        for (i, &v) in mid.iter().enumerate() {
            let angle = 2.0 * PI * freq * i as f64 / f64::from(rate);
            re += f64::from(v) * angle.cos();
            im += f64::from(v) * angle.sin();
        }
        2.0 * (re * re + im * im).sqrt() / n as f64
    }

    /// Sign changes in the middle of `x`, per second.
    fn crossings_per_second(x: &[f32], rate: u32) -> f64 {
        let cut = x.len() / 10;
        let mid = &x[cut..x.len() - cut];
        let changes = mid
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        changes as f64 / (mid.len() as f64 / f64::from(rate))
    }

    #[test]
    fn a_sine_keeps_its_frequency_and_energy_from_22050_to_16000() {
        let input = sine(440.0, 22_050, 2.0, 0.5);
        let out = resample(&input, 22_050, 16_000);
        assert_eq!(out.len(), 32_000);
        // Two zero crossings per period.
        let hz = crossings_per_second(&out, 16_000) / 2.0;
        assert!((hz - 440.0).abs() < 2.0, "{hz} Hz");
        let (before, after) = (rms(&input), rms(&out));
        assert!(
            (after / before - 1.0).abs() < 0.005,
            "rms {before} → {after}"
        );
        assert!((amplitude_at(&out, 16_000, 440.0) - 0.5).abs() < 0.005);
    }

    #[test]
    fn every_common_rate_reaches_16000_intact() {
        for rate in [
            8_000, 11_025, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000,
        ] {
            let input = sine(1_000.0, rate, 1.0, 0.8);
            let out = resample(&input, rate, 16_000);
            assert_eq!(out.len(), 16_000, "{rate} Hz");
            let a = amplitude_at(&out, 16_000, 1_000.0);
            assert!((a - 0.8).abs() < 0.01, "{rate} Hz: amplitude {a}");
            let hz = crossings_per_second(&out, 16_000) / 2.0;
            assert!((hz - 1_000.0).abs() < 3.0, "{rate} Hz: {hz} Hz");
        }
    }

    #[test]
    fn content_above_the_new_nyquist_frequency_is_removed_not_folded() {
        // 10 kHz at 44.1 kHz would alias to 6 kHz at 16 kHz.
        let input = sine(10_000.0, 44_100, 1.0, 0.8);
        let out = resample(&input, 44_100, 16_000);
        let folded = amplitude_at(&out, 16_000, 6_000.0);
        assert!(folded < 0.8 * 1e-3, "aliased component {folded}");
        assert!(rms(&out) < 1e-3, "rms {}", rms(&out));
        // A tone inside the pass band survives the same filter.
        let kept = resample(&sine(6_000.0, 44_100, 1.0, 0.8), 44_100, 16_000);
        assert!((amplitude_at(&kept, 16_000, 6_000.0) - 0.8).abs() < 0.01);
    }

    #[test]
    fn constant_signals_and_identity() {
        let input = vec![0.25f32; 4_000];
        let out = resample(&input, 44_100, 16_000);
        let cut = out.len() / 10;
        for v in &out[cut..out.len() - cut] {
            assert!((v - 0.25).abs() < 1e-5, "{v}");
        }
        assert_eq!(resample(&input, 16_000, 16_000), input);
        assert!(resample(&[], 8_000, 16_000).is_empty());
        assert_eq!(gcd(22_050, 16_000), 50);
        assert!((bessel_i0(0.0) - 1.0).abs() < 1e-15);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-12);
    }
}
