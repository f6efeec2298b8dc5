//! The isolation of one interpreter process, set up between `fork` and `exec`.
//!
//! The child the host spawns (the *keeper*) starts a new session, enters fresh mount, network,
//! PID, IPC and UTS namespaces (plus a user namespace when the host is not root) and forks the
//! interpreter, which is PID 1 of the new PID namespace. The keeper closes every descriptor,
//! waits for the interpreter and exits with its status; killing the keeper kills the
//! interpreter (parent-death signal), and the death of PID 1 kills everything it started.
//!
//! The interpreter builds its own root: a small tmpfs holding read-only binds of the system
//! and Python directories, a few device nodes and a private tmpfs `/tmp`; it pivots into it
//! and detaches the host's tree, sets its resource limits, drops to an unprivileged user and
//! forbids gaining privileges again, then `exec`s Python.
//!
//! Everything here runs in a forked child of a multi-threaded process, so the code between
//! `fork` and `exec` only makes system calls over data prepared beforehand: no allocation,
//! no locks.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Who the interpreter runs as.
#[derive(Clone)]
pub(crate) enum Identity {
    /// The host is root: the interpreter switches to this unprivileged user and group, one
    /// per live interpreter, so the process limit counts its own processes only.
    Switch { uid: u32, gid: u32 },
    /// The host is not root: a user namespace maps the interpreter's user (1000) to the host's
    /// user; the process limit counts the processes of that namespace.
    UserNamespace { uid_map: CString, gid_map: CString },
}

/// The user id the interpreter has inside a user namespace.
pub(crate) const INSIDE_ID: u32 = 1000;

/// One resource limit: (resource, soft, hard).
pub(crate) type Limit = (libc::__rlimit_resource_t, libc::rlim_t, libc::rlim_t);

/// Everything the child needs, as C strings prepared before the fork.
pub(crate) struct Jail {
    identity: Identity,
    root: CString,
    root_options: CString,
    tmp: CString,
    tmp_options: CString,
    /// Directories to create under the new root, parents first.
    dirs: Vec<CString>,
    /// Read-only binds: (host path, mount point under the new root).
    binds: Vec<(CString, CString)>,
    /// Device nodes bound from the host: (host path, file under the new root).
    devices: Vec<(CString, CString)>,
    /// Symbolic links: (target, link under the new root).
    links: Vec<(CString, CString)>,
    limits: Vec<Limit>,
    host_pid: libc::pid_t,
    c: Constants,
}

struct Constants {
    slash: CString,
    dot: CString,
    tmpfs: CString,
    inside_tmp: CString,
    setgroups: CString,
    uid_map: CString,
    gid_map: CString,
    deny: CString,
}

/// What a jail is built from: the host paths to show and the limits to apply.
#[derive(Clone)]
pub(crate) struct JailPlan {
    /// An empty host directory used as the mount point of the new root.
    pub root: PathBuf,
    /// Host directories shown read-only at the same path inside.
    pub binds: Vec<PathBuf>,
    /// Host symbolic links recreated inside: (link path, target).
    pub links: Vec<(PathBuf, PathBuf)>,
    pub tmp_bytes: u64,
    pub limits: Vec<Limit>,
}

fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::other("a sandbox path holds a NUL byte"))
}

fn under(root: &Path, path: &Path) -> io::Result<CString> {
    let mut joined = root.as_os_str().as_bytes().to_vec();
    joined.extend_from_slice(path.as_os_str().as_bytes());
    cstr(&joined)
}

const DEVICES: [&str; 4] = ["/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"];

