//! Embedding-evaluation metrics: similarity, correlation, linear-probe and kNN
//! classification, and retrieval ranking metrics.
//!
//! Pure functions over embeddings the caller has already computed. Every function is
//! total: empty inputs, a single class or constant scores give the documented `None` or
//! 0.0 rather than a panic, and no output is NaN.
//!
//! - **Semantic similarity**: [`cosine`] between embeddings, then [`pearson`] and
//!   [`spearman`] (average ranks for ties, as scipy computes them) against gold scores.
//! - **Classification**: [`classification`] runs seeded experiments, each undersampling
//!   the training set ([`undersample`]), fitting an L2 [`LogisticRegression`] (C = 1,
//!   scikit-learn's optimum) and scoring accuracy, macro F1 and, for binary tasks,
//!   average precision ([`classification_scores`]).
//! - **Multilabel classification**: [`multilabel_classification`] undersamples per label
//!   ([`undersample_multilabel`]), predicts with a 5-nearest-neighbours majority vote
//!   ([`knn_predict`]) and scores subset accuracy, macro F1, label ranking average
//!   precision and the hamming (Jaccard) score ([`multilabel_scores`]).
//! - **Retrieval**: [`rank`] orders documents by cosine to the query (ties by document
//!   id descending) and [`query_metrics`] computes nDCG@k, MAP@k, recall@k, precision@k
//!   as trec_eval does, plus MRR@k, for the cutoffs in [`DEFAULT_K_VALUES`].

#![warn(missing_docs)]

mod classification;
mod correlation;
mod logistic;
mod multilabel;
mod retrieval;

pub use classification::{
    classification, classification_scores, undersample, undersample_in_order, ClassificationResult,
    ClassificationScores,
};
pub use correlation::{average_ranks, cosine, pearson, spearman};
pub use logistic::LogisticRegression;
pub use multilabel::{
    knn_predict, label_columns, multilabel_classification, multilabel_scores,
    undersample_multilabel, undersample_multilabel_in_order, MultilabelResult, MultilabelScores,
    KNN_NEIGHBORS,
};
pub use retrieval::{query_metrics, rank};

/// The retrieval cutoffs k reported by default.
pub const DEFAULT_K_VALUES: [usize; 7] = [1, 3, 5, 10, 20, 100, 1000];
