//! The `assay` binary: a thin command layer over the library crates.

mod config;
mod demo;
mod harbor;
mod local_models;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use assay_server::AppState;
use assay_store::{NewApiKey, Store};
use clap::{Args, Parser, Subcommand};

/// Assay: a self-hostable LLM evaluation service.
#[derive(Parser)]
#[command(name = "assay", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP API.
    Serve(ServeArgs),
    /// Run the bundled quickstart suite against a running server and print its metrics.
    Demo {
        /// Base URL of the server.
        #[arg(long, env = "ASSAY_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// API key.
        #[arg(long, env = "ASSAY_API_KEY", hide_env_values = true)]
        key: String,
        /// Model to evaluate (repeat for several).
        #[arg(long = "model", default_value = "auto")]
        models: Vec<String>,
        /// Cap on samples per task.
        #[arg(long)]
        max_samples_per_task: Option<i64>,
    },
    /// Execute runs from Temporal (with `executor.kind = "temporal"`): polls the task queue
    /// and runs the workflow and its activities, against the same database and storage as
    /// the servers.
    Worker(WorkerArgs),
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import results produced elsewhere into a running server.
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
}

#[derive(Subcommand)]
enum ImportSource {
    /// Import a Harbor job directory as a coding-agent run of a suite (one run per agent
    /// configuration), with each trial's trajectory; prints the run's URL.
    Harbor(HarborArgs),
}

#[derive(Args)]
struct HarborArgs {
    /// The job directory Harbor wrote (`jobs/<job_name>`).
    job_dir: PathBuf,
    /// The suite whose tasks the job ran (task ids = Harbor task names).
    #[arg(long = "suite")]
    suite_id: String,
    /// Base URL of the server.
    #[arg(
        long,
        env = "ASSAY_SERVER_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// API key.
    #[arg(long, env = "ASSAY_API_KEY", hide_env_values = true)]
    key: String,
    /// Import only the trials of this agent (for jobs that ran several).
    #[arg(long)]
    agent: Option<String>,
    /// Import only the trials of this model, as configured in Harbor.
    #[arg(long)]
    model: Option<String>,
    /// Import only the trials run with this reasoning effort.
    #[arg(long)]
    effort: Option<String>,
    /// Trials per request (the API takes at most 10,000).
    #[arg(long, default_value_t = harbor::MAX_BATCH, hide = true)]
    batch_size: usize,
}

#[derive(Args)]
struct Common {
    /// Configuration file (TOML).
    #[arg(long, env = "ASSAY_CONFIG")]
    config: Option<PathBuf>,
    /// Where the embedded defaults keep their data (SQLite database, blobs).
    #[arg(long, env = "ASSAY_DATA_DIR", default_value = "assay-data")]
    data_dir: PathBuf,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// Secret of the bootstrap admin key; minted and printed once when unset.
    #[arg(long, env = "ASSAY_BOOTSTRAP_KEY", hide_env_values = true)]
    bootstrap_key: Option<String>,
}

#[derive(Args)]
struct WorkerArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Mint a new API key and print it.
    Create {
        #[command(flatten)]
        common: Common,
        /// The org the key belongs to.
        #[arg(long)]
        org: String,
        /// The team the key belongs to.
        #[arg(long)]
        team: String,
        /// Make the key an org administrator.
        #[arg(long)]
        admin: bool,
        /// A label to recognise the key by.
        #[arg(long)]
        label: Option<String>,
    },
}

/// Org and team of the bootstrap admin key.
const DEFAULT_ORG: &str = "org_default";
const DEFAULT_TEAM: &str = "team_default";
/// Shortest operator-chosen key accepted.
const MIN_KEY_CHARS: usize = 32;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Worker(args) => worker(args).await,
            Command::Demo {
                url,
                key,
                models,
                max_samples_per_task,
            } => {
                demo::run(demo::DemoArgs {
                    url,
                    key,
                    models,
                    max_samples_per_task,
                })
                .await
            }
            Command::Keys {
                command:
                    KeysCommand::Create {
                        common,
                        org,
                        team,
                        admin,
                        label,
                    },
            } => create_key(common, org, team, admin, label).await,
            Command::Import {
                source: ImportSource::Harbor(args),
            } => {
                harbor::run(harbor::ImportArgs {
                    job_dir: args.job_dir,
                    suite_id: args.suite_id,
                    server: args.server,
                    key: args.key,
                    selection: harbor::Selection {
                        agent: args.agent,
                        model: args.model,
                        effort: args.effort,
                    },
                    batch_size: args.batch_size,
                })
                .await
            }
        }
    })
}

