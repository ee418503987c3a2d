//! Health checks: one probe of a running container (a command run with
//! `husk exec`, a TCP connect or an HTTP GET inside its network namespace,
//! a file that must exist inside its root), and the state machine that
//! turns probe results into `starting`, `healthy` or `unhealthy` with
//! docker's rules (retries, start period).
//!
//! Called from: the shim, once per interval. `probe` blocks for at most
//! about the timeout; everything that must enter the container runs in a
//! child process, so the long-lived shim never changes its own namespaces.
//!
//! Runs in: the shim (and tests); the network probes in a forked child.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::{fstat, stat, Mode};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::policy::{Health, Probe};
use crate::sys::linux::{self, Forked};

/// At most this much of a probe's output is kept (its tail).
pub const OUTPUT_MAX: usize = 1024;
/// Probe results kept in the state (docker keeps five too).
pub const LOG_MAX: usize = 5;

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeResult {
    pub ok: bool,
    /// The tail of what the probe printed, or what went wrong (≤ 1 KiB).
    pub output: String,
    /// When the probe began, RFC 3339.
    pub started: String,
    pub duration_ms: u64,
}

/// A container's health, as `state`, `list` and `wait --condition healthy` see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Checked, but no probe has succeeded yet.
    Starting,
    Healthy,
    Unhealthy,
    /// The container has no health check.
    #[default]
    None,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
            Status::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthState {
    pub status: Status,
    /// Failures in a row that counted (outside the start period).
    pub failing_streak: u32,
    /// The last `LOG_MAX` results, oldest first.
    #[serde(default)]
    pub log: Vec<ProbeResult>,
}

/// A new state starts as `starting` (a container without a check has no
/// HealthState, or one whose status is set to `none`).
impl Default for HealthState {
    fn default() -> Self {
        HealthState::new()
    }
}

