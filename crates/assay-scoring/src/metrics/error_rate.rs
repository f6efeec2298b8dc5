//! Transcription error rates: `wer` over words and `cer` over characters, as the Levenshtein
//! distance between the normalized hypothesis and reference divided by the reference length.

use serde::{Deserialize, Serialize};

use crate::normalize::{transcript_chars, transcript_words};

/// The edit counts behind one error-rate value: the Levenshtein distance between hypothesis
/// and reference (substitutions + deletions + insertions, each costing 1) and the reference
/// length, in words for `wer` and in characters for `cer`.
///
/// Summing the counts of several samples (`+`, [`Sum`](std::iter::Sum)) and taking
/// [`rate`](Self::rate) gives the corpus-level rate, total edits over total reference
/// length — which differs from the mean of the per-sample rates, since long references
/// weigh more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EditCounts {
    /// Substitutions + deletions + insertions of the cheapest alignment.
    pub edits: u64,
    /// Words (`wer`) or characters (`cer`) in the normalized reference.
    pub reference_len: u64,
}

impl EditCounts {
    /// `edits / max(1, reference_len)`: the error rate, `0` for a perfect hypothesis, above
    /// `1` when insertions outnumber the reference. An empty reference gives the number of
    /// inserted words or characters (0 when the hypothesis is empty too), as Python `jiwer`
    /// 4.0 does.
    pub fn rate(&self) -> f64 {
        self.edits as f64 / self.reference_len.max(1) as f64
    }
}

impl std::ops::Add for EditCounts {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            edits: self.edits + other.edits,
            reference_len: self.reference_len + other.reference_len,
        }
    }
}

impl std::ops::AddAssign for EditCounts {
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

impl std::iter::Sum for EditCounts {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |a, b| a + b)
    }
}

/// The Levenshtein distance between `a` and `b`: the fewest substitutions, deletions and
/// insertions of single items that turn one into the other. O(|a|·|b|) time, O(min) memory.
pub fn levenshtein<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    // row[j]: distance between the prefix of `long` seen so far and short[..j].
    let mut row: Vec<usize> = (0..=short.len()).collect();
    for (i, x) in long.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in short.iter().enumerate() {
            let substitution = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(diagonal + 1).min(row[j] + 1);
        }
    }
    row[short.len()]
}

/// The counts of one (hypothesis, reference) pair of word or character sequences.
fn counts<T: PartialEq>(hypothesis: &[T], reference: &[T]) -> EditCounts {
    EditCounts {
        edits: levenshtein(hypothesis, reference) as u64,
        reference_len: reference.len() as u64,
    }
}

/// Word-level counts for `wer`: the Levenshtein distance between the
/// [`transcript_words`](crate::normalize::transcript_words) of `hypothesis` and `reference`,
/// and the reference's word count.
pub fn wer_counts(hypothesis: &str, reference: &str) -> EditCounts {
    counts(&transcript_words(hypothesis), &transcript_words(reference))
}

/// Character-level counts for `cer`: the Levenshtein distance between the
/// [`transcript_chars`](crate::normalize::transcript_chars) of `hypothesis` and `reference`
/// (spaces between words count as characters), and the reference's character count.
pub fn cer_counts(hypothesis: &str, reference: &str) -> EditCounts {
    counts(&transcript_chars(hypothesis), &transcript_chars(reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levenshtein_by_hand() {
        let d = |a: &str, b: &str| {
            levenshtein(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("sitting", "kitten"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("", ""), 0);
        assert_eq!(d("flaw", "lawn"), 2);
        assert_eq!(d("abc", "abc"), 0);
        assert_eq!(d("ab", "ba"), 2); // no transpositions
    }

    #[test]
    fn word_error_rate() {
        // One substitution (sat → sit), one deletion (the), one insertion (down): 3 / 6.
        let c = wer_counts("The cat sit on mat down", "the cat sat on the mat.");
        assert_eq!(
            c,
            EditCounts {
                edits: 3,
                reference_len: 6
            }
        );
        assert_eq!(c.rate(), 0.5);
        assert_eq!(wer_counts("Hello, World!", "hello world").rate(), 0.0);
        // Insertions can push the rate past 1.
        assert_eq!(wer_counts("a b c d", "x").rate(), 4.0);
        assert_eq!(wer_counts("", "one two").rate(), 1.0);
    }

    #[test]
    fn character_error_rate() {
        // "hello world" vs "helo world": one deletion over 11 characters.
        let c = cer_counts("Helo world", "hello world");
        assert_eq!((c.edits, c.reference_len), (1, 11));
        assert_eq!(cer_counts("今天天气很好", "今天天气很好。").rate(), 0.0);
        assert_eq!(cer_counts("今天天气不好", "今天天气很好").rate(), 1.0 / 6.0);
        // Decomposed and precomposed accents are the same character after NFKC.
        assert_eq!(cer_counts("cafe\u{301}", "café").rate(), 0.0);
    }

    #[test]
    fn empty_reference() {
        assert_eq!(wer_counts("", "").rate(), 0.0);
        assert_eq!(wer_counts("?!", "...").rate(), 0.0);
        let c = wer_counts("two words", "");
        assert_eq!(
            c,
            EditCounts {
                edits: 2,
                reference_len: 0
            }
        );
        assert_eq!(c.rate(), 2.0);
        assert_eq!(cer_counts("ab", " ").rate(), 2.0);
    }

    #[test]
    fn corpus_sums_counts() {
        let samples = [
            wer_counts("a b", "a b c d"), // 2 / 4
            wer_counts("x", "y"),         // 1 / 1
        ];
        let total: EditCounts = samples.iter().copied().sum();
        assert_eq!(
            total,
            EditCounts {
                edits: 3,
                reference_len: 5
            }
        );
        assert_eq!(total.rate(), 0.6);
        // The mean of the per-sample rates is (0.5 + 1) / 2 = 0.75.
        let mut acc = EditCounts::default();
        acc += samples[0];
        acc += samples[1];
        assert_eq!(acc, total);
    }
}