impl Jail {
    pub(crate) fn new(plan: &JailPlan, identity: Identity) -> io::Result<Jail> {
        let root = &plan.root;
        let mut dirs: Vec<PathBuf> = Vec::new();
        let want = |path: &Path, dirs: &mut Vec<PathBuf>| {
            for ancestor in path.ancestors().collect::<Vec<_>>().into_iter().rev() {
                if ancestor != Path::new("/") && !dirs.iter().any(|d| d == ancestor) {
                    dirs.push(ancestor.to_path_buf());
                }
            }
        };
        for bind in &plan.binds {
            want(bind, &mut dirs);
        }
        want(Path::new("/dev"), &mut dirs);
        let (owner, mode) = match &identity {
            Identity::Switch { uid, gid } => (format!("uid={uid},gid={gid}"), "0700"),
            Identity::UserNamespace { .. } => (format!("uid={INSIDE_ID},gid={INSIDE_ID}"), "0700"),
        };
        // Binds under /tmp (a Python in a temporary directory) are made inside the private
        // /tmp after it is mounted, so their directories must not be made before it.
        let tmp = Path::new("/tmp");
        let (in_tmp, outside): (Vec<PathBuf>, Vec<PathBuf>) = dirs
            .into_iter()
            .filter(|d| d != tmp)
            .partition(|d| d.starts_with(tmp));
        let mut ordered = outside;
        ordered.extend(in_tmp);
        Ok(Jail {
            identity,
            root: cstr(root.as_os_str().as_bytes())?,
            root_options: cstr(b"size=4m,mode=0755")?,
            tmp: under(root, tmp)?,
            tmp_options: cstr(
                format!("size={},mode={mode},{owner}", plan.tmp_bytes.max(1 << 20)).as_bytes(),
            )?,
            dirs: ordered
                .iter()
                .map(|d| under(root, d))
                .collect::<io::Result<_>>()?,
            binds: plan
                .binds
                .iter()
                .map(|b| Ok((cstr(b.as_os_str().as_bytes())?, under(root, b)?)))
                .collect::<io::Result<_>>()?,
            devices: DEVICES
                .iter()
                .filter(|d| Path::new(d).exists())
                .map(|d| Ok((cstr(d.as_bytes())?, under(root, Path::new(d))?)))
                .collect::<io::Result<_>>()?,
            links: plan
                .links
                .iter()
                .map(|(link, target)| {
                    Ok((cstr(target.as_os_str().as_bytes())?, under(root, link)?))
                })
                .collect::<io::Result<_>>()?,
            limits: plan.limits.clone(),
            host_pid: std::process::id() as libc::pid_t,
            c: Constants {
                slash: cstr(b"/")?,
                dot: cstr(b".")?,
                tmpfs: cstr(b"tmpfs")?,
                inside_tmp: cstr(b"/tmp")?,
                setgroups: cstr(b"/proc/self/setgroups")?,
                uid_map: cstr(b"/proc/self/uid_map")?,
                gid_map: cstr(b"/proc/self/gid_map")?,
                deny: cstr(b"deny")?,
            },
        })
    }