impl HealthState {
    /// The state of a container with a health check that was just started.
    pub fn new() -> HealthState {
        HealthState {
            status: Status::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    /// Records one probe result, `since_start` after the container started,
    /// with docker's rules: a success makes it healthy; a failure during the
    /// start period does not count unless it has been healthy already;
    /// `retries` counted failures in a row make it unhealthy. Returns
    /// (old, new) when the status changed.
    pub fn record(
        &mut self,
        result: ProbeResult,
        health: &Health,
        since_start: Duration,
    ) -> Option<(Status, Status)> {
        let old = self.status;
        // A state without a check (none) that gets a result has one now.
        let current = if old == Status::None {
            Status::Starting
        } else {
            old
        };
        let ok = result.ok;
        self.log.push(result);
        if self.log.len() > LOG_MAX {
            let extra = self.log.len() - LOG_MAX;
            self.log.drain(..extra);
        }
        self.status = if ok {
            self.failing_streak = 0;
            Status::Healthy
        } else if current == Status::Starting && since_start < health.start_period {
            current
        } else {
            self.failing_streak = self.failing_streak.saturating_add(1);
            if self.failing_streak >= health.retries {
                Status::Unhealthy
            } else {
                current
            }
        };
        (self.status != old).then_some((old, self.status))
    }
}

/// Why a probe could not even be tried; rendered into the result's output.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("the container's process {pid} is gone")]
    ProcessGone { pid: i32 },
    #[error("cannot open {path}")]
    OpenProc {
        path: String,
        #[source]
        source: nix::Error,
    },
    #[error("cannot run {what}")]
    Spawn {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to {what}")]
    Step {
        what: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("the probe process ended without a report")]
    NoReport,
    #[error("invalid health url {url:?}: {why}")]
    Url { url: String, why: &'static str },
}

fn step(what: &'static str) -> impl FnOnce(nix::Error) -> HealthError {
    move |source| HealthError::Step { what, source }
}

/// An error and its causes on one line, as `main` prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Runs one probe against container `id` (init `init_pid`) and reports
/// its outcome; never fails itself: what went wrong is the output of a
/// failed result. `husk` is the husk binary (for `exec`), `root` the state
/// root it is to use.
pub fn probe(
    husk: &Path,
    root: &Path,
    id: &str,
    init_pid: i32,
    probe: &Probe,
    timeout: Duration,
) -> ProbeResult {
    let started = crate::timestamp::now();
    let t0 = Instant::now();
    let deadline = t0 + timeout;
    let outcome = match probe {
        Probe::Cmd(cmd) => run_cmd(husk, root, id, cmd, timeout),
        Probe::Tcp(port) => {
            let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, *port);
            in_netns(init_pid, &NetRequest::Connect(addr), deadline).map(|r| r.describe(addr))
        }
        Probe::Http(url) => parse_http_url(url).and_then(|t| {
            let request = t.request();
            in_netns(
                init_pid,
                &NetRequest::Get(t.addr, request.as_bytes()),
                deadline,
            )
            .map(|r| r.describe(t.addr))
        }),
        Probe::File(path) => file_exists(init_pid, path),
    };
    let (ok, output) = outcome.unwrap_or_else(|e| (false, chain(&e)));
    ProbeResult {
        ok,
        output: tail(&output, OUTPUT_MAX),
        started,
        duration_ms: u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// The last `max` bytes of `s`, cut at a character boundary.
pub fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

/// A poll timeout for what is left until `deadline`, rounded up to a
/// whole millisecond (and capped; callers loop).
fn poll_timeout(deadline: Instant) -> PollTimeout {
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = left.as_micros().div_ceil(1000).min(u128::from(u16::MAX));
    PollTimeout::from(u16::try_from(ms).unwrap_or(u16::MAX))
}

// ---- Cmd ----------------------------------------------------------------

/// `husk --root ROOT exec ID sh -c CMD` with stdout and stderr captured;
/// exit 0 is healthy. At the timeout the whole process group (husk exec
/// and the process it started in the container, which stays in husk's
/// group unless it asks for a terminal) gets SIGKILL.
fn run_cmd(
    husk: &Path,
    root: &Path,
    id: &str,
    cmd: &str,
    timeout: Duration,
) -> Result<(bool, String), HealthError> {
    let deadline = Instant::now() + timeout;
    let (rd, wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(step("make a pipe"))?;
    let spawn_err = |source| HealthError::Spawn {
        what: format!("{} exec", husk.display()),
        source,
    };
    let wr2 = wr.try_clone().map_err(spawn_err)?;
    let mut child = {
        // Dropped at the end of this block: our copies of the write end
        // close, so only the probe holds it.
        let mut c = Command::new(husk);
        c.arg("--root")
            .arg(root)
            .args(["exec", id, "sh", "-c", cmd])
            .stdin(Stdio::null())
            .stdout(Stdio::from(wr))
            .stderr(Stdio::from(wr2))
            .process_group(0);
        c.spawn().map_err(spawn_err)?
    };
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"));
    let kill_group = || {
        let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
    };
    let pidfd = match linux::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            kill_group();
            let _ = child.wait();
            return Err(step("watch the probe process")(e));
        }
    };
    let mut out = Vec::new();
    let mut pipe_open = true;
    let exited = loop {
        if Instant::now() >= deadline {
            break false;
        }
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if pipe_open {
            fds.push(PollFd::new(rd.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, poll_timeout(deadline)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                kill_group();
                let _ = child.wait();
                return Err(step("wait for the probe process")(e));
            }
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (child_done, pipe_ready) = (ready(0), ready(1));
        drop(fds);
        if pipe_ready {
            pipe_open = read_some(rd.as_fd(), &mut out);
        }
        if child_done {
            break true;
        }
    };
    if !exited {
        kill_group();
        let _ = child.wait();
        // The group is dead: what it wrote is all in the pipe.
        if pipe_open {
            drain(rd.as_fd(), &mut out);
        }
        let mut text = String::from_utf8_lossy(&out).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("health check timed out after {timeout:?}"));
        return Ok((false, text));
    }
    // Something the command left in the background may hold the pipe open:
    // take what is there now, do not wait for the end of it.
    if pipe_open {
        drain(rd.as_fd(), &mut out);
    }
    let status = child.wait().map_err(|source| HealthError::Spawn {
        what: "wait for the probe process".into(),
        source,
    })?;
    Ok((status.success(), String::from_utf8_lossy(&out).into_owned()))
}

/// Reads what is ready; false at the end of the pipe. Keeps only the tail.
fn read_some(fd: BorrowedFd<'_>, out: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    match nix::unistd::read(fd, &mut buf) {
        Ok(0) => false,
        Ok(n) => {
            out.extend_from_slice(&buf[..n]);
            if out.len() > 4 * OUTPUT_MAX {
                let extra = out.len() - OUTPUT_MAX;
                out.drain(..extra);
            }
            true
        }
        Err(Errno::EINTR | Errno::EAGAIN) => true,
        Err(_) => false,
    }
}

/// Reads whatever is already in the pipe, without waiting.
fn drain(fd: BorrowedFd<'_>, out: &mut Vec<u8>) {
    for _ in 0..64 {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        if !read_some(fd, out) {
            return;
        }
    }
}

// ---- File ---------------------------------------------------------------

/// Opens `/proc/<pid>/<entry>` and makes sure it belongs to the live
/// process `pid` was when we looked: a pid recycled in between has another
/// start time.
fn open_proc_entry(pid: i32, entry: &str, flags: OFlag) -> Result<OwnedFd, HealthError> {
    let gone = || HealthError::ProcessGone { pid };
    let live =
        |s: Option<crate::process::ProcStat>| s.filter(|s| s.state != b'Z' && s.state != b'X');
    if pid <= 0 {
        return Err(gone());
    }
    let before = live(crate::process::stat(Pid::from_raw(pid))).ok_or_else(gone)?;
    let path = format!("/proc/{pid}/{entry}");
    let fd =
        open(path.as_str(), flags | OFlag::O_CLOEXEC, Mode::empty()).map_err(
            |source| match source {
                Errno::ENOENT | Errno::ESRCH => gone(),
                source => HealthError::OpenProc { path, source },
            },
        )?;
    match live(crate::process::stat(Pid::from_raw(pid))) {
        Some(after) if after.start == before.start => Ok(fd),
        _ => Err(gone()),
    }
}

/// Is `path` there inside the container's root? Resolved as if that root
/// were `/`: a symlink cannot lead out of it to a host file.
fn file_exists(init_pid: i32, path: &str) -> Result<(bool, String), HealthError> {
    let root = open_proc_entry(init_pid, "root", OFlag::O_PATH | OFlag::O_DIRECTORY)?;
    Ok(
        match crate::init::rootfs::resolve::open_in_root(root.as_fd(), Path::new(path), true) {
            Ok(_) => (true, format!("{path} exists")),
            Err(e) => (false, format!("{path}: {}", e.desc())),
        },
    )
}

// ---- Tcp and Http -------------------------------------------------------

/// A target of an HTTP probe: `http://HOST[:PORT][/PATH]` where HOST is a
/// literal IPv4 address or `localhost` (no DNS: the probe runs in the
/// container's network namespace, not with its resolver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    pub addr: SocketAddrV4,
    /// HOST[:PORT] as written, for the Host header.
    pub authority: String,
    /// The path and query, "/" when none was given.
    pub path: String,
}

impl HttpTarget {
    pub fn request(&self) -> String {
        format!(
            "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: husk-health\r\nConnection: close\r\n\r\n",
            self.path, self.authority
        )
    }
}

pub fn parse_http_url(url: &str) -> Result<HttpTarget, HealthError> {
    let bad = |why| HealthError::Url {
        url: url.to_string(),
        why,
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// is supported"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let path = path.split('#').next().unwrap_or("/").to_string();
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad(
            "the path must not contain spaces or control characters",
        ));
    }
    if authority.contains('@') {
        return Err(bad("user names in the url are not supported"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("the port must be a number 1-65535"))?,
        ),
        None => (authority, 80),
    };
    let ip = if host.eq_ignore_ascii_case("localhost") {
        Ipv4Addr::LOCALHOST
    } else {
        host.parse::<Ipv4Addr>().map_err(|_| {
            bad("the host must be an IPv4 address or localhost (names are not resolved)")
        })?
    };
    Ok(HttpTarget {
        addr: SocketAddrV4::new(ip, port),
        authority: authority.to_string(),
        path,
    })
}

/// What the netns child does.
enum NetRequest<'a> {
    Connect(SocketAddrV4),
    /// Connect, send the request, read the status line.
    Get(SocketAddrV4, &'a [u8]),
}

/// What the netns child reports, in one pipe write:
/// [outcome, errno (4 bytes LE), length (2 bytes LE), status line bytes].
#[derive(Debug, Clone, PartialEq, Eq)]
enum NetOutcome {
    Connected,
    /// HTTP status line (without the line end).
    Status(Vec<u8>),
    Failed(Stage, Errno),
    TimedOut(Stage),
    /// The server closed the connection without a status line.
    NoResponse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Setns,
    Socket,
    Connect,
    Send,
    Receive,
}

impl Stage {
    fn code(self) -> u8 {
        match self {
            Stage::Setns => 1,
            Stage::Socket => 2,
            Stage::Connect => 3,
            Stage::Send => 4,
            Stage::Receive => 5,
        }
    }

