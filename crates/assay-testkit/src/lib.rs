//! Test doubles for Assay.
//!
//! The centrepiece is [`FakeModelServer`]: a deterministic, fault-injecting, OpenAI-compatible
//! model server (`POST /v1/responses`, `/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`, non-streaming) for gateway, engine and end-to-end tests and for
//! throughput benchmarks. It is also shipped as the `assay-fake-model` binary.
//!
//! Behaviour is chosen per request by directives written in the prompt text, so a dataset row
//! can decide how "its" model call goes — see [`Directives`] for the list, e.g.
//! `[[answer:B]]`, `[[status:429 retry_after=1 times=2]]`, `[[hang]]`, `[[think:…]]`.
//!
//! Without `[[answer:…]]` the answer is the prompt's last word with surrounding ASCII
//! punctuation trimmed (`ok` when there is none): see [`default_answer`]. The answer is then
//! cut at the first `stop` sequence and to `max_tokens` / `max_output_tokens`
//! whitespace-separated tokens, so tests can see that those parameters were sent. Usage counts
//! are whitespace token counts.
//!
//! Every request is logged: counts per endpoint and per prompt, the last bodies, the in-flight
//! high-water mark — from Rust ([`FakeModelServer::requests`], [`FakeModelServer::calls_for`])
//! or over HTTP (`GET /_fake/requests`, `DELETE /_fake/requests` to reset).
//!
//! [`FakeHub`] is a fake Hugging Face Hub (revisions, paginated trees, `resolve` with ranges
//! and CDN redirects, the Parquet conversion, private and gated repositories) with a log of
//! what was downloaded, for the dataset-reading tests of `assay-hub`. It is also shipped as the
//! `assay-fake-hub` binary, which serves local directories as repositories (`--repo
//! owner/name=DIR`, `--private owner/name=TOKEN`) for end-to-end tests of the real server.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use assay_testkit::{FakeModelOptions, FakeModelServer};
//! let fake = FakeModelServer::start(FakeModelOptions::default()).await?;
//! let base_url = fake.openai_base_url(); // http://127.0.0.1:PORT/v1
//! // … point a client at base_url, send "2+2? [[answer:4]]" …
//! assert_eq!(fake.calls_for("2+2? [[answer:4]]"), 0);
//! # Ok(()) }
//! ```

pub mod directives;
pub mod embed;
pub mod hub;
pub mod models;
mod server;
pub mod services;

pub use directives::{default_answer, Directives, Fault, Stage};
pub use embed::EmbeddingsMode;
pub use hub::{Access, FakeHub, FakeHubOptions, HubRequest};
pub use server::{Endpoint, FakeModelOptions, FakeModelServer, RequestLog, RequestRecord};
