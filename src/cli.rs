//! The command line: clap derive types only, no logic. runc's global flags
//! and commands; every flag works as `--flag value` and `--flag=value`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

// Texts longer than a line. They are the man pages too (scripts/gen-docs.sh):
// in an `after_help`, a line ending in ':' at the margin starts a section,
// lines indented by two spaces are prose and lines indented by four are
// shown as they are (commands).

const HUSK_LONG_ABOUT: &str = "\
An OCI container runtime in one static binary, with no daemon. It has two faces.

As an OCI runtime it has runc's command line: podman (through conmon), containerd \
(through containerd-shim-runc-v2), docker and Kubernetes call it as they call runc: \
create, start, run, state, list, kill, delete, ps, exec, pause, resume, update, \
events, spec and features, with runc's global flags, exit codes, error wording and JSON.

As a daemonless container manager it serves shells, scripts and Makefiles: every \
invocation loads the container's record from its state directory, checks the \
transition and saves the new record atomically. A detached container gets a small \
monitor, the shim, that records its exit code and reason, stops it gracefully, \
restarts it by policy, runs its health check and keeps its logs and events: stop, \
restart, wait, logs, health and stats. Under an engine that reaps its own children \
(conmon, containerd-shim) husk starts no shim, as runc would not (see --shim).";

const HUSK_AFTER_HELP: &str = "\
Examples:
  Make a bundle (config.json and a rootfs directory) and run it in the foreground:
    husk spec --bundle /tmp/b
    husk run --bundle /tmp/b box1
  Start services in order from a script or Makefile:
    husk run -d --health-cmd 'pg_isready' --bundle /srv/db db
    husk wait --condition healthy --timeout 60s db
    husk run -d --bundle /srv/app app

Global options go before the command, as with runc: husk --root DIR state ID.

Files:
  /run/husk/ID/ is the directory of container ID: its record state.json, its event \
log events.jsonl and, when detached, its logs. --root DIR replaces /run/husk; \
without root the default is $XDG_RUNTIME_DIR/husk.

Environment:
  HUSK_SHIM=auto|always|never sets the default of --shim.
";

const RUN_AFTER_HELP: &str = "\
Examples:
  In the foreground: husk exits with the container's status and deletes it:
    husk run --bundle /tmp/b box1
  Detached, watched by a shim that restarts it when it fails:
    husk run -d --restart on-failure:5 --bundle /srv/web web
  With a health check, waiting until it passes:
    husk run -d --health-tcp 8080 --health-interval 2s --bundle /srv/web web
    husk wait --condition healthy --timeout 30s web

Exit status:
  In the foreground, the container's exit status (128+N when signal N killed it); \
with --detach, 0 once the container is running. 1 when husk itself fails.
";

const CREATE_AFTER_HELP: &str = "\
Examples:
  Create, inspect, then start (the split engines use):
    husk create --bundle /tmp/b --pid-file /tmp/b/pid box1
    husk state box1
    husk start box1
";

const WAIT_AFTER_HELP: &str = "\
Examples:
  Wait for a container to exit; prints and exits with its exit code:
    husk wait web
  Order services: start the app only once the database is healthy:
    husk run -d --health-cmd 'pg_isready' --bundle /srv/db db
    husk wait --condition healthy --timeout 60s db && husk run -d --bundle /srv/app app

Exit status:
  With --condition exited, the exit code of the last container (255 when no \
monitor saw it exit); otherwise 0. 124 when --timeout passes first, 1 when the \
container exits before the condition holds or does not exist.
";

const STOP_AFTER_HELP: &str = "\
Examples:
  Stop with the container's stop signal, SIGKILL after its stop timeout:
    husk stop web
  Give two containers 5 seconds each:
    husk stop --time 5 app db
  Stop and remove:
    husk stop web && husk delete web

  A stopped container is not restarted by its restart policy; husk restart \
or husk start after create runs it again.
";

const EXEC_AFTER_HELP: &str = "\
Examples:
  Run a command and get its output and exit status:
    husk exec web ps
  An interactive shell with a terminal:
    husk exec -t web sh
  As an engine does: a process.json, detached, its pid written to a file:
    husk exec --detach --process /tmp/proc.json --pid-file /tmp/proc.pid web
";

const LOGS_AFTER_HELP: &str = "\
Examples:
  The last 20 lines, then follow:
    husk logs --tail 20 -f web
";

const EVENTS_AFTER_HELP: &str = "\
Examples:
  Every event of every container, then new ones as they happen:
    husk events --follow
  The last 10 minutes of one container:
    husk events --since 10m web

  Event types: created, started, paused, resumed, stopping, exited (with exit \
code, signal and reason), oom, health_status, restarting, restart_failed, deleted.
";

