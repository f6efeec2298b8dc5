//! `sign` gives the signatures of the official Python `standardwebhooks` package, on the cases
//! in `fixtures/standardwebhooks_reference.json` (written by
//! `tests/reference/make_webhook_reference.py`, checked against the package by
//! `tests/reference/test_webhook_reference.py`).

use assay_webhooks::{sign, WebhookSecret};
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/standardwebhooks_reference.json");

fn text<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {case}"))
}

#[test]
fn signatures_match_python_standardwebhooks() {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("fixture is JSON");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 10, "{} cases", cases.len());
    for case in cases {
        let name = text(case, "name");
        let secret =
            WebhookSecret::parse(text(case, "secret")).unwrap_or_else(|e| panic!("{name}: {e}"));
        let timestamp = case["timestamp"].as_i64().expect("timestamp");
        let signature = sign(
            &secret,
            text(case, "msg_id"),
            timestamp,
            text(case, "body").as_bytes(),
        );
        assert_eq!(signature, text(case, "signature"), "case {name}");
    }
}

#[test]
fn padded_and_unpadded_whsec_secrets_are_the_same_key() {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("fixture is JSON");
    let by_name = |name: &str| {
        fixture["cases"]
            .as_array()
            .and_then(|cases| cases.iter().find(|c| c["name"] == name))
            .unwrap_or_else(|| panic!("case {name}"))
            .clone()
    };
    let padded = WebhookSecret::parse(text(&by_name("whsec_padded"), "secret")).expect("padded");
    let unpadded =
        WebhookSecret::parse(text(&by_name("whsec_unpadded"), "secret")).expect("unpadded");
    assert_eq!(padded, unpadded);
}
