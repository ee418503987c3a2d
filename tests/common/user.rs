//! Unprivileged test users for the rootless tests: made with useradd (a
//! home, its own group and, where login.defs allows, a /etc/subuid and
//! /etc/subgid range), used to run husk through Command::uid/gid with a
//! private XDG_RUNTIME_DIR, and removed again with userdel -r.
//!
//! The tests themselves run as root (they create the users); husk does not.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::Run;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Why rootless tests cannot run here, if they cannot: they need root (to
/// make users), useradd, and a kernel that lets unprivileged users create
/// user namespaces.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("rootless tests need root to create a test user".into());
    }
    if find("useradd").is_none() || find("userdel").is_none() {
        return Some("useradd/userdel (Debian package passwd) are not installed".into());
    }
    let knob = |p: &str| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    if knob("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some(
            "kernel.unprivileged_userns_clone is 0: unprivileged user namespaces are off".into(),
        );
    }
    if knob("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Some("user.max_user_namespaces is 0: user namespaces are off".into());
    }
    if knob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        return Some("AppArmor restricts unprivileged user namespaces".into());
    }
    None
}

/// Whether to run: prints the reason when not; with HUSK_REQUIRE_ROOT=1
/// (CI) a skip is a failure.
pub fn can_run() -> bool {
    let Some(why) = unavailable() else {
        return true;
    };
    if std::env::var("HUSK_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("HUSK_REQUIRE_ROOT=1 but rootless tests cannot run: {why}");
    }
    eprintln!("skipped: {why}");
    false
}

/// An executable in the usual directories.
pub fn find(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Runs a root command (useradd, userdel) until it stops failing on a
/// lock held by a parallel test.
fn admin(cmd: &str, args: &[&str]) -> Output {
    let path = find(cmd).unwrap_or_else(|| panic!("{cmd} is not installed"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new(&path).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let busy = err.contains("lock") || err.contains("try again");
        if out.status.success() || !busy || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A user made for one test.
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// Its XDG_RUNTIME_DIR (0700, its own).
    pub runtime_dir: PathBuf,
    /// A copy of husk it can execute (the build tree may not be reachable).
    pub husk: PathBuf,
    /// Its subordinate uid range, if useradd gave it one.
    pub subuid: Option<(u32, u32)>,
}

impl TestUser {
    pub fn create(tag: &str) -> TestUser {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("husk-rl{}-{n}", std::process::id());
        let home = PathBuf::from(format!("/home/{name}"));
        let out = admin(
            "useradd",
            &[
                "--create-home",
                "--home-dir",
                home.to_str().unwrap(),
                "--shell",
                "/bin/sh",
                "--comment",
                &format!("husk rootless test {tag}"),
                &name,
            ],
        );
        assert!(
            out.status.success(),
            "useradd {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pw = nix::unistd::User::from_name(&name)
            .unwrap()
            .expect("the user just made");
        let (uid, gid) = (pw.uid.as_raw(), pw.gid.as_raw());
        let runtime_dir = home.join("run");
        fs::create_dir_all(&runtime_dir).unwrap();
        fs::set_permissions(&runtime_dir, fs::Permissions::from_mode(0o700)).unwrap();
        chown(&runtime_dir, Some(uid), Some(gid)).unwrap();
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
        let husk = home.join("husk");
        fs::copy(super::husk_bin(), &husk).unwrap();
        fs::set_permissions(&husk, fs::Permissions::from_mode(0o755)).unwrap();
        let subuid = fs::read_to_string("/etc/subuid")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() == 3 && f[0] == name).then(|| (f[1].parse().ok(), f[2].parse().ok()))
            })
            .and_then(|(a, b)| Some((a?, b?)));
        TestUser {
            name,
            uid,
            gid,
            home,
            runtime_dir,
            husk,
            subuid,
        }
    }

    /// The user owns `path` and everything under it.
    pub fn give(&self, path: &Path) {
        let st = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success(), "chown -R {}", path.display());
    }

    /// A command run as the user, with a clean environment of its own:
    /// PATH, HOME, USER, XDG_RUNTIME_DIR (unless `xdg` is false).
    pub fn command(&self, program: &Path, xdg: bool) -> Command {
        let mut c = Command::new(program);
        c.uid(self.uid)
            .gid(self.gid)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .current_dir(&self.home)
            .stdin(Stdio::null());
        if xdg {
            c.env("XDG_RUNTIME_DIR", &self.runtime_dir);
        }
        c
    }

    /// husk as the user (its state root: $XDG_RUNTIME_DIR/husk).
    pub fn husk_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.command(&self.husk, true);
        c.args(args);
        c
    }

    /// Runs husk as the user; output through files (a detached container
    /// keeps husk's stdout and stderr open).
    pub fn husk(&self, args: &[&str]) -> Run {
        self.run(self.husk_cmd(args))
    }

    pub fn run(&self, mut c: Command) -> Run {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir();
        let out = dir.join(format!(".husk-rl-out-{}-{n}", std::process::id()));
        let err = dir.join(format!(".husk-rl-err-{}-{n}", std::process::id()));
        let status = c
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .status()
            .expect("run as the test user");
        let r = Run::from(Output {
            status,
            stdout: fs::read(&out).unwrap_or_default(),
            stderr: fs::read(&err).unwrap_or_default(),
        });
        let _ = fs::remove_file(out);
        let _ = fs::remove_file(err);
        r
    }

    /// The state root husk uses for this user.
    pub fn state_root(&self) -> PathBuf {
        self.runtime_dir.join("husk")
    }

    /// Does a host uid belong to this user (itself or its subordinate range)?
    pub fn owns_uid(&self, uid: u32) -> bool {
        uid == self.uid
            || self
                .subuid
                .is_some_and(|(start, count)| (start..start + count).contains(&uid))
    }

    /// Live processes running as the user or one of its subordinate ids.
    pub fn processes(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let field = |k: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(|v| v.split_whitespace().collect::<Vec<_>>())
                    .unwrap_or_default()
            };
            let state = field("State:");
            if state.first().is_some_and(|s| *s == "Z" || *s == "X") {
                continue;
            }
            let uids = field("Uid:");
            if uids
                .iter()
                .filter_map(|u| u.parse::<u32>().ok())
                .any(|u| self.owns_uid(u))
            {
                out.push(pid);
            }
        }
        out
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // Whatever a failed test left running as this user (they are all
        // ours: the user was made for this test), then the user itself.
        for _ in 0..50 {
            let left = self.processes();
            if left.is_empty() {
                break;
            }
            for pid in left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Mounts a killed container may have left under the home (none
        // expected: they live in its own mount namespace).
        let out = admin("userdel", &["--remove", &self.name]);
        if !out.status.success() {
            eprintln!(
                "userdel {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let _ = fs::remove_dir_all(&self.home);
    }
}