    fn from_code(c: u8) -> Option<Stage> {
        Some(match c {
            1 => Stage::Setns,
            2 => Stage::Socket,
            3 => Stage::Connect,
            4 => Stage::Send,
            5 => Stage::Receive,
            _ => return None,
        })
    }

    fn verb(self) -> &'static str {
        match self {
            Stage::Setns => "enter the container's network namespace",
            Stage::Socket => "make a socket",
            Stage::Connect => "connect to",
            Stage::Send => "send the request to",
            Stage::Receive => "read the response from",
        }
    }
}

/// The longest status line reported.
const STATUS_MAX: usize = 256;
const MSG_MAX: usize = 7 + STATUS_MAX;

/// Encodes an outcome into `buf` without allocating (runs in the child).
fn encode(kind: u8, errno: i32, line: &[u8], buf: &mut [u8; MSG_MAX]) -> usize {
    let line = &line[..line.len().min(STATUS_MAX)];
    buf[0] = kind;
    buf[1..5].copy_from_slice(&errno.to_le_bytes());
    let len = u16::try_from(line.len()).expect("STATUS_MAX fits in u16");
    buf[5..7].copy_from_slice(&len.to_le_bytes());
    buf[7..7 + line.len()].copy_from_slice(line);
    7 + line.len()
}

