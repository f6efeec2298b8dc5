//! Standard Webhooks signatures and message ids.

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of Standard Webhooks' own secret format: `whsec_` then the key in base64.
const SECRET_PREFIX: &str = "whsec_";

/// Standard base64 that accepts the key with or without its `=` padding, as the reference
/// libraries do.
const SECRET_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A signing secret as configured by a user: the HMAC key messages are signed with.
///
/// `whsec_<base64>` (Standard Webhooks' own secret format) stands for the base64-decoded
/// bytes; any other string for its UTF-8 bytes. Its `Debug` output never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Reads a secret as a user configured it.
    ///
    /// Errors on an empty secret (including `whsec_` with nothing after it) and on a `whsec_`
    /// secret whose rest is not standard base64 (padding optional). Nothing is trimmed: a
    /// raw secret's spaces are part of the key.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("the webhook secret is empty".to_string());
        }
        let key = match s.strip_prefix(SECRET_PREFIX) {
            Some(encoded) => SECRET_BASE64.decode(encoded).map_err(|e| {
                format!("the webhook secret after `{SECRET_PREFIX}` is not valid base64: {e}")
            })?,
            None => s.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err(format!(
                "the webhook secret is empty: `{SECRET_PREFIX}` must be followed by the base64 key"
            ));
        }
        Ok(Self(key))
    }

    /// The HMAC key: the decoded bytes of a `whsec_` secret, else the secret's UTF-8 bytes.
    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecret(<{} bytes>)", self.0.len())
    }
}

/// The `webhook-signature` header value for one message:
/// `v1,<base64 HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")>`.
///
/// `timestamp` is the `webhook-timestamp` header's value (seconds since the Unix epoch) and
/// `body` the exact bytes sent.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length (a long one is hashed first), so this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.key())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// A new, random message id (the `webhook-id` header): `msg_` and 32 lowercase hex digits.
///
/// A message keeps its id across retries, so receivers can drop duplicates.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whsec_secrets_are_base64_with_or_without_padding() {
        let padded = WebhookSecret::parse("whsec_aGVsbG8=").expect("padded");
        let unpadded = WebhookSecret::parse("whsec_aGVsbG8").expect("unpadded");
        assert_eq!(padded.key(), b"hello");
        assert_eq!(padded, unpadded);
    }

    #[test]
    fn other_secrets_are_their_utf8_bytes() {
        let secret = WebhookSecret::parse("  pässword ").expect("raw");
        assert_eq!(secret.key(), "  pässword ".as_bytes());
        // Looks like base64 but has no prefix: taken as text.
        assert_eq!(
            WebhookSecret::parse("aGVsbG8=").expect("raw").key(),
            b"aGVsbG8="
        );
    }

    #[test]
    fn empty_and_malformed_secrets_are_errors() {
        assert!(WebhookSecret::parse("").unwrap_err().contains("empty"));
        assert!(WebhookSecret::parse("whsec_")
            .unwrap_err()
            .contains("empty"));
        for bad in [
            "whsec_not base64",
            "whsec_a",
            "whsec_ab-_",
            "whsec_aGVsbG8==",
        ] {
            let err = WebhookSecret::parse(bad).expect_err(bad);
            assert!(err.contains("base64"), "{bad}: {err}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let secret = WebhookSecret::parse("hunter2").expect("raw");
        assert_eq!(format!("{secret:?}"), "WebhookSecret(<7 bytes>)");
    }

    #[test]
    fn signature_is_versioned_base64_hmac() {
        // HMAC-SHA256("key", "msg_1.1700000000.{}"), computed independently with openssl:
        // printf 'msg_1.1700000000.{}' | openssl dgst -sha256 -hmac key -binary | base64
        let secret = WebhookSecret::parse("key").expect("raw");
        let signature = sign(&secret, "msg_1", 1_700_000_000, b"{}");
        assert_eq!(signature, OPENSSL_SIGNATURE);
    }

    const OPENSSL_SIGNATURE: &str = "v1,XaXLFEFQ69Q4+demDWPEv5ydXczDW2mM5crCUEFcFBA=";

    #[test]
    fn message_ids_are_msg_and_32_lowercase_hex() {
        let id = new_message_id();
        let hex = id.strip_prefix("msg_").expect("msg_ prefix");
        assert_eq!(hex.len(), 32);
        assert!(
            hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
            "{id}"
        );
        assert_ne!(id, new_message_id());
    }
}
