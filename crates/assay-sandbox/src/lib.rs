//! Assay's Python sandbox: runs user graders and preprocessors in isolated interpreter
//! processes and talks to them over a framed JSON protocol.
//!
//! - [`Sandbox`]: the machine's Python (probed once), the isolation settings and the user ids
//!   handed to interpreters; [`Sandbox::check`] validates code without running it,
//!   [`Sandbox::start`] starts an interpreter with a module loaded.
//! - [`Interpreter`]: one isolated process serving calls of the loaded module's functions, with
//!   per-call wall-clock and CPU limits; model calls from user code come back to the host
//!   through a [`Bridge`].
//! - [`InterpreterPool`]: interpreters of one module reused across calls, at most N at once.
//!
//! What is isolated, and how, is described in `jail` and in the README's threat model.

mod interpreter;
mod jail;
mod pool;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use interpreter::{python_kind, Bridge, Fault, FunctionShape, Interpreter, NoBridge};
use jail::{Identity, Jail, JailPlan, Limit, INSIDE_ID};
pub use pool::{InterpreterPool, Pooled};

/// The interpreter side of the protocol, run with `python3 -I -B -c`.
const RUNNER: &str = include_str!("../python/runner.py");

/// How long validating code ([`Sandbox::check`]) may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Sandbox settings (`[sandbox]` in `assay.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// The Python interpreter: a command on `PATH` or a path.
    pub python: String,
    /// Address-space limit of each process, in MiB.
    pub memory_mb: u64,
    /// Processes (and threads) one interpreter may have at once.
    pub max_processes: u64,
    /// Open files per process.
    pub max_open_files: u64,
    /// Size of the private `/tmp`, which is also the largest file it may write, in MiB.
    pub tmp_size_mb: u64,
    /// CPU seconds an interpreter may use over its whole life; it is replaced before that.
    pub cpu_seconds: u64,
    /// Largest message an interpreter may send (a return value), in MiB.
    pub max_message_mb: u64,
    /// Bytes of an interpreter's printed output kept for error messages.
    pub log_bytes: usize,
    /// Interpreters alive at once in this process, over all runs; a new one waits for a slot
    /// (idle interpreters of other pools are stopped to make room).
    pub max_interpreters: usize,
    /// When the host runs as root: the first of the user ids given to interpreters (one per
    /// live interpreter, up to 65,536 of them). A host that is not root uses a user namespace
    /// instead.
    pub uid_base: u32,
    /// An empty directory used as the mount point of each sandbox's root (created if
    /// missing; default: `assay-sandbox-root` in the system temporary directory).
    pub root_dir: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            python: "python3".into(),
            memory_mb: 2048,
            max_processes: 32,
            max_open_files: 256,
            tmp_size_mb: 64,
            cpu_seconds: 3600,
            max_message_mb: 64,
            log_bytes: 16 * 1024,
            max_interpreters: 32,
            uid_base: 200_000,
            root_dir: None,
        }
    }
}

/// Number of user ids handed out from `uid_base`.
const UID_COUNT: u32 = 65_536;

/// The machine's Python and how to jail it.
struct Install {
    executable: PathBuf,
    plan: JailPlan,
}

struct Inner {
    config: SandboxConfig,
    install: tokio::sync::OnceCell<Result<Arc<Install>, String>>,
    /// One permit per live interpreter (`max_interpreters`).
    slots: Arc<tokio::sync::Semaphore>,
    /// The idle interpreters of every pool, stopped when a new interpreter needs a slot.
    idle: Mutex<Vec<std::sync::Weak<Mutex<Vec<Interpreter>>>>>,
}

/// The sandbox: cheap to clone, shared by everything that runs Python.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