const KILL_AFTER_HELP: &str = "\
Examples:
    husk kill web            # SIGTERM to the init
    husk kill web KILL
    husk kill --all web 9    # every process of the container
";

#[derive(Debug, Parser)]
#[command(
    name = "husk",
    about = "An OCI container runtime with runc's command line, and a daemonless container manager",
    long_about = HUSK_LONG_ABOUT,
    after_help = HUSK_AFTER_HELP,
    disable_version_flag = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Print the version (runc's format: version, commit, spec)
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    // After `version`: the heading of the global options applies to the
    // arguments that follow it.
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The global option (`--root`) that a usage error is about, when it came
/// after the command.
pub fn misplaced_global(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split('=').next()?;
    let globals = <Global as clap::Args>::augment_args(clap::Command::new("husk"));
    let is_global = globals.get_arguments().any(|a| {
        a.get_long()
            .is_some_and(|l| flag.strip_prefix("--") == Some(l))
    });
    is_global.then(|| flag.to_string())
}

// Not `global = true`: runc takes its global options before the command
// only, and clap copied each global option into all 25 subcommands on every
// invocation (160 KiB of heap and 0.2 ms of `husk state`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Directory for container state (default /run/husk, or $XDG_RUNTIME_DIR/husk without root)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Append log messages to FILE instead of stderr
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Log format
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log debug messages
    #[arg(long)]
    pub debug: bool,

    /// Use the systemd cgroup driver (not supported yet)
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,

    /// Accepted for runc compatibility (true, false or auto): husk detects rootless mode itself. `husk --rootless=true spec` is `husk spec --rootless`
    #[arg(long, value_name = "MODE", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,

    /// Start a monitor (shim) for detached containers: auto = unless the
    /// caller is an engine that reaps its children (conmon, containerd-shim)
    #[arg(long, value_enum, env = "HUSK_SHIM", default_value_t = ShimMode::Auto)]
    pub shim: ShimMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShimMode {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Each subcommand's arguments are built only when it is the one invoked:
/// building the whole tree cost 80% of a `state` call's instructions.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Write a default config.json (a bundle's configuration) to the bundle directory
    Spec(SpecArgs),
    /// Create a container from a bundle; its process waits for `start`
    #[command(
        long_about = "Create a container from a bundle: namespaces, cgroup, mounts and the \
                      init process, which then waits for `husk start` before it runs the \
                      bundle's process. This is the first half of runc's create/start split, \
                      which engines use; `husk run` does both.",
        after_help = CREATE_AFTER_HELP
    )]
    Create(CreateArgs),
    /// Start the process of a created container
    Start(IdArg),
    /// Create and start a container, and wait for it in the foreground
    #[command(
        long_about = "Create and start a container. In the foreground husk relays the \
                      container's terminal or stdio and forwards signals, waits for it, \
                      deletes it (unless --keep) and exits with its status. With --detach \
                      it returns once the container runs, and a shim watches it: see the \
                      Monitor options for restart policy, stop signal, health check and logs.",
        after_help = RUN_AFTER_HELP
    )]
    Run(RunArgs),
    /// Print the state of a container as JSON
    #[command(
        long_about = "Print the state of a container as JSON: the OCI state (ociVersion, \
                      id, status, pid, bundle, annotations) and husk's own fields: phase, \
                      exit code and reason, health, restart count, monitor and uptime."
    )]
    State(IdArg),
    /// List containers
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Send a signal to a container's process (default TERM)
    #[command(after_help = KILL_AFTER_HELP)]
    Kill(KillArgs),
    /// Delete containers and everything they hold
    #[command(visible_alias = "rm")]
    Delete(DeleteArgs),
    /// List the processes in a container
    #[command(visible_alias = "top")]
    Ps(PsArgs),
    /// Suspend every process in a container
    Pause(IdArg),
    /// Resume a paused container
    Resume(IdArg),
    /// Run a new process in a running container
    #[command(after_help = EXEC_AFTER_HELP)]
    Exec(ExecArgs),
    /// Change the resources of a running container
    Update(UpdateArgs),
    /// Print a container's lifecycle events (or, with --stats/--interval, runc's stats stream)
    #[command(after_help = EVENTS_AFTER_HELP)]
    Events(EventsArgs),
    /// Stop containers: the stop signal, then SIGKILL after the timeout
    #[command(
        long_about = "Stop containers, one after the other: send each its stop signal \
                      (--stop-signal, default TERM), wait up to the timeout for it to exit, \
                      then send SIGKILL. A pending restart is cancelled, and the restart \
                      policy does not undo the stop. The container stays, stopped, until \
                      `husk delete`.",
        after_help = STOP_AFTER_HELP
    )]
    Stop(StopArgs),
    /// Stop a container and start it again with the same config and id
    Restart(RestartArgs),
    /// Wait until containers exit (or run, or are healthy)
    #[command(
        long_about = "Wait until each container, in turn, meets the condition: has exited, \
                      is running, or its health check has passed. It blocks on the state \
                      directory and the init's pidfd, without a polling loop. For `exited` it \
                      prints the exit code and exits with it, which is what a Makefile needs \
                      to order services.",
        after_help = WAIT_AFTER_HELP
    )]
    Wait(WaitArgs),
    /// Print the stdout and stderr of a detached container
    #[command(
        long_about = "Print what a detached container without a terminal wrote to stdout \
                      and stderr, as its shim recorded it (rotated by --log-max-size and \
                      --log-max-files).",
        after_help = LOGS_AFTER_HELP
    )]
    Logs(LogsArgs),
    /// Run a container's health check once now; exit 0 when healthy
    #[command(
        long_about = "Run a container's health check once, now, and print the result as \
                      JSON with the recorded health status. Exits 0 when the probe passed and \
                      1 when it failed. The recorded status is the shim's, which probes every \
                      --health-interval."
    )]
    Health(IdArg),
    #[command(name = "__recreate", hide = true)]
    Recreate(IdArg),
    /// Show cpu, memory, network, block io and pids use of containers
    Stats(StatsArgs),
    /// Checkpoint a running container with CRIU (it is then destroyed, unless --leave-running)
    Checkpoint(CheckpointArgs),
    /// Restore a container from a CRIU checkpoint and run it
    Restore(RestoreArgs),
    #[command(name = "__criu-action", hide = true)]
    CriuAction,
    /// Print what this runtime supports, as OCI features JSON
    Features,
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Directory to write config.json to
    #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write a config for running without root (user namespace, no cgroup limits)
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Bundle directory (config.json and rootfs)
    #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's host pid to FILE
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// AF_UNIX socket that receives the pty master when process.terminal is true
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Use chroot instead of pivot_root (for a rootfs on ramfs)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not give the container its own session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3 .. 3+N-1) to the container process
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
}

