//! OCI hooks: each runs with the container's state JSON on stdin, its args
//! and env, and a timeout. Output is kept (the tail) for the error message.
//!
//! Runs in: the runtime (prestart, createRuntime, poststart, poststop) and
//! the container init (createContainer, startContainer).

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::{Hook, Hooks};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The OCI status the state JSON carries when these hooks run.
    pub fn status(self) -> &'static str {
        match self {
            Kind::Prestart | Kind::CreateRuntime | Kind::CreateContainer => "creating",
            Kind::StartContainer => "created",
            Kind::Poststart => "running",
            Kind::Poststop => "stopped",
        }
    }

    #[allow(deprecated)]
    pub fn list(self, hooks: &Hooks) -> &[Hook] {
        let l = match self {
            Kind::Prestart => hooks.prestart(),
            Kind::CreateRuntime => hooks.create_runtime(),
            Kind::CreateContainer => hooks.create_container(),
            Kind::StartContainer => hooks.start_container(),
            Kind::Poststart => hooks.poststart(),
            Kind::Poststop => hooks.poststop(),
        };
        l.as_deref().unwrap_or(&[])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook {path:?} failed to start")]
    Spawn {
        kind: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{kind} hook {path:?} {how}{output}")]
    Failed {
        kind: &'static str,
        path: String,
        how: String,
        output: String,
    },
}

/// Is there a hook of any of `kinds`?
pub fn any(kinds: &[Kind], hooks: Option<&Hooks>) -> bool {
    hooks.is_some_and(|h| kinds.iter().any(|k| !k.list(h).is_empty()))
}

/// Runs every hook of `kind` in order; the first failure stops the rest.
pub fn run(kind: Kind, hooks: Option<&Hooks>, state_json: &str) -> Result<(), HookError> {
    let Some(hooks) = hooks else { return Ok(()) };
    for h in kind.list(hooks) {
        run_one(kind, h, state_json)?;
    }
    Ok(())
}

/// Runs the hooks of `kind`, logging failures instead of returning them
/// (poststart and poststop: the spec says warn and go on).
pub fn run_warn(kind: Kind, hooks: Option<&Hooks>, state_json: &str) {
    let Some(hooks) = hooks else { return };
    for h in kind.list(hooks) {
        if let Err(e) = run_one(kind, h, state_json) {
            log::warn!("{e}");
        }
    }
}

const OUTPUT_TAIL: usize = 2048;

fn run_one(kind: Kind, hook: &Hook, state_json: &str) -> Result<(), HookError> {
    let path = hook.path().display().to_string();
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args().as_ref().filter(|a| !a.is_empty()) {
        cmd.arg0(&args[0]).args(&args[1..]);
    }
    cmd.env_clear();
    for e in hook.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| HookError::Spawn {
        kind: kind.name(),
        path: path.clone(),
        source,
    })?;
    // A hook that does not read its stdin must not fail us: SIGPIPE is
    // ignored in husk, so this is at worst an EPIPE we drop.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = hook
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let mut out = Vec::new();
    let mut pipes: Vec<_> = [
        child.stdout.take().map(|p| p.into()),
        child.stderr.take().map(|p| p.into()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<std::os::fd::OwnedFd>>();
    let mut timed_out = false;
    while !pipes.is_empty() {
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    timed_out = true;
                    break;
                }
                PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let mut fds: Vec<PollFd> = pipes
            .iter()
            .map(|p| PollFd::new(p.as_fd(), PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, timeout) {
            Err(nix::Error::EINTR) | Ok(0) => continue,
            Err(_) => break,
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        let mut closed = Vec::new();
        for (i, r) in ready.into_iter().enumerate() {
            if !r {
                continue;
            }
            let mut buf = [0u8; 4096];
            let mut f = std::fs::File::from(pipes[i].try_clone().expect("dup of a pipe fd"));
            match f.read(&mut buf) {
                Ok(0) | Err(_) => closed.push(pipes[i].as_raw_fd()),
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.len() > OUTPUT_TAIL * 2 {
                        out.drain(..out.len() - OUTPUT_TAIL);
                    }
                }
            }
        }
        pipes.retain(|p| !closed.contains(&p.as_raw_fd()));
    }
    if timed_out {
        let _ = child.kill();
        let _ = child.wait();
        return Err(HookError::Failed {
            kind: kind.name(),
            path,
            how: format!("timed out after {}s", hook.timeout().unwrap_or(0)),
            output: tail(&out),
        });
    }
    let status = child.wait().map_err(|source| HookError::Spawn {
        kind: kind.name(),
        path: path.clone(),
        source,
    })?;
    if status.success() {
        return Ok(());
    }
    use std::os::unix::process::ExitStatusExt;
    let how = match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "failed".into(),
    };
    Err(HookError::Failed {
        kind: kind.name(),
        path,
        how,
        output: tail(&out),
    })
}

fn tail(out: &[u8]) -> String {
    let s = String::from_utf8_lossy(&out[out.len().saturating_sub(OUTPUT_TAIL)..]);
    let s = s.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!(": {s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hooks {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn hook_gets_state_on_stdin_and_env() {
        let dir = std::env::temp_dir().join(format!("husk-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hook(&format!(
            r#"{{"prestart":[{{"path":"/bin/sh","args":["sh","-c","cat > {}; echo $X >> {}"],"env":["X=hello"]}}]}}"#,
            out.display(),
            out.display()
        ));
        run(Kind::Prestart, Some(&h), "{\"id\":\"c\"}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"c\"}hello\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failing_hook_reports_status_and_output() {
        let h = hook(
            r#"{"createRuntime":[{"path":"/bin/sh","args":["sh","-c","echo nope >&2; exit 3"]}]}"#,
        );
        let e = run(Kind::CreateRuntime, Some(&h), "{}")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "createRuntime hook \"/bin/sh\" exited with status 3: nope"
        );
    }

    #[test]
    fn hook_that_ignores_stdin_is_fine() {
        let big = "x".repeat(1 << 20);
        let h = hook(r#"{"poststart":[{"path":"/bin/true"}]}"#);
        run(Kind::Poststart, Some(&h), &big).unwrap();
    }

    #[test]
    fn slow_hook_times_out() {
        let h = hook(r#"{"prestart":[{"path":"/bin/sleep","args":["sleep","10"],"timeout":1}]}"#);
        let t = Instant::now();
        let e = run(Kind::Prestart, Some(&h), "{}").unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
