//! `EvalEmbeddingConfig`: how an `embedding` task's rows are embedded and scored
//! (MTEB-style, by `kind`).

use super::Dataset;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Gateway ceiling on the characters of one embedded text (the bound of `max_chars`).
pub const MAX_CHARS_CEILING: i64 = 64_000;
/// Ceiling on the texts one embedding task may embed (the bound of `max_texts`).
pub const MAX_TEXTS_CEILING: i64 = 50_000;

/// Embedding settings of an `embedding` task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = EvalEmbeddingConfig)]
pub struct EmbeddingConfig {
    /// The evaluation: chooses the dataset layout and the reported metrics.
    pub kind: EmbeddingKind,
    /// Text to embed (classification, multilabel, queries, corpus documents).
    #[serde(default = "text")]
    #[schema(default = "text")]
    pub text_column: String,
    /// STS first sentence.
    #[serde(default = "sentence1")]
    #[schema(default = "sentence1")]
    pub text1_column: String,
    /// STS second sentence.
    #[serde(default = "sentence2")]
    #[schema(default = "sentence2")]
    pub text2_column: String,
    /// STS gold similarity; retrieval/reranking: relevance column of qrels rows.
    #[serde(default = "score")]
    #[schema(default = "score")]
    pub score_column: String,
    /// Classification label; multilabel: list of labels per row.
    #[serde(default = "label")]
    #[schema(default = "label")]
    pub label_column: String,
    /// Retrieval/reranking: id column of query and corpus rows.
    #[serde(default = "id")]
    #[schema(default = "_id")]
    pub id_column: String,
    /// Retrieval/reranking: optional corpus title, prepended to the document text.
    #[serde(default = "title")]
    #[schema(default = "title")]
    pub title_column: String,
    /// Query id column in qrels and top-ranked rows.
    #[serde(default = "query_id")]
    #[schema(default = "query-id")]
    pub query_id_column: String,
    /// Document id column in qrels rows.
    #[serde(default = "corpus_id")]
    #[schema(default = "corpus-id")]
    pub corpus_id_column: String,
    /// Reranking: candidate document id list per query (top-ranked rows).
    #[serde(default = "corpus_ids")]
    #[schema(default = "corpus-ids")]
    pub corpus_ids_column: String,
    /// Classification/multilabel training rows; required for those kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_dataset: Option<Dataset>,
    /// Retrieval/reranking corpus; required for those kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus_dataset: Option<Dataset>,
    /// Relevance judgements; required for retrieval/reranking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qrels_dataset: Option<Dataset>,
    /// Reranking candidates per query; required for reranking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_ranked_dataset: Option<Dataset>,
    /// Training rows sampled per label per experiment, 1 to 10000.
    #[serde(default = "samples_per_label")]
    #[schema(default = 8, minimum = 1, maximum = 10000)]
    pub samples_per_label: i64,
    /// Fit-and-score repetitions averaged, 1 to 100.
    #[serde(default = "n_experiments")]
    #[schema(default = 10, minimum = 1, maximum = 100)]
    pub n_experiments: i64,
    /// Seed for training-row sampling.
    #[serde(default = "seed")]
    #[schema(default = 42)]
    pub seed: i64,
    /// Cutoffs for nDCG, MAP, recall, precision and MRR: distinct values, 1 to 10000 each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub k_values: Option<Vec<i64>>,
    /// Each text is truncated to this many characters before embedding, 1 to 64000.
    #[serde(default = "max_chars")]
    #[schema(default = 60000, minimum = 1, maximum = 64000)]
    pub max_chars: i64,
    /// Preparation fails if the task would embed more texts than this, 1 to 50000.
    #[serde(default = "max_texts")]
    #[schema(default = 50000, minimum = 1, maximum = 50000)]
    pub max_texts: i64,
}

impl EmbeddingConfig {
    /// The auxiliary datasets that are set, with their field names, in declaration order.
    pub fn aux_datasets(&self) -> impl Iterator<Item = (&'static str, &Dataset)> {
        [
            ("train_dataset", &self.train_dataset),
            ("corpus_dataset", &self.corpus_dataset),
            ("qrels_dataset", &self.qrels_dataset),
            ("top_ranked_dataset", &self.top_ranked_dataset),
        ]
        .into_iter()
        .filter_map(|(name, ds)| ds.as_ref().map(|ds| (name, ds)))
    }

