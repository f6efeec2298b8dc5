//! Reference-overlap metrics: ROUGE-1/2/L, sentence BLEU and chrF.

use crate::normalize::rouge_tokens;
use regex::Regex;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::LazyLock;

/// Counts of every length-`n` window of `items`.
fn ngram_counts<T: Eq + Hash>(items: &[T], n: usize) -> HashMap<&[T], usize> {
    let mut counts = HashMap::new();
    if n > 0 && items.len() >= n {
        for w in items.windows(n) {
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    counts
}

/// Size of the multiset intersection of two n-gram counts.
fn overlap<K: Eq + Hash>(a: &HashMap<K, usize>, b: &HashMap<K, usize>) -> usize {
    a.iter()
        .map(|(k, &n)| b.get(k).map_or(0, |&m| n.min(m)))
        .sum()
}

/// F1 of a precision and a recall; 0 when both are 0.
fn f_measure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// ROUGE-N F-measure over [`rouge_tokens`]: with `c` the clipped n-gram overlap,
/// precision = c / (prediction n-grams), recall = c / (target n-grams), F = 2PR/(P+R);
/// 0 when either side has no n-gram.
pub(crate) fn rouge_n(prediction: &str, target: &str, n: usize) -> f64 {
    let p = rouge_tokens(prediction);
    let t = rouge_tokens(target);
    let pc = ngram_counts(&p, n);
    let tc = ngram_counts(&t, n);
    let p_total = p.len().saturating_sub(n - 1);
    let t_total = t.len().saturating_sub(n - 1);
    if p_total == 0 || t_total == 0 {
        return 0.0;
    }
    let c = overlap(&pc, &tc) as f64;
    f_measure(c / p_total as f64, c / t_total as f64)
}

/// Length of the longest common subsequence of two token sequences (O(|a|·|b|) time,
/// O(|b|) memory).
fn lcs_len<T: Eq>(a: &[T], b: &[T]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Maps tokens to small integer ids, shared through `ids`.
fn intern<'a>(ids: &mut HashMap<&'a str, usize>, tokens: &'a [String]) -> Vec<usize> {
    tokens
        .iter()
        .map(|s| {
            let next = ids.len();
            *ids.entry(s.as_str()).or_insert(next)
        })
        .collect()
}

/// ROUGE-L F-measure: precision = LCS / |prediction tokens|, recall = LCS / |target tokens|,
/// F = 2PR/(P+R) (sentence-level ROUGE-L over the whole text, not the newline-split
/// `rougeLsum`); 0 when either side has no token.
pub(crate) fn rouge_l(prediction: &str, target: &str) -> f64 {
    let p = rouge_tokens(prediction);
    let t = rouge_tokens(target);
    if p.is_empty() || t.is_empty() {
        return 0.0;
    }
    // Compare token ids instead of strings.
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let pi = intern(&mut ids, &p);
    let ti = intern(&mut ids, &t);
    let l = lcs_len(&pi, &ti) as f64;
    f_measure(l / p.len() as f64, l / t.len() as f64)
}

/// sacreBLEU's `13a` (mteval-v13a) tokenizer rules, applied in order.
static TOKENIZE_13A: LazyLock<[(Regex, &'static str); 4]> = LazyLock::new(|| {
    [
        // Symbols and most ASCII punctuation become separate tokens.
        (Regex::new(r"([\{-\~\[-` -\&\(-\+:-@/])").unwrap(), " ${1} "),
        // Period and comma, unless preceded by a digit.
        (Regex::new(r"([^0-9])([\.,])").unwrap(), "${1} ${2} "),
        // Period and comma, unless followed by a digit.
        (Regex::new(r"([\.,])([^0-9])").unwrap(), " ${1} ${2}"),
        // A dash preceded by a digit.
        (Regex::new(r"([0-9])(-)").unwrap(), "${1} ${2} "),
    ]
});

/// sacreBLEU's default `13a` tokenization: drops `<skipped>`, joins `-\n` hyphenation,
/// turns newlines into spaces, unescapes `&quot; &amp; &lt; &gt;`, then splits off
/// punctuation as mteval-v13a does (periods and commas stay inside numbers: `3.5`, `1,000`).
pub(crate) fn tokenize_13a(text: &str) -> Vec<String> {
    let mut line = text
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut line = format!(" {line} ");
    for (re, replacement) in TOKENIZE_13A.iter() {
        line = re.replace_all(&line, *replacement).into_owned();
    }
    line.split_whitespace().map(str::to_string).collect()
}

/// Largest n-gram order of BLEU.
const BLEU_ORDER: usize = 4;

/// Sentence BLEU exactly as sacreBLEU's `sentence_bleu` computes it by default (13a
/// tokenization, case-sensitive, `exp` smoothing, effective order), divided by 100:
///
/// - `m_n` = clipped matches of n-grams (each n-gram's count capped by its largest count in
///   any one reference), `t_n` = n-grams in the prediction, for n = 1..4;
/// - 0 when no n-gram of any order matches;
/// - precisions p_n = m_n / t_n; when m_n = 0 the `exp` smoothing uses 1 / (2^k · t_n), k
///   counting the orders with no match so far;
/// - effective order N = the largest n with t_n > 0 (short predictions are not punished for
///   having no 4-grams);
/// - brevity penalty BP = 1 if c ≥ r, else exp(1 − r/c), with c the prediction's length
///   and r the length of the reference closest to it (the shorter one on a tie);
/// - BLEU = BP · exp((1/N) Σ_{n≤N} ln p_n).
pub(crate) fn bleu(prediction: &str, references: &[String]) -> f64 {
    let hyp = tokenize_13a(prediction);
    let refs: Vec<Vec<String>> = references.iter().map(|r| tokenize_13a(r)).collect();
    if refs.is_empty() {
        return 0.0;
    }
    let c = hyp.len();
    let r = refs
        .iter()
        .map(Vec::len)
        .min_by_key(|&len| (len.abs_diff(c), len))
        .unwrap_or(0);
    let mut matches = [0usize; BLEU_ORDER];
    let mut totals = [0usize; BLEU_ORDER];
    for n in 1..=BLEU_ORDER {
        let hc = ngram_counts(&hyp, n);
        let mut max_ref: HashMap<&[String], usize> = HashMap::new();
        for rt in &refs {
            for (g, k) in ngram_counts(rt, n) {
                let e = max_ref.entry(g).or_insert(0);
                *e = (*e).max(k);
            }
        }
        matches[n - 1] = overlap(&hc, &max_ref);
        totals[n - 1] = c.saturating_sub(n - 1);
    }
    if matches.iter().all(|&m| m == 0) {
        return 0.0;
    }
    let bp = if c < r {
        (1.0 - r as f64 / c as f64).exp()
    } else {
        1.0
    };
    let mut log_sum = 0.0;
    let mut order = 0;
    let mut smooth = 1.0;
    for n in 0..BLEU_ORDER {
        if totals[n] == 0 {
            break;
        }
        order = n + 1;
        let p = if matches[n] == 0 {
            smooth *= 2.0;
            1.0 / (smooth * totals[n] as f64)
        } else {
            matches[n] as f64 / totals[n] as f64
        };
        log_sum += p.ln();
    }
    (bp * (log_sum / order as f64).exp()).clamp(0.0, 1.0)
}

/// Largest character n-gram order of chrF.
const CHRF_ORDER: usize = 6;
/// chrF's β: recall weighs β² = 4 times as much as precision.
const CHRF_BETA: f64 = 2.0;

/// Per-order (prediction n-grams, reference n-grams, matches).
fn chrf_stats(hyp: &[char], reference: &[char]) -> [(usize, usize, usize); CHRF_ORDER] {
    let mut stats = [(0, 0, 0); CHRF_ORDER];
    for (i, s) in stats.iter_mut().enumerate() {
        let n = i + 1;
        let hc = ngram_counts(hyp, n);
        let rc = ngram_counts(reference, n);
        *s = (
            hyp.len().saturating_sub(n - 1),
            reference.len().saturating_sub(n - 1),
            overlap(&hc, &rc),
        );
    }
    stats
}

fn chrf_score(stats: &[(usize, usize, usize); CHRF_ORDER]) -> f64 {
    let factor = CHRF_BETA * CHRF_BETA;
    let (mut avg_p, mut avg_r, mut order) = (0.0, 0.0, 0usize);
    for &(h, r, m) in stats {
        if h > 0 && r > 0 {
            avg_p += m as f64 / h as f64;
            avg_r += m as f64 / r as f64;
            order += 1;
        }
    }
    if order == 0 {
        return 0.0;
    }
    avg_p /= order as f64;
    avg_r /= order as f64;
    if avg_p + avg_r > 0.0 {
        (1.0 + factor) * avg_p * avg_r / (factor * avg_p + avg_r)
    } else {
        0.0
    }
}

/// chrF as sacreBLEU computes it by default (`CHRF()`: char order 6, no word n-grams,
/// β = 2, whitespace removed, case-sensitive), divided by 100: for each n = 1..6 where both
/// texts have character n-grams, precision P_n and recall R_n of the clipped n-gram
/// overlap; P and R are their averages over those orders; chrF = (1+β²)·P·R / (β²·P + R),
/// 0 when P + R = 0 or no order qualifies.
pub(crate) fn chrf(prediction: &str, target: &str) -> f64 {
    let strip = |s: &str| -> Vec<char> { s.chars().filter(|c| !c.is_whitespace()).collect() };
    chrf_score(&chrf_stats(&strip(prediction), &strip(target)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn refs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rouge_by_hand() {
        // pred: the cat sat on the mat (6 tokens); target: the cat is on the mat (6 tokens)
        // unigrams: the×2, cat, on, mat match (sat/is do not) → 5/6 both ways → F = 5/6.
        let (p, t) = ("The cat sat on the mat.", "the cat is on the mat");
        assert!(close(rouge_n(p, t, 1), 5.0 / 6.0));
        // bigrams (5 each): "the cat", "on the", "the mat" match → 3/5 → F = 0.6.
        assert!(close(rouge_n(p, t, 2), 0.6));
        // LCS = the cat on the mat = 5 → F = 5/6.
        assert!(close(rouge_l(p, t), 5.0 / 6.0));

        // Reordered words: target "police killed the gunman", pred "the gunman police
        // killed". ROUGE-1: 4/4, 4/4 → 1; ROUGE-2: pred bigrams {the gunman, gunman police,
        // police killed}, target {police killed, killed the, the gunman} → 2 match → 2/3;
        // LCS: "the gunman" or "police killed" = 2 → P = R = 2/4 → 0.5.
        let (p, t) = ("the gunman police killed", "police killed the gunman");
        assert!(close(rouge_n(p, t, 1), 1.0));
        assert!(close(rouge_n(p, t, 2), 2.0 / 3.0));
        assert!(close(rouge_l(p, t), 0.5));

        // Different lengths: pred "a b c" (3), target "a b c d e" (5): R1 P=1, R=3/5 →
        // F = 2·0.6/1.6 = 0.75; R2: 2 of 2 pred bigrams, 2 of 4 target → P=1, R=.5 → 2/3;
        // LCS 3 → 0.75.
        assert!(close(rouge_n("a b c", "a b c d e", 1), 0.75));
        assert!(close(rouge_n("a b c", "a b c d e", 2), 2.0 / 3.0));
        assert!(close(rouge_l("a b c", "a b c d e"), 0.75));
    }

    #[test]
    fn rouge_edge_cases() {
        assert_eq!(rouge_n("", "abc", 1), 0.0);
        assert_eq!(rouge_n("abc", "", 1), 0.0);
        assert_eq!(rouge_n("", "", 1), 0.0); // as rouge-score
        assert_eq!(rouge_n("one", "one", 2), 0.0); // no bigrams
        assert_eq!(rouge_l("!!!", "abc"), 0.0);
        assert_eq!(rouge_n("Hello, World!", "hello world", 1), 1.0);
        assert_eq!(rouge_n("x y", "z w", 1), 0.0);
    }

    #[test]
    fn lcs_lengths() {
        assert_eq!(lcs_len(&[1, 2, 3, 4], &[2, 4, 3]), 2);
        assert_eq!(lcs_len::<u8>(&[], &[1]), 0);
        assert_eq!(lcs_len(&["a", "b", "c"], &["a", "b", "c"]), 3);
        assert_eq!(lcs_len(&[1, 3, 5, 7, 9], &[0, 1, 2, 3, 4, 5]), 3);
    }

    #[test]
    fn tokenizer_13a() {
        assert_eq!(
            tokenize_13a("Hello, world! It's 3.5 or 1,000 (approx.)."),
            vec![
                "Hello", ",", "world", "!", "It's", "3.5", "or", "1,000", "(", "approx", ".", ")",
                "."
            ]
        );
        assert_eq!(
            tokenize_13a("state-of-the-art 2-3"),
            vec!["state-of-the-art", "2", "-", "3"]
        );
        assert_eq!(tokenize_13a("a &amp; b<skipped>"), vec!["a", "&", "b"]);
        assert_eq!(
            tokenize_13a("line-\nbreak\nnext"),
            vec!["linebreak", "next"]
        );
        assert!(tokenize_13a("  ").is_empty());
    }

    #[test]
    fn bleu_by_hand() {
        assert!(close(
            bleu("the cat sat on the mat", &refs(&["the cat sat on the mat"])),
            1.0
        ));

        // hyp "the cat sat on the mat" (6 tokens), ref "the cat is on the mat" (6):
        // 1-grams: 5/6; 2-grams: {the cat, on the, the mat} 3/5; 3-grams: {on the mat} 1/4;
        // 4-grams: 0/3 → exp smoothing 1/(2·3) = 1/6. BP = 1.
        // BLEU = (5/6 · 3/5 · 1/4 · 1/6)^(1/4) = (1/48)^(1/4) ≈ 0.379918
        let b = bleu("the cat sat on the mat", &refs(&["the cat is on the mat"]));
        assert!(close(b, (1.0f64 / 48.0).powf(0.25)), "{b}");

        // Brevity penalty: hyp "the cat" (2) vs ref "the cat sat on the mat" (6):
        // p1 = 2/2, p2 = 1/1; effective order 2 → geo mean 1; BP = exp(1 − 6/2) = e^-2.
        let b = bleu("the cat", &refs(&["the cat sat on the mat"]));
        assert!(close(b, (-2.0f64).exp()), "{b}");

        // No match at all → 0; empty prediction → 0.
        assert_eq!(bleu("dog", &refs(&["the cat"])), 0.0);
        assert_eq!(bleu("", &refs(&["the cat"])), 0.0);
        // Case-sensitive like sacreBLEU: "The" ≠ "the".
        let b = bleu("The cat", &refs(&["the cat"]));
        // p1 = 1/2, p2 = 0/1 → 1/(2·1) = 1/2 → sqrt(1/4) = 0.5
        assert!(close(b, 0.5), "{b}");
    }

    #[test]
    fn bleu_multi_reference() {
        // hyp "the cat sat" (3). refs "the cat" (2) and "a cat sat down" (4): clipped
        // 1-grams: the (ref1), cat, sat → 3/3; 2-grams: "the cat" (ref1), "cat sat"
        // (ref2) → 2/2; 3-grams: 0/1 → 1/(2·1) = 1/2. Closest ref length to 3: 2 and 4 tie
        // → the shorter, 2 ≥ c? c = 3 ≥ 2 → BP = 1. BLEU = (1 · 1 · 1/2)^(1/3).
        let b = bleu("the cat sat", &refs(&["the cat", "a cat sat down"]));
        assert!(close(b, 0.5f64.powf(1.0 / 3.0)), "{b}");
    }

    #[test]
    fn chrf_by_hand() {
        assert!(close(chrf("abc", "abc"), 1.0));
        // Whitespace is ignored: "ab c" ≡ "abc".
        assert!(close(chrf("ab c", "abc"), 1.0));
        // hyp "ab", ref "abc":
        //   n=1: hyp {a,b} (2), ref {a,b,c} (3), match 2 → P 1, R 2/3
        //   n=2: hyp {ab} (1), ref {ab, bc} (2), match 1 → P 1, R 1/2
        //   n=3: hyp has none → order skipped. P = 1, R = (2/3 + 1/2)/2 = 7/12.
        //   chrF = 5·1·(7/12) / (4·1 + 7/12) = (35/12) / (55/12) = 7/11.
        assert!(close(chrf("ab", "abc"), 7.0 / 11.0));
        // hyp "abd", ref "abc": n=1 2/3, 2/3; n=2 {ab, bd} vs {ab, bc} → 1/2, 1/2;
        // n=3 0/1, 0/1. P = R = (2/3 + 1/2 + 0)/3 = 7/18 → chrF = 7/18.
        assert!(close(chrf("abd", "abc"), 7.0 / 18.0));
        assert_eq!(chrf("", "abc"), 0.0);
        assert_eq!(chrf("xyz", "abc"), 0.0);
        assert_eq!(chrf("", ""), 0.0);
    }
}
