"""Builds the embedding-metric reference fixture from scipy, scikit-learn and pytrec_eval.

Inputs come from numpy's seeded generator; the expected values are what the Python
libraries compute for them. `crates/assay-scoring/tests/embedding_reference.rs` checks the
Rust implementation against the fixture, and `test_embedding_reference.py` checks that the
committed fixture is what this script computes.

    python tests/reference/make_embedding_reference.py   # rewrites the fixture
"""

from __future__ import annotations

import json
from importlib import metadata
import sys
import warnings
from pathlib import Path

import numpy as np
import pytrec_eval
import scipy
import sklearn
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    label_ranking_average_precision_score,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import MultiLabelBinarizer

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "crates/assay-scoring/tests/fixtures/embedding_reference.json"
K_VALUES = [1, 3, 5, 10, 20, 100, 1000]
KNN_NEIGHBORS = 5
DIM = 8


def f32_rows(a: np.ndarray) -> list[list[float]]:
    """float32 values, written as the float64 numbers they are exactly."""
    return [[float(v) for v in row] for row in np.asarray(a, dtype=np.float32)]


def as64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def nan_to_none(v: float) -> float | None:
    v = float(v)
    return None if np.isnan(v) else v


# --- Correlation -------------------------------------------------------------------------


def correlation_cases(rng: np.random.Generator) -> list[dict]:
    gold = rng.normal(size=25)
    cases = [("continuous", gold, 0.7 * gold + rng.normal(scale=0.6, size=25))]
    gold = rng.integers(0, 11, size=30) / 2.0  # 0, 0.5, ..., 5: many ties
    pred = np.round(gold / 5.0 + rng.normal(scale=0.15, size=30), 2)  # ties too
    cases.append(("ties", gold, pred))
    x = np.arange(1.0, 11.0)
    cases.append(("monotone_nonlinear", x, np.exp(x / 3.0)))
    cases.append(("negative_three_points", np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 0.5])))
    cases.append(("two_points", np.array([0.5, 2.0]), np.array([1.0, -1.0])))
    cases.append(("constant_gold", np.full(6, 2.5), rng.normal(size=6)))
    out = []
    for name, x, y in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant input: scipy warns and returns NaN
            pearson = stats.pearsonr(x, y).statistic
            spearman = stats.spearmanr(x, y).statistic
        out.append(
            {
                "name": name,
                "x": [float(v) for v in x],
                "y": [float(v) for v in y],
                "pearson": nan_to_none(pearson),
                "spearman": nan_to_none(spearman),
            }
        )
    return out


def cosine_cases(rng: np.random.Generator) -> list[dict]:
    out = []
    for scale in (1.0, 1.0, 0.01, 100.0):
        a = rng.normal(size=DIM).astype(np.float32) * np.float32(scale)
        b = rng.normal(size=DIM).astype(np.float32)
        out.append({"a": f32_rows([a])[0], "b": f32_rows([b])[0], "cosine": cosine(a, b)})
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = as64(a), as64(b)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- Classification ----------------------------------------------------------------------


def undersample(labels: list[int], order: list[int], samples_per_label: int) -> list[int]:
    """Keep, in `order`, the first `samples_per_label` indices of each label."""
    counts: dict[int, int] = {}
    kept = []
    for i in order:
        if counts.get(labels[i], 0) < samples_per_label:
            counts[labels[i]] = counts.get(labels[i], 0) + 1
            kept.append(i)
    return kept