    /// Runs in the spawned child before `exec`: returns only in the interpreter, with the
    /// isolation in place.
    ///
    /// # Safety
    /// Must only be called between `fork` and `exec` (from `CommandExt::pre_exec`).
    pub(crate) unsafe fn enter(&self) -> io::Result<()> {
        // Never share the host's session or process group: a `kill(0, …)` from inside must
        // not reach the host's group.
        check(libc::setsid())?;
        let namespaces = libc::CLONE_NEWNS
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS;
        match &self.identity {
            Identity::Switch { .. } => {
                check(libc::unshare(namespaces))?;
            }
            Identity::UserNamespace { uid_map, gid_map } => {
                check(libc::unshare(namespaces | libc::CLONE_NEWUSER))?;
                write_file(&self.c.setgroups, &self.c.deny)?;
                write_file(&self.c.uid_map, uid_map)?;
                write_file(&self.c.gid_map, gid_map)?;
            }
        }
        // Die with the host. Entering a user namespace changes credentials, which clears the
        // parent-death signal, so it is set after that; a host already gone is noticed here.
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
        if libc::getppid() != self.host_pid {
            libc::_exit(1);
        }
        // The keeper waits for SIGTERM (kill the interpreter) and SIGCHLD (it ended); both
        // are blocked before the fork so neither can be missed, and unblocked again in the
        // interpreter.
        let mut keeper_signals: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut keeper_signals);
        libc::sigaddset(&mut keeper_signals, libc::SIGTERM);
        libc::sigaddset(&mut keeper_signals, libc::SIGCHLD);
        check(libc::sigprocmask(
            libc::SIG_BLOCK,
            &keeper_signals,
            &mut previous,
        ))?;
        // A raw clone, not libc's fork: no atfork handlers of the host's libraries run here.
        let pid = check(libc::syscall(libc::SYS_clone, libc::SIGCHLD, 0, 0, 0, 0) as libc::pid_t)?;
        if pid > 0 {
            self.keep(pid, &keeper_signals);
        }
        check(libc::sigprocmask(
            libc::SIG_SETMASK,
            &previous,
            std::ptr::null_mut(),
        ))?;
        // Its own session inside the namespace, so a `kill(0, …)` reaches no process outside.
        check(libc::setsid())?;
        // No host descriptor survives the exec but the three pipes (descriptors other parts
        // of the host opened without close-on-exec included).
        if libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) != 0
        {
            for fd in 3..65_536 {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
        // Directories made for the new root must be traversable by the unprivileged user
        // whatever the host's umask.
        libc::umask(0o022);
        self.build_root()?;
        for (resource, soft, hard) in &self.limits {
            let limit = libc::rlimit {
                rlim_cur: *soft,
                rlim_max: *hard,
            };
            check(libc::setrlimit(*resource, &limit))?;
        }
        if let Identity::Switch { uid, gid } = self.identity {
            check(libc::setgroups(0, std::ptr::null()))?;
            check(libc::setresgid(gid, gid, gid))?;
            check(libc::setresuid(uid, uid, uid))?;
        }
        // Changing credentials clears the parent-death signal: set it for the keeper now.
        check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0))?;
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
        Ok(())
    }

    /// The keeper: holds nothing open, waits for the interpreter and exits as it did. On
    /// SIGTERM it kills the interpreter — PID 1 of its namespace, whose death takes every other
    /// process there with it — and still waits, so once the keeper has exited nothing of the
    /// sandbox is left.
    unsafe fn keep(&self, pid: libc::pid_t, signals: &libc::sigset_t) -> ! {
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            for fd in 0..1024 {
                libc::close(fd);
            }
        }
        let mut status = 0;
        loop {
            let r = libc::waitpid(pid, &mut status, libc::WNOHANG);
            if r == pid {
                break;
            }
            if r < 0 && *libc::__errno_location() != libc::EINTR {
                libc::_exit(127);
            }
            let mut info: libc::siginfo_t = std::mem::zeroed();
            if libc::sigwaitinfo(signals, &mut info) == libc::SIGTERM {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        if libc::WIFEXITED(status) {
            libc::_exit(libc::WEXITSTATUS(status));
        }
        if libc::WIFSIGNALED(status) {
            libc::_exit(128 + libc::WTERMSIG(status));
        }
        libc::_exit(127)
    }

    unsafe fn mount_tmpfs(&self, target: &CString, options: &CString) -> io::Result<()> {
        check(libc::mount(
            self.c.tmpfs.as_ptr(),
            target.as_ptr(),
            self.c.tmpfs.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            options.as_ptr().cast(),
        ))?;
        Ok(())
    }

    unsafe fn build_root(&self) -> io::Result<()> {
        let null = std::ptr::null::<libc::c_char>();
        let nothing = std::ptr::null::<libc::c_void>();
        check(libc::mount(
            null,
            self.c.slash.as_ptr(),
            null,
            libc::MS_REC | libc::MS_PRIVATE,
            nothing,
        ))?;
        self.mount_tmpfs(&self.root, &self.root_options)?;
        make_dir(&self.tmp)?;
        self.mount_tmpfs(&self.tmp, &self.tmp_options)?;
        for dir in &self.dirs {
            make_dir(dir)?;
        }
        for (source, target) in &self.binds {
            // Not recursive: mounts nested under a system directory (a writable tmpfs at
            // /usr/src, say) stay out of the sandbox.
            bind(source, target)?;
            remount_read_only(target)?;
        }
        for (source, target) in &self.devices {
            let fd = check(libc::open(
                target.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            ))?;
            libc::close(fd);
            bind(source, target)?;
        }
        for (target, link) in &self.links {
            check(libc::symlink(target.as_ptr(), link.as_ptr()))?;
        }
        check(libc::chdir(self.root.as_ptr()))?;
        check(libc::syscall(
            libc::SYS_pivot_root,
            self.c.dot.as_ptr(),
            self.c.dot.as_ptr(),
        ) as libc::c_int)?;
        check(libc::umount2(self.c.dot.as_ptr(), libc::MNT_DETACH))?;
        check(libc::chdir(self.c.slash.as_ptr()))?;
        check(libc::mount(
            null,
            self.c.slash.as_ptr(),
            null,
            libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            nothing,
        ))?;
        check(libc::chdir(self.c.inside_tmp.as_ptr()))?;
        Ok(())
    }
}

/// Shows `source` at `target` (not recursively).
unsafe fn bind(source: &CString, target: &CString) -> io::Result<()> {
    check(libc::mount(
        source.as_ptr(),
        target.as_ptr(),
        std::ptr::null(),
        libc::MS_BIND,
        std::ptr::null(),
    ))?;
    Ok(())
}

/// Remounts a bind read-only, keeping the flags the kernel will not let it drop.
unsafe fn remount_read_only(target: &CString) -> io::Result<()> {
    let mut stat: libc::statvfs = std::mem::zeroed();
    check(libc::statvfs(target.as_ptr(), &mut stat))?;
    let kept = [
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ]
    .iter()
    .filter(|(st, _)| stat.f_flag & st != 0)
    .fold(0, |flags, (_, ms)| flags | ms);
    check(libc::mount(
        std::ptr::null(),
        target.as_ptr(),
        std::ptr::null(),
        libc::MS_BIND
            | libc::MS_REMOUNT
            | libc::MS_RDONLY
            | libc::MS_NOSUID
            | libc::MS_NODEV
            | kept,
        std::ptr::null(),
    ))?;
    Ok(())
}

unsafe fn make_dir(path: &CString) -> io::Result<()> {
    if libc::mkdir(path.as_ptr(), 0o755) != 0 && *libc::__errno_location() != libc::EEXIST {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

unsafe fn write_file(path: &CString, content: &CString) -> io::Result<()> {
    let fd = check(libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC))?;
    let bytes = content.as_bytes();
    let written = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
    libc::close(fd);
    if written != bytes.len() as isize {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn check<T: Copy + PartialOrd + Default>(result: T) -> io::Result<T> {
    if result < T::default() {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}
