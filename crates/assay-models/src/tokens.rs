//! Token estimates for providers that report no usage: tiktoken `o200k_base`. The encoding is
//! compiled into the binary by `tiktoken-rs` (no download at run time).

/// Tokens in `text` under `o200k_base` (special-token text counted as ordinary text).
pub fn count_tokens(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
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
}