impl Sandbox {
    /// A sandbox with `config`; the Python installation is probed on first use.
    pub fn new(config: SandboxConfig) -> Self {
        let slots = config.max_interpreters.max(1);
        Self {
            inner: Arc::new(Inner {
                config,
                install: tokio::sync::OnceCell::new(),
                slots: Arc::new(tokio::sync::Semaphore::new(slots)),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Whether Python can be run here; the error says why not.
    pub async fn available(&self) -> Result<(), String> {
        self.install().await.map(|_| ())
    }

    async fn install(&self) -> Result<Arc<Install>, String> {
        self.inner
            .install
            .get_or_init(|| async {
                let config = self.inner.config.clone();
                tokio::task::spawn_blocking(move || probe(&config).map(Arc::new))
                    .await
                    .map_err(|e| format!("probing Python failed: {e}"))?
            })
            .await
            .clone()
    }

    /// Checks `source` without running it: a syntax error is `Fault::Raised` with its line;
    /// otherwise returns the module's top-level functions and the arguments they take.
    pub async fn check(
        &self,
        source: &str,
        filename: &str,
    ) -> Result<HashMap<String, FunctionShape>, Fault> {
        let mut interpreter = self.spawn().await?;
        let reply = interpreter
            .request(
                json!({"op": "check", "source": source, "filename": filename}),
                CHECK_TIMEOUT,
                &mut NoBridge,
            )
            .await?;
        serde_json::from_value(reply.get("functions").cloned().unwrap_or(Value::Null))
            .map_err(|e| Fault::Protocol(format!("unreadable check reply: {e}")))
    }

    /// Starts an interpreter and loads `source` (its top-level code runs, within `timeout`).
    pub async fn start(
        &self,
        source: &str,
        filename: &str,
        timeout: Duration,
    ) -> Result<Interpreter, Fault> {
        let mut interpreter = self.spawn().await?;
        interpreter
            .request(
                json!({"op": "load", "source": source, "filename": filename}),
                timeout,
                &mut NoBridge,
            )
            .await?;
        Ok(interpreter)
    }

    /// Registers a pool's idle list, so its interpreters can be stopped to make room.
    pub(crate) fn register_idle(&self, idle: &Arc<Mutex<Vec<Interpreter>>>) {
        if let Ok(mut lists) = self.inner.idle.lock() {
            lists.retain(|l| l.strong_count() > 0);
            lists.push(Arc::downgrade(idle));
        }
    }

    /// A slot for one more interpreter: at once if one is free, else after stopping an idle
    /// interpreter of some pool, else when a busy one stops.
    async fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Fault> {
        let slots = self.inner.slots.clone();
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let evicted = self.inner.idle.lock().ok().and_then(|lists| {
            lists
                .iter()
                .filter_map(|l| l.upgrade())
                .find_map(|l| l.lock().ok().and_then(|mut idle| idle.pop()))
        });
        drop(evicted);
        slots
            .acquire_owned()
            .await
            .map_err(|_| Fault::Unavailable("the sandbox is shut down".into()))
    }

    async fn spawn(&self) -> Result<Interpreter, Fault> {
        let install = self.install().await.map_err(Fault::Unavailable)?;
        let config = &self.inner.config;
        let slot = self.slot().await?;
        let lease = if is_root() {
            Some(self.lease_uid()?)
        } else {
            None
        };
        let identity = match &lease {
            Some(lease) => Identity::Switch {
                uid: lease.uid,
                gid: lease.uid,
            },
            None => {
                // SAFETY: geteuid/getegid cannot fail.
                let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
                Identity::UserNamespace {
                    uid_map: map_line(uid)?,
                    gid_map: map_line(gid)?,
                }
            }
        };
        let jail = Jail::new(&install.plan, identity)
            .map_err(|e| Fault::Unavailable(format!("preparing the sandbox: {e}")))?;
        let mut command = Command::new(&install.executable);
        command
            .args(["-I", "-B", "-c", RUNNER])
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", "/tmp")
            .env("TMPDIR", "/tmp")
            .env("LANG", "C.UTF-8")
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: `Jail::enter` only makes system calls over data prepared before the
            // fork (see the `jail` module).
            unsafe {
                command.pre_exec(move || jail.enter());
            }
        }
        let child = spawn_from_keeper_thread(command).await.map_err(|e| {
            Fault::Unavailable(format!(
                "cannot start the sandboxed interpreter ({e}); the sandbox needs Linux \
                 namespaces (run as root, or allow unprivileged user namespaces)"
            ))
        })?;
        Interpreter::new(
            child,
            lease,
            Some(slot),
            config.max_message_mb.saturating_mul(1 << 20) as usize,
            config.log_bytes,
            config.cpu_seconds,
        )
    }

    fn lease_uid(&self) -> Result<UidLease, Fault> {
        lease_uid(self.inner.config.uid_base)
    }
}

/// A user id held by a live interpreter: no other interpreter, in this process or another
/// one on the machine, runs as it until the lease drops (an exclusive `flock` on a file named
/// after it, released with the interpreter, or by the kernel if the host dies).
pub(crate) struct UidLease {
    uid: u32,
    _lock: std::fs::File,
}

impl Drop for UidLease {
    fn drop(&mut self) {
        if let Ok(mut held) = HELD_UIDS.lock() {
            held.retain(|u| *u != self.uid);
        }
    }
}

/// User ids leased by this process (a process's own `flock`s do not exclude each other).
static HELD_UIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static NEXT_UID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The directory of the user id locks: only root can have made or changed it, so nobody else
/// can plant links or replace locks in it.
fn uid_lock_dir() -> Result<PathBuf, Fault> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let run = Path::new("/run");
    let parent = if run.is_dir() {
        run.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = parent.join("assay-sandbox-uids");
    let unusable = |why: String| {
        Fault::Unavailable(format!("sandbox user id locks in {}: {why}", dir.display()))
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(unusable(e.to_string())),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| unusable(e.to_string()))?;
    if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(unusable(
            "it must be a directory owned by root and writable by root only".into(),
        ));
    }
    Ok(dir)
}

fn lease_uid(base: u32) -> Result<UidLease, Fault> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    if base == 0 || base > u32::MAX - UID_COUNT {
        return Err(Fault::Unavailable(format!(
            "sandbox.uid_base must be between 1 and {} (it is {base})",
            u32::MAX - UID_COUNT
        )));
    }
    let dir = uid_lock_dir()?;
    let start = NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for step in 0..UID_COUNT {
        let uid = base + start.wrapping_add(step) % UID_COUNT;
        let mut held = HELD_UIDS
            .lock()
            .map_err(|_| Fault::Unavailable("sandbox user ids are unusable".into()))?;
        if held.contains(&uid) {
            continue;
        }
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(dir.join(uid.to_string()))
        else {
            continue;
        };
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            held.push(uid);
            return Ok(UidLease { uid, _lock: file });
        }
    }
    Err(Fault::Unavailable(format!(
        "all {UID_COUNT} sandbox user ids from {base} are in use"
    )))
}

