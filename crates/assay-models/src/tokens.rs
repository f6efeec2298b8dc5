//! Token estimates for providers that report no usage: tiktoken `o200k_base`. The encoding is
//! compiled into the binary by `tiktoken-rs` (no download at run time).

use crate::response::Usage;

/// Tokens in `text` under `o200k_base` (special-token text counted as ordinary text).
pub fn count_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
}

/// Usage counted from the text of one generation, for when nobody reported it: the prompt
/// with the instructions sent beside it as input, the answer plus the reasoning as output,
/// and the reasoning alone as the reasoning share (`None` when there is no reasoning text, so
/// no split is claimed). The gateway calls this when a provider sends no usage, and the token
/// backfill for samples stored without figures, so both give the same numbers for the same
/// text.
pub fn estimate_usage(
    instructions: Option<&str>,
    prompt: &str,
    answer: &str,
    reasoning: Option<&str>,
) -> Usage {
    let reasoning_tokens = reasoning.filter(|r| !r.is_empty()).map(count_tokens);
    Usage {
        input_tokens: instructions.map(count_tokens).unwrap_or(0) + count_tokens(prompt),
        output_tokens: count_tokens(answer) + reasoning_tokens.unwrap_or(0),
        cached_tokens: None,
        reasoning_tokens,
        estimated: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_o200k_tokens() {
        assert_eq!(count_tokens(""), 0);
        assert_eq!(count_tokens("hello world"), 2);
        assert_eq!(count_tokens("<|endoftext|>"), count_tokens("<|endoftext|>"));
        assert!(count_tokens("The quick brown fox jumps over the lazy dog.") >= 9);
    }

    #[test]
    fn estimates_split_prompt_answer_and_reasoning() {
        let u = estimate_usage(Some("Be brief."), "2+2=", "4", Some("two and two"));
        assert!(u.estimated);
        assert_eq!(
            u.input_tokens,
            count_tokens("Be brief.") + count_tokens("2+2=")
        );
        assert_eq!(u.reasoning_tokens, Some(count_tokens("two and two")));
        assert_eq!(
            u.output_tokens,
            count_tokens("4") + count_tokens("two and two")
        );
        assert_eq!(u.cached_tokens, None);
        // No reasoning text: no reasoning split, not a split of zero.
        for reasoning in [None, Some("")] {
            let u = estimate_usage(None, "2+2=", "4", reasoning);
            assert_eq!(u.reasoning_tokens, None);
            assert_eq!(u.output_tokens, count_tokens("4"));
            assert_eq!(u.input_tokens, count_tokens("2+2="));
        }
    }
}