    /// The column settings with their field names, in declaration order.
    pub fn columns(&self) -> [(&'static str, &str); 10] {
        [
            ("text_column", self.text_column.as_str()),
            ("text1_column", self.text1_column.as_str()),
            ("text2_column", self.text2_column.as_str()),
            ("score_column", self.score_column.as_str()),
            ("label_column", self.label_column.as_str()),
            ("id_column", self.id_column.as_str()),
            ("title_column", self.title_column.as_str()),
            ("query_id_column", self.query_id_column.as_str()),
            ("corpus_id_column", self.corpus_id_column.as_str()),
            ("corpus_ids_column", self.corpus_ids_column.as_str()),
        ]
    }
}

impl EmbeddingKind {
    /// The auxiliary datasets this kind requires, by field name.
    pub fn required_datasets(self) -> &'static [&'static str] {
        match self {
            Self::Sts => &[],
            Self::Classification | Self::MultilabelClassification => &["train_dataset"],
            Self::Retrieval => &["corpus_dataset", "qrels_dataset"],
            Self::Reranking => &["corpus_dataset", "qrels_dataset", "top_ranked_dataset"],
        }
    }

    /// The wire spelling, e.g. `multilabel_classification`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sts => "sts",
            Self::Classification => "classification",
            Self::MultilabelClassification => "multilabel_classification",
            Self::Retrieval => "retrieval",
            Self::Reranking => "reranking",
        }
    }
}

fn text() -> String {
    "text".into()
}
fn sentence1() -> String {
    "sentence1".into()
}
fn sentence2() -> String {
    "sentence2".into()
}
fn score() -> String {
    "score".into()
}
fn label() -> String {
    "label".into()
}
fn id() -> String {
    "_id".into()
}
fn title() -> String {
    "title".into()
}
fn query_id() -> String {
    "query-id".into()
}
fn corpus_id() -> String {
    "corpus-id".into()
}
fn corpus_ids() -> String {
    "corpus-ids".into()
}
fn samples_per_label() -> i64 {
    8
}
fn n_experiments() -> i64 {
    10
}
fn seed() -> i64 {
    42
}
fn max_chars() -> i64 {
    60_000
}
fn max_texts() -> i64 {
    MAX_TEXTS_CEILING
}

/// The embedding evaluation of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingKind {
    /// Semantic textual similarity: cosine of two sentences against a gold score.
    Sts,
    /// Few-shot classifier over embeddings, trained on `train_dataset`.
    Classification,
    /// Like classification, with a list of labels per row.
    MultilabelClassification,
    /// Rank `corpus_dataset` per query, judged by `qrels_dataset`.
    Retrieval,
    /// Rank each query's candidates from `top_ranked_dataset`.
    Reranking,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults() {
        let e: EmbeddingConfig = serde_json::from_value(json!({"kind": "sts"})).unwrap();
        assert_eq!(e.kind, EmbeddingKind::Sts);
        assert_eq!(
            e.columns(),
            [
                ("text_column", "text"),
                ("text1_column", "sentence1"),
                ("text2_column", "sentence2"),
                ("score_column", "score"),
                ("label_column", "label"),
                ("id_column", "_id"),
                ("title_column", "title"),
                ("query_id_column", "query-id"),
                ("corpus_id_column", "corpus-id"),
                ("corpus_ids_column", "corpus-ids"),
            ]
        );
        assert_eq!(e.samples_per_label, 8);
        assert_eq!(e.n_experiments, 10);
        assert_eq!(e.seed, 42);
        assert_eq!(e.k_values, None);
        assert_eq!(e.max_chars, 60_000);
        assert_eq!(e.max_texts, 50_000);
        assert_eq!(e.aux_datasets().count(), 0);
    }

    #[test]
    fn kinds_spell_and_require_datasets() {
        for kind in [
            EmbeddingKind::Sts,
            EmbeddingKind::Classification,
            EmbeddingKind::MultilabelClassification,
            EmbeddingKind::Retrieval,
            EmbeddingKind::Reranking,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        }
        assert_eq!(
            EmbeddingKind::Reranking.required_datasets(),
            ["corpus_dataset", "qrels_dataset", "top_ranked_dataset"]
        );
    }
}
