//! The integration-test harness: a private `--root`, a unique container id,
//! a busybox bundle per test, a husk runner, and `assert_clean` (no state
//! dir, cgroup, mount or process left). Drop deletes whatever is left.
//!
//! Tests need root. Without it they print why and pass as skipped, unless
//! HUSK_REQUIRE_ROOT=1 (CI), where a skip is a failure.

#![allow(dead_code)]

pub mod bundle;
pub mod user;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use bundle::Bundle;

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub fn husk_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_husk"))
}

/// Is this test allowed to run? Prints the reason when not.
pub fn have_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("HUSK_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("HUSK_REQUIRE_ROOT=1 but the tests do not run as root");
    }
    eprintln!("skipped: integration tests need root");
    false
}

/// The result of one husk invocation.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        Run {
            code: o
                .status
                .code()
                .unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0)),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn success(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success; stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts a non-zero exit whose stderr contains `needle`.
    #[track_caller]
    pub fn fails_with(self, needle: &str) -> Run {
        assert_ne!(self.code, 0, "expected failure; stdout: {}", self.stdout);
        assert!(
            self.stderr.contains(needle),
            "stderr does not mention {needle:?}: {}",
            self.stderr
        );
        self
    }
}

/// One test's private world.
pub struct TestEnv {
    /// Scratch directory: state root, bundles.
    pub dir: PathBuf,
    pub root: PathBuf,
    pub id: String,
    /// Every id this env created containers under (cleaned on drop).
    ids: std::cell::RefCell<Vec<String>>,
}

impl TestEnv {
    /// None (and a printed reason) when the tests cannot run here.
    pub fn new(name: &str) -> Option<TestEnv> {
        if !have_root() {
            return None;
        }
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let tag = format!("husk-test-{}-{}-{n}", std::process::id(), name);
        let dir = std::env::temp_dir().join(&tag);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        Some(TestEnv {
            dir,
            root,
            id: tag.clone(),
            ids: std::cell::RefCell::new(vec![tag]),
        })
    }

    /// Another unique id in this env (for tests with several containers).
    pub fn new_id(&self, suffix: &str) -> String {
        let id = format!("{}-{suffix}", self.id);
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// A husk command with this env's --root.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(husk_bin());
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs husk and collects its output through files, not pipes: a
    /// container started by `create` or `run -d` inherits husk's stdout and
    /// stderr and keeps them open long after husk has exited.
    pub fn husk(&self, args: &[&str]) -> Run {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let out = self.dir.join(format!(".out-{n}"));
        let err = self.dir.join(format!(".err-{n}"));
        let status = self
            .cmd(args)
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .status()
            .expect("run husk");
        let r = Run::from(Output {
            status,
            stdout: fs::read(&out).unwrap_or_default(),
            stderr: fs::read(&err).unwrap_or_default(),
        });
        let _ = fs::remove_file(out);
        let _ = fs::remove_file(err);
        r
    }

    /// A busybox bundle running `args`, its cgroup relative and unique.
    pub fn bundle(&self, args: &[&str]) -> Bundle {
        self.bundle_named(&self.id, args)
    }

    pub fn bundle_named(&self, id: &str, args: &[&str]) -> Bundle {
        Bundle::new(&self.dir.join(format!("bundle-{id}")), id, args)
    }

    pub fn state(&self, id: &str) -> serde_json::Value {
        let r = self.husk(&["state", id]);
        assert_eq!(r.code, 0, "state {id}: {}", r.stderr);
        serde_json::from_str(&r.stdout).expect("state prints JSON")
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Polls `state` until status is `want` (or panics after 10 s).
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str) {
        let t = Instant::now();
        loop {
            let s = self.status(id);
            if s == want {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{id} stayed {s}, wanted {want}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `run` of a bundle in the foreground: (exit code, stdout, stderr).
    pub fn run(&self, b: &Bundle) -> Run {
        self.husk(&["run", "--bundle", b.path_str(), &b.id])
    }

    /// Nothing of container `id` is left: no state dir, no cgroup dir, no
    /// mount naming it, no process from its bundle.
    #[track_caller]
    pub fn assert_clean(&self, id: &str) {
        assert!(
            !self.root.join(id).exists(),
            "state dir of {id} left behind"
        );
        let leftovers = cgroup_dirs_named(id);
        assert!(
            leftovers.is_empty(),
            "cgroup dirs of {id} left behind: {leftovers:?}"
        );
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let bundle = self.dir.join(format!("bundle-{id}"));
        assert!(
            !mi.contains(id) && !mi.contains(bundle.to_str().unwrap()),
            "mounts of {id} left behind"
        );
        let procs = processes_in_cgroup(id);
        assert!(procs.is_empty(), "processes of {id} left behind: {procs:?}");
        // delete SIGKILLs the shim; under heavy I/O the kill may land only
        // after a write the shim is in (an exit record's fsync).
        eventually(5, || shims_of(id).is_empty());
        let shims = shims_of(id);
        assert!(shims.is_empty(), "shim of {id} left behind: {shims:?}");
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            if self.root.join(id).exists() {
                let _ = self
                    .cmd(&["delete", "--force", id])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            // Belt and braces: a failed test must not leave cgroups behind.
            for d in cgroup_dirs_named(id).into_iter().rev() {
                let _ = fs::remove_dir(&d);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Cgroup directories (any hierarchy, any depth) whose name contains `id`, deepest last.
pub fn cgroup_dirs_named(id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(d: &Path, id: &str, depth: usize, out: &mut Vec<PathBuf>) {
        if depth > 8 {
            return;
        }
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy().contains(id) {
                out.push(p.clone());
            }
            walk(&p, id, depth + 1, out);
        }
    }
    walk(Path::new("/sys/fs/cgroup"), id, 0, &mut out);
    out.sort_by_key(|p| p.components().count());
    out
}

/// Live (non-zombie) processes whose cgroup path mentions `id`.
pub fn processes_in_cgroup(id: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if !cg.contains(id) {
            continue;
        }
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("");
        if state != "Z" && state != "X" {
            out.push(pid);
        }
    }
    out
}

/// Live shim processes watching container `id`.
pub fn shims_of(id: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        if args.get(1) == Some(&&b"__shim"[..]) && args.get(2) == Some(&id.as_bytes()) {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if !stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
            {
                out.push(pid);
            }
        }
    }
    out
}

/// Waits until `f` holds, up to `secs`.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}