const KIND_CONNECTED: u8 = 0;
const KIND_STATUS: u8 = 1;
const KIND_NO_RESPONSE: u8 = 2;
/// Kinds 0x10 + stage: failed with errno; 0x20 + stage: timed out.
const KIND_FAILED: u8 = 0x10;
const KIND_TIMED_OUT: u8 = 0x20;

fn decode(msg: &[u8]) -> Option<NetOutcome> {
    if msg.len() < 7 {
        return None;
    }
    let errno = i32::from_le_bytes(msg[1..5].try_into().ok()?);
    let len = usize::from(u16::from_le_bytes(msg[5..7].try_into().ok()?));
    let line = msg.get(7..7 + len)?;
    Some(match msg[0] {
        KIND_CONNECTED => NetOutcome::Connected,
        KIND_STATUS => NetOutcome::Status(line.to_vec()),
        KIND_NO_RESPONSE => NetOutcome::NoResponse,
        k if k & 0xf0 == KIND_FAILED => {
            NetOutcome::Failed(Stage::from_code(k & 0x0f)?, Errno::from_raw(errno))
        }
        k if k & 0xf0 == KIND_TIMED_OUT => NetOutcome::TimedOut(Stage::from_code(k & 0x0f)?),
        _ => return None,
    })
}

impl NetOutcome {
    /// (healthy, output).
    fn describe(self, addr: SocketAddrV4) -> (bool, String) {
        match self {
            NetOutcome::Connected => (true, format!("connected to {addr}")),
            NetOutcome::Status(line) => {
                let line = String::from_utf8_lossy(&line).into_owned();
                (http_status_ok(&line), line)
            }
            NetOutcome::NoResponse => (
                false,
                format!("{addr} closed the connection without a response"),
            ),
            NetOutcome::Failed(stage @ (Stage::Setns | Stage::Socket), e) => {
                (false, format!("failed to {}: {}", stage.verb(), e.desc()))
            }
            NetOutcome::Failed(stage, e) => (
                false,
                format!("failed to {} {addr}: {}", stage.verb(), e.desc()),
            ),
            NetOutcome::TimedOut(stage) => (
                false,
                format!("timed out trying to {} {addr}", stage.verb()),
            ),
        }
    }
}

/// Is this an HTTP status line with a 2xx or 3xx code?
pub fn http_status_ok(line: &str) -> bool {
    let mut f = line.split_whitespace();
    f.next().is_some_and(|v| v.starts_with("HTTP/"))
        && f.next()
            .and_then(|c| c.parse::<u16>().ok())
            .is_some_and(|c| (200..400).contains(&c))
}