fn init_logging(log: &config::LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn open_store(common: &Common) -> anyhow::Result<(config::Config, Store)> {
    let config = config::load(common.config.as_deref(), &common.data_dir)?;
    let store = Store::open(&config.database, &config.storage)
        .await
        .context("opening the store")?;
    Ok((config, store))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = config::load(args.common.config.as_deref(), &args.common.data_dir)?;
    init_logging(&config.log);
    let store = Store::open(&config.database, &config.storage)
        .await
        .context("opening the store")?;
    bootstrap_key(&store, args.bootstrap_key.as_deref()).await?;
    let gateway = build_gateway(&config, &store)?;
    let sandbox = assay_sandbox::Sandbox::new(config.sandbox.clone());
    let clock: Arc<dyn assay_engine::schedules::Clock> =
        Arc::new(assay_engine::schedules::SystemClock);
    let stop = tokio_util::sync::CancellationToken::new();
    let (engine, driver): (_, Arc<dyn assay_engine::schedules::ScheduleDriver>) = match config
        .executor
        .kind
    {
        config::ExecutorKind::Local => {
            let engine = assay_engine::Engine::start(
                store.clone(),
                gateway,
                sandbox,
                assay_engine::ExecutorConfig {
                    hub: Some(config.huggingface.client()?),
                    audio_targets: config.audio.policy()?,
                    ..config.executor.to_engine()
                },
            );
            let scheduler = assay_engine::schedules::local::LocalScheduler::new(
                assay_engine::schedules::Firing {
                    store: store.clone(),
                    engine: engine.clone(),
                },
                clock.clone(),
            );
            scheduler.spawn(stop.clone());
            (engine, scheduler)
        }
        config::ExecutorKind::Temporal => {
            let temporal = &config.executor.temporal;
            let identity = format!("assay-serve@{}", config.executor.to_engine().node_id);
            let client = assay_temporal::connect(temporal, &identity).await?;
            let dispatcher =
                assay_temporal::TemporalDispatcher::start(client.clone(), temporal, store.clone());
            tracing::info!(address = %temporal.address, task_queue = %temporal.task_queue, "runs execute on Temporal");
            let engine =
                assay_engine::Engine::with_dispatcher(gateway, sandbox, Arc::new(dispatcher));
            let schedules = Arc::new(assay_temporal::TemporalSchedules::new(
                client,
                temporal.task_queue.clone(),
            ));
            // A change whose Temporal half failed, or a Temporal service that lost its
            // state, is repaired from the rows.
            let reconciling = schedules.clone();
            let rows = store.clone();
            tokio::spawn(async move {
                match reconciling.reconcile(&rows).await {
                    Ok(n) => tracing::info!(schedules = n, "Temporal schedules in line"),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not bring Temporal schedules in line")
                    }
                }
            });
            (engine, schedules)
        }
    };
    let targets = config.webhooks.policy()?;
    let sender = assay_webhooks::Sender::new(assay_webhooks::SenderConfig {
        timeout: config.webhooks.settings().timeout,
        policy: targets.clone(),
        user_agent: format!("Assay-Webhooks/{}", env!("CARGO_PKG_VERSION")),
    })
    .map_err(|e| anyhow::anyhow!("webhooks: {e}"))?;
    assay_engine::webhooks::WebhookDispatcher::new(
        store.clone(),
        sender,
        config.webhooks.settings(),
        clock.clone(),
    )
    .spawn(stop.clone());
    let schedules = assay_engine::schedules::Schedules::new(
        assay_engine::schedules::Firing {
            store: store.clone(),
            engine: engine.clone(),
        },
        driver,
        clock,
        targets,
    );
    let listener = tokio::net::TcpListener::bind(&config.server.bind)
        .await
        .with_context(|| format!("binding {}", config.server.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = ?store.backend(), "serving");
    println!("Assay listening on http://{addr}");
    let state = AppState {
        store: store.clone(),
        config: Arc::new(config.server.clone()),
        engine: engine.clone(),
        schedules,
        results_hub: assay_engine::historical::ResultsHub::new(&config.huggingface.endpoint),
    };
    assay_server::serve(listener, state, shutdown_signal()).await?;
    stop.cancel();
    engine.shutdown();
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The model gateway: the configured registry plus the local models, with the database as
/// the response cache.
fn build_gateway(config: &config::Config, store: &Store) -> anyhow::Result<assay_models::Gateway> {
    let models = local_models::with_defaults(config.models.clone(), &local_models::models_dir());
    let builder = assay_models::Gateway::builder(models.clone())
        .cache(Arc::new(assay_engine::cache::StoreCache(store.clone())));
    local_models::register(builder, &models)?
        .build()
        .context("invalid [models] registry")
}

/// `assay worker`: executes Temporal workflows and activities until Ctrl-C / SIGTERM.
async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let config = config::load(args.common.config.as_deref(), &args.common.data_dir)?;
    init_logging(&config.log);
    anyhow::ensure!(
        config.executor.kind == config::ExecutorKind::Temporal,
        "assay worker needs executor.kind = \"temporal\" (ASSAY_EXECUTOR_KIND=temporal)"
    );
    let store = Store::open(&config.database, &config.storage)
        .await
        .context("opening the store")?;
    let gateway = build_gateway(&config, &store)?;
    let sandbox = assay_sandbox::Sandbox::new(config.sandbox.clone());
    let stages = Arc::new(
        assay_engine::sample::Stages::new(store.clone(), gateway, sandbox)
            .with_storage_wait(config.executor.to_engine().storage_wait)
            .with_hub(config.huggingface.client()?)
            .with_audio_targets(config.audio.policy()?),
    );
    let stop = tokio_util::sync::CancellationToken::new();
    let signal = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signal.cancel();
    });
    let identity = format!("assay-worker@{}", config.executor.to_engine().node_id);
    let temporal = &config.executor.temporal;
    println!(
        "Assay worker polling {} on {} ({})",
        temporal.task_queue, temporal.address, temporal.namespace
    );
    let result = assay_temporal::run_worker(temporal, stages, &identity, stop).await;
    store.close().await;
    result
}