def fit_logistic(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    """The L2 (C = 1) optimum of C·Σ loss + ½‖W‖², checked to be stationary; the
    default solver must agree with it."""
    model = LogisticRegression(C=1.0, solver="newton-cg", tol=1e-12, max_iter=100_000).fit(x, y)
    default = LogisticRegression(C=1.0, tol=1e-12, max_iter=100_000).fit(x, y)
    gap = np.abs(model.predict_proba(x) - default.predict_proba(x)).max()
    assert gap < 1e-6, f"solvers disagree by {gap}"
    # Gradient of the objective at the fitted parameters.
    proba = model.predict_proba(x)
    if len(model.classes_) == 2:
        residual = proba[:, 1:] - (y == model.classes_[1])[:, None]
    else:
        residual = proba - (y[:, None] == model.classes_[None, :])
    grad_w = residual.T @ x + model.coef_
    grad_b = residual.sum(axis=0)
    assert max(np.abs(grad_w).max(), np.abs(grad_b).max()) < 1e-9, "not at the optimum"
    return model


def classification_expected(x_train, y_train, x_test, y_test, n_classes) -> dict:
    model = fit_logistic(as64(x_train), np.asarray(y_train))
    proba = model.predict_proba(as64(x_test))
    assert list(model.classes_) == list(range(n_classes))
    pred = model.predict(as64(x_test))
    # No near-ties between classes, so the argmax is not a matter of rounding.
    top2 = np.sort(proba, axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() > 1e-6
    out = {
        "proba": [[float(v) for v in row] for row in proba],
        "pred": [int(v) for v in pred],
        "accuracy": float(accuracy_score(y_test, pred)),
        "f1": float(f1_score(y_test, pred, average="macro")),
        "average_precision": None,
    }
    if n_classes == 2:
        out["average_precision"] = float(average_precision_score(y_test, proba[:, 1]))
    return out


def classification_case(rng, name, n_classes, n_pool, n_test, samples_per_label, dim=DIM):
    centers = rng.normal(scale=0.9 * np.sqrt(DIM / dim), size=(n_classes, dim))

    def draw(n):
        y = rng.permutation(np.arange(n) % n_classes)
        x = (centers[y] + rng.normal(size=(n, dim))).astype(np.float32)
        return x, y

    pool_x, pool_y = draw(n_pool)
    test_x, test_y = draw(n_test)
    order = [int(i) for i in rng.permutation(n_pool)]
    selected = undersample([int(v) for v in pool_y], order, samples_per_label)
    return {
        "name": name,
        "n_classes": n_classes,
        "pool_x": f32_rows(pool_x),
        "pool_y": [int(v) for v in pool_y],
        "test_x": f32_rows(test_x),
        "test_y": [int(v) for v in test_y],
        "order": order,
        "samples_per_label": samples_per_label,
        "selected": selected,
        # Fitted on the selected rows, and on the whole pool.
        "expected": classification_expected(
            pool_x[selected], pool_y[selected], test_x, test_y, n_classes
        ),
        "expected_full_pool": classification_expected(pool_x, pool_y, test_x, test_y, n_classes),
    }


def classification_score_cases(rng: np.random.Generator) -> list[dict]:
    """accuracy / macro F1 / average precision on given predictions."""
    cases = []
    y_true = rng.integers(0, 2, size=40)
    proba = np.round(np.clip(0.5 * y_true + rng.uniform(0.0, 0.6, size=40) - 0.05, 0, 1), 1)
    cases.append(("binary_tied_probabilities", y_true, (proba >= 0.5).astype(int), proba))
    y_true = rng.integers(0, 3, size=30)
    y_pred = np.where(rng.uniform(size=30) < 0.6, y_true, rng.integers(0, 4, size=30))
    cases.append(("multiclass_extra_predicted_label", y_true, y_pred, None))
    y_true = np.ones(8, dtype=int)
    proba = rng.uniform(size=8)
    cases.append(("binary_single_true_class", y_true, (proba >= 0.5).astype(int), proba))
    out = []
    for name, y_true, y_pred, proba in cases:
        ap = None
        if proba is not None and len(np.unique(y_true)) == 2:
            ap = float(average_precision_score(y_true, proba))
        out.append(
            {
                "name": name,
                "y_true": [int(v) for v in y_true],
                "y_pred": [int(v) for v in y_pred],
                "positive_proba": None if proba is None else [float(v) for v in proba],
                "accuracy": float(accuracy_score(y_true, y_pred)),
                "f1": float(f1_score(y_true, y_pred, average="macro")),
                "average_precision": ap,
            }
        )
    return out


# --- Multilabel --------------------------------------------------------------------------


def undersample_multilabel(labels: list[list[int]], order: list[int], samples_per_label: int):
    """Keep a row when any of its labels has fewer than `samples_per_label` kept rows."""
    counts: dict[int, int] = {}
    kept = []
    for i in order:
        if any(counts.get(label, 0) < samples_per_label for label in labels[i]):
            kept.append(i)
            for label in labels[i]:
                counts[label] = counts.get(label, 0) + 1
    return kept


def hamming(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    t, p = y_true.astype(bool), y_pred.astype(bool)
    inter, union = (t & p).sum(axis=1), (t | p).sum(axis=1)
    return float(np.mean(np.where(union == 0, 1.0, inter / np.maximum(union, 1))))


def multilabel_scores(y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f1 = f1_score(y_true, y_pred, average="macro")
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1),
        "lrap": float(label_ranking_average_precision_score(y_true, y_score)),
        "hamming": hamming(y_true, y_pred),
    }


def knn_expected(train_x, train_y, test_x, test_y) -> dict:
    """The kNN probe: classes from the test labels, 5 neighbours, 0/1 predictions as scores."""
    binarizer = MultiLabelBinarizer()
    y_test = binarizer.fit_transform(test_y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # training labels absent from the test set
        y_train = binarizer.transform(train_y)
    x_train, x_test = as64(train_x), as64(test_x)
    # No distance ties at the neighbour boundary, so the vote does not depend on tie-breaks.
    dist = np.sqrt(((x_test[:, None, :] - x_train[None, :, :]) ** 2).sum(axis=2))
    d = np.sort(dist, axis=1)
    assert (d[:, KNN_NEIGHBORS] - d[:, KNN_NEIGHBORS - 1]).min() > 1e-9
    classifier = KNeighborsClassifier(n_neighbors=KNN_NEIGHBORS).fit(x_train, y_train)
    y_pred = classifier.predict(x_test)
    scores = multilabel_scores(y_test, y_pred, y_pred)
    assert abs(scores["accuracy"] - classifier.score(x_test, y_test)) < 1e-15
    return {
        "columns": [int(c) for c in binarizer.classes_],
        "predictions": [[int(v) for v in row] for row in y_pred],
        **scores,
    }


def multilabel_case(rng: np.random.Generator) -> dict:
    n_labels = 6  # label 5 occurs only in training rows
    centers = rng.normal(scale=1.5, size=(n_labels, DIM))

    def draw(n, train):
        labels, rows = [], []
        for i in range(n):
            k = 0 if (not train and i % 13 == 4) else int(rng.integers(1, 4))
            row = sorted(int(v) for v in rng.choice(5, size=k, replace=False))
            if train and rng.uniform() < 0.15:
                row.append(5)
            labels.append(row)
            rows.append(centers[row].sum(axis=0) + rng.normal(scale=0.7, size=DIM))
        return np.asarray(rows, dtype=np.float32), labels

    pool_x, pool_y = draw(60, True)
    pool_y[7] = []  # a training row without labels is never sampled
    test_x, test_y = draw(30, False)
    order = [int(i) for i in rng.permutation(len(pool_y))]
    samples_per_label = 6
    selected = undersample_multilabel(pool_y, order, samples_per_label)
    labelled = [i for i in range(len(pool_y)) if pool_y[i]]
    return {
        "n_labels": n_labels,
        "pool_x": f32_rows(pool_x),
        "pool_y": pool_y,
        "test_x": f32_rows(test_x),
        "test_y": test_y,
        "order": order,
        "samples_per_label": samples_per_label,
        "selected": selected,
        "expected": knn_expected(
            pool_x[selected], [pool_y[i] for i in selected], test_x, test_y
        ),
        # Every labelled pool row (what undersampling keeps with a large samples_per_label).
        "expected_all_labelled": knn_expected(
            pool_x[labelled], [pool_y[i] for i in labelled], test_x, test_y
        ),
    }


def multilabel_score_cases(rng: np.random.Generator) -> list[dict]:
    """Subset accuracy / macro F1 / LRAP / hamming on real-valued scores with ties."""
    y_true = (rng.uniform(size=(12, 5)) < 0.4).astype(int)
    y_true[0] = 0  # no relevant label
    y_true[1] = 1  # every label relevant
    y_score = np.round(rng.uniform(size=(12, 5)) * 0.6 + 0.4 * y_true, 1)  # ties
    y_pred = (y_score >= 0.5).astype(int)
    y_pred[2] = y_true[2]
    return [
        {
            "name": "real_scores_with_ties",
            "y_true": y_true.tolist(),
            "y_pred": y_pred.tolist(),
            "y_score": [[float(v) for v in row] for row in y_score],
            **multilabel_scores(y_true, y_pred, y_score),
        }
    ]


# --- Retrieval ---------------------------------------------------------------------------


def mrr_at(run: dict[str, float], qrels: dict[str, int], k: int) -> float:
    ranked = sorted(run.items(), key=lambda item: (item[1], item[0]), reverse=True)[:k]
    for rank, (doc, _) in enumerate(ranked, start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def retrieval_metrics(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]):
    measures = {
        "ndcg_cut." + ",".join(map(str, K_VALUES)),
        "map_cut." + ",".join(map(str, K_VALUES)),
        "recall." + ",".join(map(str, K_VALUES)),
        "P." + ",".join(map(str, K_VALUES)),
    }
    evaluated = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    out = {}
    for qid in run:
        m = evaluated[qid]
        metrics = {}
        for k in K_VALUES:
            metrics[f"ndcg_at_{k}"] = m[f"ndcg_cut_{k}"]
            metrics[f"map_at_{k}"] = m[f"map_cut_{k}"]
            metrics[f"recall_at_{k}"] = m[f"recall_{k}"]
            metrics[f"precision_at_{k}"] = m[f"P_{k}"]
            metrics[f"mrr_at_{k}"] = mrr_at(run[qid], qrels[qid], k)
        out[qid] = {key: float(v) for key, v in metrics.items()}
    return out


def retrieval_case(rng: np.random.Generator) -> dict:
    n_docs = 30
    docs = rng.normal(size=(n_docs, DIM)).astype(np.float32)
    # Exact duplicates give exactly tied cosine scores: doc3 = doc12 = doc28, doc7 = doc25.
    docs[12] = docs[3]
    docs[28] = docs[3]
    docs[25] = docs[7]
    doc_ids = [f"doc{i}" for i in range(n_docs)]  # "doc9" > "doc28" > "doc3" as strings
    anchors = [3, 7, 11, 20, 3, 15]
    queries = np.asarray(
        [docs[a] + rng.normal(scale=0.6, size=DIM) for a in anchors], dtype=np.float32
    )
    qrels: dict[str, dict[str, int]] = {}
    for q, a in enumerate(anchors):
        judged = rng.choice(n_docs, size=8, replace=False)
        grades = {doc_ids[int(d)]: int(rng.integers(0, 3)) for d in judged}
        qrels[f"q{q}"] = grades
    # Tied duplicates with different grades, so the tie order matters.
    qrels["q0"].update({"doc3": 1, "doc12": 2, "doc28": 0})
    qrels["q1"].update({"doc7": 2, "doc25": 1})
    qrels["q2"]["doc11"] = 2  # the documents the queries were drawn near
    qrels["q3"]["doc20"] = 1
    qrels["q5"]["doc15"] = 2
    qrels["q2"]["doc_not_in_corpus"] = 1  # relevant but never retrieved
    qrels["q4"] = {doc: 0 for doc in qrels["q4"]}  # judged, none relevant
    qrels["q4"]["doc3"] = 0

    run: dict[str, dict[str, float]] = {}
    rounded: dict[str, dict[str, float]] = {}
    rankings = {}
    for q, query in enumerate(queries):
        qid = f"q{q}"
        scores = {doc_ids[d]: cosine(query, docs[d]) for d in range(n_docs)}
        distinct = np.unique(list(scores.values()))
        assert np.diff(distinct).min() > 1e-9, "near-tied cosine scores"
        run[qid] = scores
        rounded[qid] = {d: round(s, 1) for d, s in scores.items()}
        ranking = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)
        rankings[qid] = [[d, s] for d, s in ranking]
    return {
        "k_values": K_VALUES,
        "doc_ids": doc_ids,
        "docs": f32_rows(docs),
        "queries": {f"q{q}": f32_rows([v])[0] for q, v in enumerate(queries)},
        "qrels": qrels,
        "rankings": rankings,
        "runs": {
            "cosine": {"scores": run, "metrics": retrieval_metrics(qrels, run)},
            "rounded": {"scores": rounded, "metrics": retrieval_metrics(qrels, rounded)},
        },
    }


# --- Fixture -----------------------------------------------------------------------------


def build() -> dict:
    rng = np.random.default_rng(20261130)
    return {
        "generated_by": "tests/reference/make_embedding_reference.py",
        "versions": {
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "pytrec-eval-terrier": metadata.version("pytrec-eval-terrier"),
        },
        "correlation": correlation_cases(rng),
        "cosine": cosine_cases(rng),
        "classification": [
            classification_case(rng, "binary", 2, 60, 30, 20),
            classification_case(rng, "three_classes", 3, 66, 30, 13),
            # Fewer training rows than dimensions.
            classification_case(rng, "wide_three_classes", 3, 30, 30, 6, dim=40),
        ],
        "classification_scores": classification_score_cases(rng),
        "multilabel": multilabel_case(rng),
        "multilabel_scores": multilabel_score_cases(rng),
        "retrieval": retrieval_case(rng),
    }


def render(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(render(build()))
    print(f"wrote {FIXTURE.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