fn map_line(id: u32) -> Result<std::ffi::CString, Fault> {
    std::ffi::CString::new(format!("{INSIDE_ID} {id} 1\n"))
        .map_err(|e| Fault::Unavailable(e.to_string()))
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

type SpawnJob = (
    Command,
    tokio::sync::oneshot::Sender<std::io::Result<std::process::Child>>,
);

/// Spawns `command` from one long-lived thread. The parent-death signal of a child fires when
/// the *thread* that forked it ends, so children must not be forked by pool threads that come
/// and go.
async fn spawn_from_keeper_thread(command: Command) -> std::io::Result<std::process::Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        let spawned = std::thread::Builder::new()
            .name("assay-sandbox-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    // A caller that gave up leaves its sandbox to be stopped and reaped here.
                    if let Err(Ok(mut child)) = reply.send(command.spawn()) {
                        // SAFETY: the child is not reaped yet, so the pid is its.
                        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
                        let _ = child.wait();
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the sandbox spawner thread");
        }
        Mutex::new(tx)
    });
    let (tx, rx) = tokio::sync::oneshot::channel();
    sender
        .lock()
        .map_err(|_| std::io::Error::other("the sandbox spawner is unusable"))?
        .send((command, tx))
        .map_err(|_| std::io::Error::other("the sandbox spawner thread is gone"))?;
    rx.await
        .map_err(|_| std::io::Error::other("the sandbox spawner thread is gone"))?
}

/// Finds the Python installation and the host paths an interpreter needs.
fn probe(config: &SandboxConfig) -> Result<Install, String> {
    let output = Command::new(&config.python)
        .args([
            "-I",
            "-c",
            "import json, sys; print(json.dumps([sys.executable, sys.prefix, sys.base_prefix, sys.version.split()[0]]))",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run Python ({}): {e}", config.python))?;
    if !output.status.success() {
        return Err(format!(
            "Python ({}) failed: {}",
            config.python,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let (executable, prefix, base_prefix, version): (PathBuf, PathBuf, PathBuf, String) =
        serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("unexpected answer from Python ({}): {e}", config.python))?;
    let executable = std::fs::canonicalize(&executable)
        .map_err(|e| format!("Python's executable {}: {e}", executable.display()))?;
    tracing::info!(python = %executable.display(), version, "sandbox Python found");
    let mut wanted: Vec<PathBuf> = [
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    wanted.push(prefix);
    wanted.push(base_prefix);
    if let Some(dir) = executable.parent() {
        wanted.push(dir.to_path_buf());
    }
    let mut binds: Vec<PathBuf> = Vec::new();
    let mut links = Vec::new();
    for path in wanted {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() && path.parent() == Some(Path::new("/")) {
            if let Ok(target) = std::fs::read_link(&path) {
                if !links.iter().any(|(l, _)| l == &path) {
                    links.push((path, target));
                }
            }
            continue;
        }
        let Ok(real) = std::fs::canonicalize(&path) else {
            continue;
        };
        if real.is_dir() {
            binds.push(real);
        }
    }
    binds.sort();
    binds.dedup();
    // A directory inside another bind is already visible.
    let mut kept: Vec<PathBuf> = Vec::new();
    for bind in binds {
        if !kept.iter().any(|k| bind.starts_with(k)) {
            kept.push(bind);
        }
    }
    let root = config
        .root_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("assay-sandbox-root"));
    std::fs::create_dir_all(&root)
        .map_err(|e| format!("sandbox root directory {}: {e}", root.display()))?;
    let mib = |n: u64| n.saturating_mul(1 << 20);
    let cpu = config.cpu_seconds.max(1);
    let limits: Vec<Limit> = vec![
        (
            libc::RLIMIT_AS,
            mib(config.memory_mb),
            mib(config.memory_mb),
        ),
        (
            libc::RLIMIT_NPROC,
            config.max_processes,
            config.max_processes,
        ),
        (
            libc::RLIMIT_NOFILE,
            config.max_open_files,
            config.max_open_files,
        ),
        (
            libc::RLIMIT_FSIZE,
            mib(config.tmp_size_mb),
            mib(config.tmp_size_mb),
        ),
        (libc::RLIMIT_CORE, 0, 0),
        (libc::RLIMIT_CPU, cpu.min(60), cpu),
    ];
    Ok(Install {
        executable,
        plan: JailPlan {
            root,
            binds: kept,
            links,
            tmp_bytes: mib(config.tmp_size_mb),
            limits,
        },
    })
}
