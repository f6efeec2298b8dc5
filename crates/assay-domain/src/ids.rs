//! Identifier prefixes and generation. Ids are a prefix plus 32 lowercase hex digits.

pub const SUITE: &str = "eval_suite_";
pub const SUITE_VERSION: &str = "eval_sver_";
pub const RUN: &str = "eval_run_";
pub const SAMPLE: &str = "eval_sample_";
pub const SHARE: &str = "eval_share_";
pub const SCHEDULE: &str = "eval_sched_";
pub const FILE: &str = "file-";
pub const API_KEY: &str = "key_";

/// A fresh random id with the given prefix.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// Whether `id` has the shape of an id minted with `prefix`.
pub fn is_valid(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_valid_and_distinct() {
        let a = new_id(SUITE);
        let b = new_id(SUITE);
        assert!(is_valid(SUITE, &a));
        assert_ne!(a, b);
        assert!(!is_valid(RUN, &a));
        assert!(!is_valid(SUITE, "eval_suite_xyz"));
    }
}
