//! Assay's outgoing webhooks: how one message is signed, whether its target may be reached,
//! how one delivery attempt is sent and how long to wait before the next one.
//!
//! Messages are signed and sent the way the [Standard Webhooks] specification describes, so a
//! receiver can verify them with any of its libraries: a `POST` of the JSON body with the
//! headers `webhook-id`, `webhook-timestamp` and `webhook-signature`
//! (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, see [`sign`]).
//!
//! Webhook URLs are chosen by users, so the server must not become a way into its own
//! network. A [`TargetPolicy`] refuses every address that is not public unicast (loopback,
//! private, link-local and cloud metadata, CGNAT, multicast, documentation ranges, and the
//! IPv6 forms that embed such an IPv4 address); operators can re-allow ranges. It is applied
//! twice: [`TargetPolicy::check_url`] at configuration time, without DNS, and by the
//! [`Sender`] to every address a host name resolves to, when it connects, so a public name
//! that later resolves to a private address (DNS rebinding) is still refused.
//!
//! This crate holds no state: the durable outbox, the scheduling of retries and their
//! storage live with its caller. One attempt is [`Sender::send`], which answers with an
//! [`Outcome`] (delivered, worth retrying, or never worth retrying); [`Backoff::delay`] says
//! how long to wait before the next attempt.
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

#![warn(missing_docs)]

mod backoff;
mod policy;
mod sender;
mod signing;

pub use backoff::Backoff;
pub use policy::TargetPolicy;
pub use sender::{guarded_client, Message, Outcome, Sender, SenderConfig};
pub use signing::{new_message_id, sign, WebhookSecret};
