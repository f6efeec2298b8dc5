//! `count_tokens` against Python tiktoken: `tests/fixtures/o200k_reference.json` holds what
//! OpenAI's `tiktoken` (`o200k_base`, `encode_ordinary`) gives for varied texts; it is written
//! by `tests/reference/make_token_reference.py`, and `tests/reference/test_token_reference.py`
//! checks that the committed file is what Python tiktoken gives.

use assay_models::tokens::count_tokens;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    encoding: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    tokens: Vec<u32>,
}

fn fixture() -> Fixture {
    let text = include_str!("fixtures/o200k_reference.json");
    serde_json::from_str(text).expect("fixture parses")
}

#[test]
fn counts_match_python_tiktoken() {
    let fixture = fixture();
    assert_eq!(fixture.encoding, "o200k_base");
    assert!(fixture.cases.len() >= 40, "{} cases", fixture.cases.len());
    for case in &fixture.cases {
        assert_eq!(
            count_tokens(&case.text),
            case.tokens.len() as u64,
            "count of {:?}",
            case.text
        );
    }
}

#[test]
fn token_ids_match_python_tiktoken() {
    let bpe = tiktoken_rs::o200k_base_singleton();
    for case in &fixture().cases {
        assert_eq!(
            bpe.encode_ordinary(&case.text),
            case.tokens,
            "tokens of {:?}",
            case.text
        );
    }
}