/// Runs `req` in a child that has joined the network namespace (and, when
/// it differs from ours, the user namespace that owns it) of `init_pid`.
/// The child reports through a pipe; at `deadline` it is killed.
fn in_netns(
    init_pid: i32,
    req: &NetRequest<'_>,
    deadline: Instant,
) -> Result<NetOutcome, HealthError> {
    let net = open_proc_entry(init_pid, "ns/net", OFlag::O_RDONLY)?;
    let user = open_proc_entry(init_pid, "ns/user", OFlag::O_RDONLY)?;
    let same_user_ns = match (fstat(&user), stat("/proc/self/ns/user")) {
        (Ok(a), Ok(b)) => a.st_ino == b.st_ino && a.st_dev == b.st_dev,
        _ => true,
    };
    let user = (!same_user_ns).then_some(user);
    let (rd, wr) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(step("make a pipe"))?;
    match linux::fork_process().map_err(step("fork the probe process"))? {
        Forked::Child => {
            // Runs in: the probe child. The parent may have threads (tests
            // do): no allocation, no locks, only plain system calls.
            drop(rd);
            let mut buf = [0u8; MSG_MAX];
            let n = net_child(user.as_ref(), &net, req, deadline, &mut buf);
            let _ = nix::unistd::write(&wr, &buf[..n]);
            linux::exit_now(0)
        }
        Forked::Parent(pid) => {
            drop(wr);
            let result = await_report(rd.as_fd(), deadline);
            if !matches!(result, Ok(Some(_))) {
                let _ = linux::kill(pid, Signal::SIGKILL);
            }
            let _ = linux::wait_raw(pid, 0);
            match result {
                Ok(Some(msg)) => decode(&msg).ok_or(HealthError::NoReport),
                Ok(None) => Ok(NetOutcome::TimedOut(match req {
                    NetRequest::Connect(_) => Stage::Connect,
                    NetRequest::Get(..) => Stage::Receive,
                })),
                Err(e) => Err(e),
            }
        }
    }
}

/// The child's report, or None at the deadline.
fn await_report(fd: BorrowedFd<'_>, deadline: Instant) -> Result<Option<Vec<u8>>, HealthError> {
    loop {
        if Instant::now() >= deadline {
            return Ok(None);
        }
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        match poll(&mut fds, poll_timeout(deadline)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(step("wait for the probe process")(e)),
        }
        let mut buf = [0u8; MSG_MAX];
        return match nix::unistd::read(fd, &mut buf) {
            Ok(n) => Ok(Some(buf[..n].to_vec())),
            Err(Errno::EINTR) => continue,
            Err(e) => Err(step("read the probe's report")(e)),
        };
    }
}

