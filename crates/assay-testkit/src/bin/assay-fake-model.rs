//! `assay-fake-model`: the fake OpenAI-compatible model server as a standalone process, for
//! end-to-end tests and throughput benchmarks. Prints `fake model listening on http://ADDR` on
//! stdout once it accepts connections, then serves until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use assay_testkit::{EmbeddingsMode, FakeModelOptions, FakeModelServer};
use clap::Parser;

/// A deterministic fake OpenAI-compatible model server (see the assay-testkit docs for the
/// prompt directives it understands).
#[derive(Debug, Parser)]
#[command(name = "assay-fake-model", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "ASSAY_FAKE_MODEL_BIND", default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Latency added to every request, in milliseconds.
    #[arg(long, env = "ASSAY_FAKE_MODEL_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// How /v1/embeddings computes vectors.
    #[arg(long, value_enum, default_value_t = EmbeddingsMode::BagOfWords)]
    embeddings: EmbeddingsMode,
    /// Embedding vector length when a request does not ask for `dimensions`.
    #[arg(long, default_value_t = 64)]
    embedding_dim: usize,
    /// How many recent requests the log keeps (with bodies).
    #[arg(long, default_value_t = 1000)]
    log_capacity: usize,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let server = FakeModelServer::start(FakeModelOptions {
        bind: args.bind,
        base_latency: Duration::from_millis(args.latency_ms),
        embeddings: args.embeddings,
        embedding_dim: args.embedding_dim,
        log_capacity: args.log_capacity,
    })
    .await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "fake model listening on {}", server.url())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