// The shim's policy; each flag overrides the bundle's `husk.*` annotation of the same name.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// Restart policy: no, on-failure[:N], always, unless-stopped
    #[arg(long, value_name = "POLICY", help_heading = "Monitor")]
    pub restart: Option<String>,
    /// Signal `stop` sends first (default TERM)
    #[arg(long = "stop-signal", value_name = "SIGNAL", help_heading = "Monitor")]
    pub stop_signal: Option<String>,
    /// Time `stop` waits before SIGKILL (default 10s)
    #[arg(
        long = "stop-timeout",
        value_name = "DURATION",
        help_heading = "Monitor"
    )]
    pub stop_timeout: Option<String>,
    /// Health check: a shell command run in the container; exit 0 = healthy
    #[arg(long = "health-cmd", value_name = "CMD", help_heading = "Monitor")]
    pub health_cmd: Option<String>,
    /// Health check: a TCP port on 127.0.0.1 in the container's network namespace
    #[arg(long = "health-tcp", value_name = "PORT", help_heading = "Monitor")]
    pub health_tcp: Option<String>,
    /// Health check: an http:// URL fetched in the container's network namespace; 2xx/3xx = healthy
    #[arg(long = "health-http", value_name = "URL", help_heading = "Monitor")]
    pub health_http: Option<String>,
    /// Health check: a path that must exist in the container
    #[arg(long = "health-file", value_name = "PATH", help_heading = "Monitor")]
    pub health_file: Option<String>,
    /// Time between health checks (default 30s)
    #[arg(
        long = "health-interval",
        value_name = "DURATION",
        help_heading = "Monitor"
    )]
    pub health_interval: Option<String>,
    /// Time a health check may take (default 30s)
    #[arg(
        long = "health-timeout",
        value_name = "DURATION",
        help_heading = "Monitor"
    )]
    pub health_timeout: Option<String>,
    /// Consecutive failures that make the container unhealthy (default 3)
    #[arg(long = "health-retries", value_name = "N", help_heading = "Monitor")]
    pub health_retries: Option<String>,
    /// Failures in this time after start do not count (default 0s)
    #[arg(
        long = "health-start-period",
        value_name = "DURATION",
        help_heading = "Monitor"
    )]
    pub health_start_period: Option<String>,
    /// Rotate the container log at this size (default 10m)
    #[arg(long = "log-max-size", value_name = "SIZE", help_heading = "Monitor")]
    pub log_max_size: Option<String>,
    /// Rotated log files to keep (default 3)
    #[arg(long = "log-max-files", value_name = "N", help_heading = "Monitor")]
    pub log_max_files: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return after starting the container instead of waiting for it
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container after it exits (default: delete it)
    #[arg(long)]
    pub keep: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print only the container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal every process in the container, not only its init
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
    /// Signal name (KILL, SIGKILL) or number
    #[arg(value_name = "SIGNAL", default_value = "TERM")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill a running container first; succeed when it does not exist
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container ids
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
    /// Accepted for runc compatibility (ps(1) options); ignored
    #[arg(
        value_name = "PS_ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A process.json (OCI Process) describing the whole process; other process flags are then ignored
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal
    #[arg(short = 't', long)]
    pub tty: bool,
    /// AF_UNIX socket that receives the pty master
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Return once the process has started instead of waiting for it
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process's host pid to FILE
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE); may be repeated
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Run as UID[:GID] (numbers)
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional group ids; may be repeated
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (e.g. CAP_SYS_ADMIN) to every set; may be repeated
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub caps: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// AppArmor profile for the process
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// SELinux label for the process
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Pass N extra fds (3 .. 3+N-1) to the process
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec even into a paused container (the process starts frozen)
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
    /// Command and its arguments (without --process)
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// OCI LinuxResources JSON from FILE, or "-" for stdin (zero values leave things as they are)
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Memory limit (e.g. 64m, -1 for none)
    #[arg(short = 'm', long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Memory plus swap limit (e.g. 128m, -1 for none)
    #[arg(long = "memory-swap", value_name = "SIZE")]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "SIZE")]
    pub memory_reservation: Option<String>,
    /// Kernel TCP buffer memory limit (cgroup v1)
    #[arg(long = "kernel-memory-tcp", value_name = "SIZE")]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-shares", value_name = "N")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds per period (-1 for none)
    #[arg(long = "cpu-quota", value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period", value_name = "US")]
    pub cpu_period: Option<u64>,
    /// Realtime period in microseconds (cgroup v1)
    #[arg(long = "cpu-rt-period", value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime in microseconds (cgroup v1)
    #[arg(long = "cpu-rt-runtime", value_name = "US")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (e.g. 0-1)
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use
    #[arg(long = "cpuset-mems", value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 or 0 for none)
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long = "blkio-weight", value_name = "N")]
    pub blkio_weight: Option<u16>,
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print the container's stats once, in runc's form, and exit
    #[arg(long)]
    pub stats: bool,
    /// runc's stream: stats every DURATION and oom events (e.g. 5s)
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Keep printing new events as they happen
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only events after this time (RFC 3339) or this long ago (e.g. 10m)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Container id (default: every container)
    #[arg(value_name = "ID")]
    pub id: Option<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds (or a duration such as 500ms) to wait before SIGKILL (default: the container's stop timeout)
    #[arg(short = 't', long, value_name = "TIME")]
    pub time: Option<String>,
    /// Container ids
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Seconds (or a duration) to wait before SIGKILL (default: the container's stop timeout)
    #[arg(short = 't', long, value_name = "TIME")]
    pub time: Option<String>,
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Condition {
    Exited,
    Running,
    Healthy,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// What to wait for
    #[arg(long, value_enum, default_value_t = Condition::Exited)]
    pub condition: Condition,
    /// Give up after this long (e.g. 30s) with exit status 124
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Container ids
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines
    #[arg(short = 'n', long, value_name = "N")]
    pub tail: Option<usize>,
    /// Prefix each line with its time (RFC 3339)
    #[arg(short = 't', long)]
    pub timestamps: bool,
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print one sample and exit instead of refreshing until interrupted
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Output format (json: one object per container and sample, one per line)
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Time between samples, e.g. 2s or 500ms (default 1s; with --no-stream 200ms)
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Container ids (default: every container with a running process)
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
}

/// CRIU's --manage-cgroups modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CgroupsMode {
    Soft,
    Full,
    Strict,
    Ignore,
}

// Options checkpoint and restore share (runc's names).
#[derive(Debug, Args)]
pub struct CriuArgs {
    /// Directory of the CRIU image files
    #[arg(long = "image-path", value_name = "DIR", default_value = "checkpoint")]
    pub image_path: PathBuf,
    /// Directory for CRIU's logs and scratch files (default: the image directory)
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs (a process attached to a terminal from outside)
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// How CRIU handles cgroups (default: CRIU's own, soft)
    #[arg(long = "manage-cgroups-mode", value_enum, value_name = "MODE")]
    pub manage_cgroups_mode: Option<CgroupsMode>,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Directory of a previous (pre-)dump, relative to --image-path
    #[arg(long = "parent-path", value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump the memory only, to be built on by a later dump (--parent-path); the container runs on
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// Namespaces to recreate empty on restore (only "network", which always is)
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Bundle directory (default: the bundle the checkpoint was taken from)
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Return once the container runs instead of waiting for it
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the container's host pid to FILE
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// AF_UNIX socket for the pty master (containers with a terminal cannot be restored yet)
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Container id
    #[arg(value_name = "ID")]
    pub id: String,
}