/// Runs in: the probe child. Returns the length of the report in `buf`.
fn net_child(
    user: Option<&OwnedFd>,
    net: &OwnedFd,
    req: &NetRequest<'_>,
    deadline: Instant,
    buf: &mut [u8; MSG_MAX],
) -> usize {
    let fail = |stage: Stage, e: Errno, buf: &mut [u8; MSG_MAX]| {
        encode(KIND_FAILED | stage.code(), e as i32, &[], buf)
    };
    let timed_out =
        |stage: Stage, buf: &mut [u8; MSG_MAX]| encode(KIND_TIMED_OUT | stage.code(), 0, &[], buf);
    if let Some(u) = user {
        if let Err(e) = nix::sched::setns(u, CloneFlags::CLONE_NEWUSER) {
            return fail(Stage::Setns, e, buf);
        }
    }
    if let Err(e) = nix::sched::setns(net, CloneFlags::CLONE_NEWNET) {
        return fail(Stage::Setns, e, buf);
    }
    let (addr, request) = match req {
        NetRequest::Connect(a) => (*a, None),
        NetRequest::Get(a, r) => (*a, Some(*r)),
    };
    // std's connect_timeout is a non-blocking connect and a poll; its
    // errors are plain errno values or static messages (no allocation).
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return timed_out(Stage::Connect, buf);
    }
    let mut sock = match TcpStream::connect_timeout(&addr.into(), left) {
        Ok(s) => s,
        Err(e) if is_timeout(&e) => return timed_out(Stage::Connect, buf),
        Err(e) => return fail(Stage::Connect, errno_of(&e), buf),
    };
    let Some(request) = request else {
        return encode(KIND_CONNECTED, 0, &[], buf);
    };
    // Each call may block for what is left until the deadline.
    let left = |sock: &TcpStream| {
        let d = deadline.saturating_duration_since(Instant::now());
        !d.is_zero()
            && sock.set_read_timeout(Some(d)).is_ok()
            && sock.set_write_timeout(Some(d)).is_ok()
    };
    if !left(&sock) {
        return timed_out(Stage::Send, buf);
    }
    match sock.write_all(request) {
        Ok(()) => {}
        Err(e) if is_timeout(&e) => return timed_out(Stage::Send, buf),
        Err(e) => return fail(Stage::Send, errno_of(&e), buf),
    }
    let mut line = [0u8; STATUS_MAX];
    let mut got = 0;
    while got < line.len() {
        if !left(&sock) {
            return timed_out(Stage::Receive, buf);
        }
        match sock.read(&mut line[got..]) {
            Ok(0) => break,
            Ok(n) => {
                got += n;
                if line[..got].contains(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return timed_out(Stage::Receive, buf),
            Err(e) => return fail(Stage::Receive, errno_of(&e), buf),
        }
    }
    let end = line[..got].iter().position(|b| *b == b'\n').unwrap_or(got);
    let status = &line[..end];
    let status = status.strip_suffix(b"\r").unwrap_or(status);
    if status.is_empty() {
        return encode(KIND_NO_RESPONSE, 0, &[], buf);
    }
    encode(KIND_STATUS, 0, status, buf)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

fn errno_of(e: &io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(retries: u32, start_period: Duration) -> Health {
        Health {
            probe: Probe::Tcp(80),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            retries,
            start_period,
        }
    }

    fn result(ok: bool) -> ProbeResult {
        ProbeResult {
            ok,
            output: String::new(),
            started: crate::timestamp::now(),
            duration_ms: 1,
        }
    }

    const IN_START: Duration = Duration::from_secs(1);
    const AFTER_START: Duration = Duration::from_secs(100);

    fn h3() -> Health {
        health(3, Duration::from_secs(10))
    }

    #[test]
    fn a_new_state_is_starting() {
        assert_eq!(HealthState::new().status, Status::Starting);
        assert_eq!(HealthState::default(), HealthState::new());
        assert_eq!(Status::default(), Status::None);
    }

    #[test]
    fn a_success_makes_a_starting_container_healthy() {
        let mut s = HealthState::new();
        assert_eq!(
            s.record(result(true), &h3(), IN_START),
            Some((Status::Starting, Status::Healthy))
        );
        assert_eq!(s.failing_streak, 0);
        assert_eq!(s.record(result(true), &h3(), AFTER_START), None);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_while_starting() {
        let mut s = HealthState::new();
        for _ in 0..10 {
            assert_eq!(s.record(result(false), &h3(), IN_START), None);
        }
        assert_eq!(s.status, Status::Starting);
        assert_eq!(s.failing_streak, 0);
    }

    #[test]
    fn the_start_period_ends_exactly_at_its_length() {
        let mut s = HealthState::new();
        let h = health(1, Duration::from_secs(10));
        assert_eq!(
            s.record(result(false), &h, Duration::from_millis(9_999)),
            None
        );
        assert_eq!(
            s.record(result(false), &h, Duration::from_secs(10)),
            Some((Status::Starting, Status::Unhealthy))
        );
    }

    #[test]
    fn failures_in_the_start_period_count_once_healthy() {
        let mut s = HealthState::new();
        s.record(result(true), &h3(), IN_START);
        assert_eq!(s.record(result(false), &h3(), IN_START), None);
        assert_eq!(s.record(result(false), &h3(), IN_START), None);
        assert_eq!(s.failing_streak, 2);
        assert_eq!(
            s.record(result(false), &h3(), IN_START),
            Some((Status::Healthy, Status::Unhealthy))
        );
        assert_eq!(s.failing_streak, 3);
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy() {
        let mut s = HealthState::new();
        assert_eq!(s.record(result(false), &h3(), AFTER_START), None);
        assert_eq!(s.record(result(false), &h3(), AFTER_START), None);
        assert_eq!((s.status, s.failing_streak), (Status::Starting, 2));
        assert_eq!(
            s.record(result(false), &h3(), AFTER_START),
            Some((Status::Starting, Status::Unhealthy))
        );
        // Further failures: still unhealthy, no change reported.
        assert_eq!(s.record(result(false), &h3(), AFTER_START), None);
        assert_eq!((s.status, s.failing_streak), (Status::Unhealthy, 4));
    }

    #[test]
    fn a_success_resets_the_streak() {
        let mut s = HealthState::new();
        let h = h3();
        s.record(result(true), &h, AFTER_START);
        s.record(result(false), &h, AFTER_START);
        s.record(result(false), &h, AFTER_START);
        assert_eq!(s.record(result(true), &h, AFTER_START), None);
        assert_eq!(s.failing_streak, 0);
        s.record(result(false), &h, AFTER_START);
        s.record(result(false), &h, AFTER_START);
        assert_eq!(s.status, Status::Healthy, "two of three retries");
    }

    #[test]
    fn an_unhealthy_container_recovers_with_one_success() {
        let mut s = HealthState::new();
        let h = health(1, Duration::ZERO);
        assert_eq!(
            s.record(result(false), &h, Duration::ZERO),
            Some((Status::Starting, Status::Unhealthy))
        );
        assert_eq!(
            s.record(result(true), &h, AFTER_START),
            Some((Status::Unhealthy, Status::Healthy))
        );
        assert_eq!(s.failing_streak, 0);
    }

    #[test]
    fn healthy_becomes_unhealthy_after_retries() {
        let mut s = HealthState::new();
        let h = health(2, Duration::ZERO);
        s.record(result(true), &h, AFTER_START);
        assert_eq!(s.record(result(false), &h, AFTER_START), None);
        assert_eq!(s.status, Status::Healthy);
        assert_eq!(
            s.record(result(false), &h, AFTER_START),
            Some((Status::Healthy, Status::Unhealthy))
        );
    }

    #[test]
    fn without_a_start_period_the_first_failures_count() {
        let mut s = HealthState::new();
        let h = health(2, Duration::ZERO);
        s.record(result(false), &h, Duration::ZERO);
        assert_eq!(s.failing_streak, 1);
    }

    #[test]
    fn a_none_state_turns_starting_with_its_first_result() {
        let none = HealthState {
            status: Status::None,
            ..HealthState::new()
        };
        let mut s = none.clone();
        assert_eq!(
            s.record(result(false), &h3(), IN_START),
            Some((Status::None, Status::Starting))
        );
        let mut s = none;
        assert_eq!(
            s.record(result(true), &h3(), IN_START),
            Some((Status::None, Status::Healthy))
        );
    }

    #[test]
    fn every_sequence_of_three_follows_the_rules() {
        // Exhaustive over 3 results × in/after the start period, retries 1-3:
        // compare with a direct statement of docker's rules.
        for retries in 1..=3 {
            let h = health(retries, Duration::from_secs(10));
            for bits in 0..64u32 {
                let mut s = HealthState::new();
                let (mut status, mut streak) = (Status::Starting, 0u32);
                for i in 0..3 {
                    let ok = bits >> (2 * i) & 1 == 1;
                    let early = bits >> (2 * i + 1) & 1 == 1;
                    let since = if early { IN_START } else { AFTER_START };
                    let before = status;
                    if ok {
                        status = Status::Healthy;
                        streak = 0;
                    } else if !(status == Status::Starting && early) {
                        streak += 1;
                        if streak >= retries {
                            status = Status::Unhealthy;
                        }
                    }
                    let change = s.record(result(ok), &h, since);
                    assert_eq!(
                        s.status, status,
                        "retries {retries} bits {bits:06b} step {i}"
                    );
                    assert_eq!(s.failing_streak, streak);
                    assert_eq!(change, (before != status).then_some((before, status)));
                }
            }
        }
    }

    #[test]
    fn the_log_keeps_the_last_five_results() {
        let mut s = HealthState::new();
        for i in 0..8u64 {
            let mut r = result(i % 2 == 0);
            r.duration_ms = i;
            s.record(r, &h3(), AFTER_START);
        }
        assert_eq!(
            s.log.iter().map(|r| r.duration_ms).collect::<Vec<_>>(),
            [3, 4, 5, 6, 7]
        );
    }

    #[test]
    fn state_serialises_in_lowercase_camel_case() {
        let mut s = HealthState::new();
        s.record(result(true), &h3(), IN_START);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["status"], "healthy");
        assert_eq!(v["failingStreak"], 0);
        assert!(v["log"][0].get("durationMs").is_some());
        let back: HealthState = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        assert_eq!(serde_json::to_value(Status::None).unwrap(), "none");
    }

    #[test]
    fn tail_keeps_the_end_at_a_char_boundary() {
        assert_eq!(tail("abc", 5), "abc");
        assert_eq!(tail("abcdef", 3), "def");
        // "é" is two bytes: a cut in its middle moves past it.
        assert_eq!(tail("aéb", 2), "b");
        assert_eq!(tail(&"x".repeat(5000), OUTPUT_MAX).len(), OUTPUT_MAX);
    }

    #[test]
    fn http_urls_parse() {
        let t = parse_http_url("http://127.0.0.1:8080/health?x=1").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.path, "/health?x=1");
        assert_eq!(t.authority, "127.0.0.1:8080");
        let t = parse_http_url("http://localhost").unwrap();
        assert_eq!(t.addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(t.path, "/");
        let t = parse_http_url("http://10.0.0.2?q").unwrap();
        assert_eq!(t.path, "/?q");
        assert_eq!(
            parse_http_url("http://localhost:81/a#frag").unwrap().path,
            "/a"
        );
        for bad in [
            "https://127.0.0.1/",
            "http://example.com/",
            "http://127.0.0.1:0/",
            "http://127.0.0.1:x/",
            "http://u@127.0.0.1/",
            "http://127.0.0.1/a b",
            "http://127.0.0.1/a\r\nX: y",
            "http://[::1]:80/",
        ] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_request_is_http_1_0_with_host_and_agent() {
        let t = parse_http_url("http://127.0.0.1:8080/ready").unwrap();
        assert_eq!(
            t.request(),
            "GET /ready HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nUser-Agent: husk-health\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn status_lines_2xx_and_3xx_are_healthy() {
        assert!(http_status_ok("HTTP/1.0 200 OK"));
        assert!(http_status_ok("HTTP/1.1 302 Found"));
        assert!(!http_status_ok("HTTP/1.0 404 Not Found"));
        assert!(!http_status_ok("HTTP/1.0 500 Internal Server Error"));
        assert!(!http_status_ok("HTTP/1.0 199 x"));
        assert!(!http_status_ok("SSH-2.0-OpenSSH"));
        assert!(!http_status_ok(""));
    }

    #[test]
    fn reports_round_trip() {
        let mut buf = [0u8; MSG_MAX];
        let n = encode(KIND_STATUS, 0, b"HTTP/1.0 200 OK", &mut buf);
        assert_eq!(
            decode(&buf[..n]),
            Some(NetOutcome::Status(b"HTTP/1.0 200 OK".to_vec()))
        );
        let n = encode(
            KIND_FAILED | Stage::Connect.code(),
            Errno::ECONNREFUSED as i32,
            &[],
            &mut buf,
        );
        assert_eq!(
            decode(&buf[..n]),
            Some(NetOutcome::Failed(Stage::Connect, Errno::ECONNREFUSED))
        );
        let n = encode(KIND_TIMED_OUT | Stage::Receive.code(), 0, &[], &mut buf);
        assert_eq!(
            decode(&buf[..n]),
            Some(NetOutcome::TimedOut(Stage::Receive))
        );
        let long = [b'x'; 1000];
        let n = encode(KIND_STATUS, 0, &long, &mut buf);
        assert_eq!(n, MSG_MAX);
        assert_eq!(decode(&[1, 2]), None);
        assert_eq!(decode(&[0x7f, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn outcomes_describe_themselves() {
        let a: SocketAddrV4 = "127.0.0.1:8080".parse().unwrap();
        let (ok, out) = NetOutcome::Failed(Stage::Connect, Errno::ECONNREFUSED).describe(a);
        assert!(!ok);
        assert!(
            out.contains("connect to 127.0.0.1:8080") && out.contains("refused"),
            "{out}"
        );
        assert_eq!(
            NetOutcome::Connected.describe(a),
            (true, "connected to 127.0.0.1:8080".to_string())
        );
        assert!(
            !NetOutcome::Status(b"HTTP/1.0 404 Not Found".to_vec())
                .describe(a)
                .0
        );
    }

    #[test]
    fn probes_of_a_process_that_does_not_exist_fail_and_say_so() {
        let r = probe(
            Path::new("/nonexistent"),
            Path::new("/nonexistent"),
            "x",
            i32::MAX,
            &Probe::File("/".into()),
            Duration::from_secs(1),
        );
        assert!(!r.ok);
        assert!(r.output.contains("is gone"), "{}", r.output);
        let r = probe(
            Path::new("/nonexistent"),
            Path::new("/nonexistent"),
            "x",
            i32::MAX,
            &Probe::Tcp(80),
            Duration::from_secs(1),
        );
        assert!(r.output.contains("is gone"), "{}", r.output);
    }

    #[test]
    fn a_probe_of_our_own_root_and_netns_works() {
        // Our own process as the "container": its root is the host's /.
        let me = std::process::id() as i32;
        let nowhere = Path::new("/nonexistent");
        let r = probe(
            nowhere,
            nowhere,
            "x",
            me,
            &Probe::File("/proc".into()),
            Duration::from_secs(1),
        );
        assert!(r.ok, "{}", r.output);
        let r = probe(
            nowhere,
            nowhere,
            "x",
            me,
            &Probe::File("/no/such/file".into()),
            Duration::from_secs(1),
        );
        assert!(!r.ok);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = probe(
            nowhere,
            nowhere,
            "x",
            me,
            &Probe::Tcp(port),
            Duration::from_secs(2),
        );
        if nix::unistd::geteuid().is_root() {
            assert!(r.ok, "{}", r.output);
        }
        let r = probe(
            nowhere,
            nowhere,
            "x",
            me,
            &Probe::Cmd("true".into()),
            Duration::from_secs(1),
        );
        assert!(!r.ok, "no husk at /nonexistent");
        assert!(r.output.contains("cannot run"), "{}", r.output);
    }
}
