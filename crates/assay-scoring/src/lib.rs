//! Assay's scoring: output extraction, built-in metrics, aggregation and statistics.
//!
//! Pure code — no IO, no async. The engine calls it per sample ([`mod@extract`], then
//! [`metrics`]) and once per task and metric when a run finalizes ([`mod@aggregate`]).
//!
//! # Scoring a sample
//!
//! 1. **Extraction** ([`extract::Extractor`]) turns the model's `output_text` into the
//!    `extracted_output` (or finds nothing) according to the task's `output_extraction`.
//! 2. **Metrics** compare the extracted output with the rendered target (and the task's
//!    `choices`). A target that is a JSON array of strings, e.g. `["Paris", "City of
//!    Light"]`, lists several acceptable answers: `bleu` uses them all as references, every
//!    other metric takes the best score over them.
//! 3. **Aggregation** rolls a metric's per-sample values up to the task: mean, sample
//!    standard deviation, standard error and confidence intervals.
//!
//! When extraction finds nothing, every built-in metric scores the sample 0 — but the error
//! rates `wer` and `cer`, which score it as an empty transcript.
//!
//! # Built-in metrics
//!
//! Every built-in metric gives each sample a value in **[0, 1]**, higher is better — but the
//! error rates `wer` and `cer`: **0 or more, lower is better**.
//! "Normalized" below means SQuAD answer normalization: Unicode NFC, lowercase, punctuation
//! and symbols deleted, the articles *a*, *an*, *the* dropped, whitespace collapsed
//! (`"The Eiffel-Tower!"` → `"eiffeltower"`).
//!
//! | id | value | definition |
//! |---|---|---|
//! | `accuracy` | 0 or 1 | 1 when the prediction names the target choice. The target names a choice by its text, a letter (`B`, `(B)`) or a 0-based index (`1`). The prediction names one by its text (exact, then normalized), by a letter (`B`, `b`, `(B)`, `B.`, `B) Paris`, `Answer: B`, `the answer is (B)`), by a 0-based index, or by containing exactly one choice's text as whole words (the longest, when one choice contains another: `not sure` over `sure`). Without choices, or when the target names none: normalized equality, or the same option letter. |
//! | `exact_match` | 0 or 1 | 1 when the normalized prediction equals the normalized target. For `numeric` and `math` tasks, when both read as numbers they must be equal within a relative tolerance of 10⁻⁶ (absolute 10⁻¹²): thousands separators, currency, `%`, trailing unit words, fractions (`3/4`, `\frac{3}{4}`, `\dfrac`), scientific notation, `\boxed{…}`, `$…$` and `x = …` are understood; otherwise LaTeX answers are also compared after normalization (`\dfrac{\sqrt3}{2}` = `\frac{\sqrt{3}}{2}`). |
//! | `f1` | [0, 1] | SQuAD token F1 between the normalized prediction and target: with c the number of shared tokens (counted with multiplicity), precision = c / prediction tokens, recall = c / target tokens, F1 = 2·P·R / (P + R). 1 when both are empty, 0 when only one is. |
//! | `contains` | 0 or 1 | 1 when the normalized target occurs in the normalized prediction as whole words (`4` is not in `14`). An empty target is contained only in an empty prediction. |
//! | `regex_match` | 0 or 1 | 1 when the target, read as a regular expression (look-around, back-references and inline flags such as `(?i)` allowed), matches anywhere in the prediction; anchor it with `^…$` to require a full match. A target that is not a valid regular expression is searched for literally. |
//! | `rouge1` | [0, 1] | ROUGE-1 F-measure: unigram overlap, F = 2·P·R / (P + R). |
//! | `rouge2` | [0, 1] | ROUGE-2 F-measure: bigram overlap. |
//! | `rougeL` | [0, 1] | ROUGE-L F-measure: longest common subsequence of tokens, P = LCS / prediction tokens, R = LCS / target tokens (over the whole text, not the per-line `rougeLsum`). |
//! | `bleu` | [0, 1] | Sentence BLEU as sacreBLEU's `sentence_bleu` computes it by default — `13a` tokenization, case-sensitive, n-grams up to 4, brevity penalty, `exp` smoothing, effective order — divided by 100. |
//! | `chrf` | [0, 1] | chrF as sacreBLEU computes it by default — character n-grams up to 6 with whitespace removed, case-sensitive, β = 2 (recall weighted 4× precision) — divided by 100. |
//! | `wer` | ≥ 0, lower is better | Word error rate: the word-level Levenshtein distance (substitutions + deletions + insertions) between the transcript-normalized prediction and target, over the target's word count. Above 1 when insertions outnumber the target's words. |
//! | `cer` | ≥ 0, lower is better | Character error rate: the same over characters (Unicode scalar values; the single spaces between words count). |
//!
//! ROUGE tokenization: lowercase, then each maximal run of letters and digits is a token
//! (no stemming, no stop words). On English text this is rouge-score's default tokenizer
//! (`use_stemmer=False`); letters and digits of other scripts count too, so non-English
//! summaries are not scored as empty. Precision and recall use clipped n-gram counts;
//! either side without tokens scores 0.
//!
//! Transcript normalization, for `wer` and `cer` ([`normalize::normalize_transcript`]), on
//! both sides: Unicode NFKC, lowercase, every punctuation character (general category P)
//! deleted without leaving a space (`don't` → `dont`; symbols and emoji stay), runs of
//! whitespace collapsed to one space, leading and trailing space trimmed; words are split on
//! the spaces. This is Python jiwer's `Compose([NFKC, ToLowerCase(), RemovePunctuation(),
//! SubstituteRegexes({r"\s+": " "}), Strip(), ReduceToListOfListOfWords()])` (or
//! `ReduceToListOfListOfChars()`), which a reference fixture checks. A target that
//! normalizes to nothing scores the number of predicted words (characters) — every one an
//! insertion — so 0 when the prediction is empty too, as jiwer 4 does; a missing prediction
//! is an empty one (1 against a non-empty target). Over several gold answers the lowest rate
//! counts.
//!
//! ## Default metrics
//!
//! A task that declares no `metrics` and has no grader is scored with
//! [`metrics::default_metric_ids`]: `classification` and `multiple_choice` → `accuracy`;
//! `qa` → `exact_match`, `f1`; `numeric` and `math` → `exact_match`; `summarization` →
//! `rouge1`, `rouge2`, `rougeL`; `semantic_similarity`, `llm_judge`, `custom`,
//! `transcription`, `embedding` → none (a grader, a judge or the embedding path scores
//! them).
//!
//! # Extraction
//!
//! See [`mod@extract`] for the table of extraction types; in short: `none` keeps the output as
//! generated, `take_first` keeps the first non-blank lines, `regex`/`regex_last` take the
//! first/last match (or a group of it), `label_set` finds which label the output names,
//! `number` takes the last number in canonical form.
//!
//! # Aggregation
//!
//! See [`mod@aggregate`]: over the n finite values (NaN and infinities are left out and
//! counted), mean = Σx/n, std = √(Σ(x − mean)² / (n − 1)), stderr = std/√n (none when
//! n < 2), Wald 95% interval mean ± 1.959964·stderr, and an optional seeded percentile
//! bootstrap interval.
//!
//! The error rates also have a corpus-level value, `wer_corpus` / `cer_corpus`
//! ([`metrics::BuiltinMetric::corpus_id`]): a task's total edits over its total reference
//! words (characters), summed from each sample's [`metrics::EditCounts`] by
//! [`aggregate::EditTally`]. It weighs samples by their length, unlike the mean of the
//! per-sample rates.
//!
//! # Comparing two runs
//!
//! [`paired`] holds the statistics for two runs (or models) that scored the same samples:
//! the mean per-sample difference with its paired standard error and a seeded percentile
//! bootstrap interval that resamples the pairs ([`paired::paired_bootstrap`]), and, for 0/1
//! metrics ([`paired::is_binary`]), McNemar's test with the exact binomial and the
//! continuity-corrected chi-square p-values as statsmodels computes them
//! ([`paired::mcnemar`]), which a reference fixture checks.
//!
//! # Embedding evaluation
//!
//! [`embedding`] scores embedding models: cosine similarity with Pearson and Spearman
//! correlation against gold similarity scores; linear-probe classification (seeded
//! undersampling, L2 logistic regression, accuracy, macro F1, average precision);
//! multilabel classification with a 5-nearest-neighbours probe (subset accuracy, macro
//! F1, label ranking average precision, hamming score); and retrieval metrics per query
//! (nDCG@k, MAP@k, recall@k, precision@k as trec_eval computes them, and MRR@k).

pub mod aggregate;
pub mod embedding;
pub mod extract;
pub mod judge;
pub mod metrics;
pub mod normalize;
pub mod number;
pub mod paired;

pub use aggregate::{aggregate, aggregate_with, bootstrap_ci, Accumulator, EditTally, Summary};
pub use extract::{extract, ExtractError, Extractor};
pub use metrics::{
    builtin, default_metric_ids, BuiltinMetric, EditCounts, MetricInput, BUILTIN_IDS,
};
pub use paired::{
    is_binary, mcnemar, mcnemar_from_scores, paired_bootstrap, paired_bootstrap_diffs, McNemar,
    PairedError, PairedInterval,
};
