//! `assay-fake-hub`: the fake Hugging Face Hub as a standalone process, for end-to-end tests
//! of a server reading datasets from the Hub. Each `--repo REPO=DIR` commits every file under
//! `DIR` (recursively, at its path relative to `DIR`) to `REPO` on branch `main`;
//! `--private REPO=TOKEN` makes a repository readable only with that bearer token.
//!
//! Once it accepts connections it prints, on stdout,
//!
//! ```text
//! fake hub listening on http://127.0.0.1:PORT
//! repo acme/fixture commit 0123…
//! ```
//!
//! (one `repo` line per repository, in the order given), then serves until interrupted or
//! terminated. It only listens on loopback addresses.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use assay_testkit::{Access, FakeHub, FakeHubOptions};
use clap::Parser;

/// A fake Hugging Face Hub serving repositories made from local directories.
#[derive(Debug, Parser)]
#[command(name = "assay-fake-hub", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port); must be a loopback address.
    #[arg(long, env = "ASSAY_FAKE_HUB_BIND", default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// A dataset repository `owner/name=DIR`: every file under DIR, committed to branch `main`.
    #[arg(long = "repo", value_name = "REPO=DIR", value_parser = parse_pair)]
    repos: Vec<(String, String)>,
    /// `REPO=TOKEN`: the repository answers 401 unless the request carries
    /// `Authorization: Bearer TOKEN`.
    #[arg(long = "private", value_name = "REPO=TOKEN", value_parser = parse_pair)]
    private: Vec<(String, String)>,
    /// Most entries per page of a tree listing.
    #[arg(long, default_value_t = FakeHubOptions::default().page_size)]
    page_size: usize,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got {s:?}")),
    }
}

/// Every file under `root`, as (path relative to `root` with `/` separators, bytes), sorted.
fn files_under(root: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                let bytes = std::fs::read(&path)?;
                files.push((rel, bytes));
            }
        }
    }
    files.sort();
    Ok(files)
}

fn fail(message: String) -> ! {
    eprintln!("assay-fake-hub: {message}");
    std::process::exit(2);
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    if !args.bind.ip().is_loopback() {
        fail(format!(
            "--bind {}: only loopback addresses are allowed",
            args.bind
        ));
    }
    for (repo, _) in &args.private {
        if !args.repos.iter().any(|(r, _)| r == repo) {
            fail(format!("--private {repo}: no --repo {repo}=DIR"));
        }
    }
    let mut contents = Vec::new();
    for (repo, dir) in &args.repos {
        let root = Path::new(dir);
        if !root.is_dir() {
            fail(format!("--repo {repo}={dir}: not a directory"));
        }
        let files = files_under(root).unwrap_or_else(|e| fail(format!("--repo {repo}={dir}: {e}")));
        if files.is_empty() {
            fail(format!("--repo {repo}={dir}: no files"));
        }
        contents.push((repo.clone(), files));
    }

    let hub = FakeHub::start(FakeHubOptions {
        bind: args.bind,
        page_size: args.page_size.max(1),
        ..FakeHubOptions::default()
    })
    .await?;
    let mut commits = Vec::new();
    for (repo, files) in contents {
        let sha = hub.commit(&repo, "main", files);
        commits.push((repo, sha));
    }
    for (repo, token) in args.private {
        hub.set_access(&repo, Access::Private(token));
    }

    let mut out = std::io::stdout().lock();
    writeln!(out, "fake hub listening on {}", hub.url())?;
    for (repo, sha) in &commits {
        writeln!(out, "repo {repo} commit {sha}")?;
    }
    out.flush()?;
    drop(out);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    hub.shutdown().await;
    Ok(())
}