/// Makes sure an admin key exists: the operator's `ASSAY_BOOTSTRAP_KEY`, or on a fresh
/// installation a minted one that is printed once.
async fn bootstrap_key(store: &Store, chosen: Option<&str>) -> anyhow::Result<()> {
    let admin = NewApiKey {
        org_id: DEFAULT_ORG.into(),
        team_id: DEFAULT_TEAM.into(),
        is_admin: true,
        label: Some("bootstrap".into()),
    };
    match chosen.map(str::trim).filter(|k| !k.is_empty()) {
        Some(secret) => {
            anyhow::ensure!(
                secret.chars().count() >= MIN_KEY_CHARS,
                "ASSAY_BOOTSTRAP_KEY must have at least {MIN_KEY_CHARS} characters"
            );
            if store.authenticate(secret).await?.is_none() {
                store.insert_api_key(&admin, secret).await?;
            }
        }
        None => {
            if store.count_api_keys().await? == 0 {
                let (_, secret) = store.create_api_key(&admin).await?;
                println!("Bootstrap admin key (shown once; org {DEFAULT_ORG}, team {DEFAULT_TEAM}): {secret}");
            }
        }
    }
    Ok(())
}

async fn create_key(
    common: Common,
    org: String,
    team: String,
    admin: bool,
    label: Option<String>,
) -> anyhow::Result<()> {
    for (name, value) in [("--org", &org), ("--team", &team)] {
        anyhow::ensure!(
            !value.trim().is_empty() && value.len() <= 128,
            "{name} must have 1 to 128 characters"
        );
    }
    let (_, store) = open_store(&common).await?;
    let (record, secret) = store
        .create_api_key(&NewApiKey {
            org_id: org,
            team_id: team,
            is_admin: admin,
            label,
        })
        .await?;
    eprintln!(
        "Created key {} for org {} team {}{}",
        record.id,
        record.org_id,
        record.team_id,
        if record.is_admin { " (admin)" } else { "" }
    );
    println!("{secret}");
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
