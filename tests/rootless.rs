//! Rootless containers: husk run by an unprivileged user made for each
//! test (useradd, with a /etc/subuid range), from a bundle in that user's
//! home with the config of `husk spec --rootless`, its state under the
//! user's XDG_RUNTIME_DIR. Each test ends by checking that nothing of the
//! container is left: state dir, processes (of the user or its
//! subordinate ids), mounts, cgroup dirs.
//!
//! Skipped (with the reason printed) where the kernel forbids unprivileged
//! user namespaces or the tests cannot make a user; with
//! HUSK_REQUIRE_ROOT=1 (CI) that is a failure instead.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::user::{self, TestUser};
use common::{cgroup_dirs_named, eventually, Run};
use serde_json::{json, Value};

/// One test's user, its bundles and its containers.
struct Rl {
    user: TestUser,
    ids: std::cell::RefCell<Vec<String>>,
    tag: String,
}

struct RlBundle {
    dir: PathBuf,
    config: Value,
}

impl RlBundle {
    fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }
    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    fn edit(&mut self, f: impl FnOnce(&mut Value)) {
        f(&mut self.config);
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
}

impl Rl {
    fn new(tag: &str) -> Option<Rl> {
        if !user::can_run() {
            return None;
        }
        Some(Rl {
            user: TestUser::create(tag),
            ids: Default::default(),
            tag: format!("husk-rl{}-{tag}", std::process::id()),
        })
    }

    /// A container id for this test.
    fn id(&self, suffix: &str) -> String {
        let id = format!("{}-{suffix}", self.tag);
        self.ids.borrow_mut().push(id.clone());
        id
    }

    fn husk(&self, args: &[&str]) -> Run {
        self.user.husk(args)
    }

    /// A busybox bundle in the user's home, owned by the user, with the
    /// config `husk spec --rootless` writes for it (terminal off, a
    /// writable root, `args`).
    fn bundle(&self, name: &str, args: &[&str]) -> RlBundle {
        let dir = self.user.home.join(format!("bundle-{name}"));
        fs::create_dir_all(&dir).unwrap();
        let rootfs = dir.join("rootfs");
        common::bundle::make_rootfs(&rootfs);
        // A copy, not the shared hard link: the whole tree becomes the user's.
        let bb = rootfs.join("bin/busybox");
        fs::remove_file(&bb).unwrap();
        fs::copy(common::bundle::busybox(), &bb).unwrap();
        self.user.give(&dir);
        self.husk(&["spec", "--rootless", "--bundle", dir.to_str().unwrap()])
            .success();
        let config: Value =
            serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
        let mut b = RlBundle { dir, config };
        b.edit(|c| {
            c["process"]["terminal"] = json!(false);
            c["root"]["readonly"] = json!(false);
            c["process"]["args"] = json!(args);
        });
        b
    }

    fn state(&self, id: &str) -> Value {
        let r = self.husk(&["state", id]).success();
        serde_json::from_str(&r.stdout).unwrap()
    }

    fn wait_status(&self, id: &str, want: &str) {
        assert!(
            eventually(10, || self.state(id)["status"] == want),
            "{id} never became {want}: {}",
            self.state(id)
        );
    }

    /// Nothing of container `id` is left behind.
    #[track_caller]
    fn assert_clean(&self, id: &str) {
        assert!(
            !self.user.state_root().join(id).exists(),
            "state dir of {id} left behind"
        );
        assert!(
            eventually(5, || self.user.processes().is_empty()),
            "processes of {} left behind: {:?}",
            self.user.name,
            self.user.processes()
        );
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mi.contains(id) && !mi.contains(self.user.home.to_str().unwrap()),
            "mounts of {id} left behind"
        );
        let cg = cgroup_dirs_named(id);
        assert!(cg.is_empty(), "cgroup dirs of {id} left behind: {cg:?}");
    }
}

impl Drop for Rl {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            if self.user.state_root().join(id).exists() {
                let _ = self.husk(&["delete", "--force", id]);
            }
        }
        // Cgroup dirs of a failed test: its containers' and delegated ones.
        for d in cgroup_dirs_named(&self.tag).into_iter().rev() {
            let _ = fs::remove_dir(&d);
        }
    }
}

/// Host uid and gid of a process (real ids, from /proc/<pid>/status).
fn host_ids(pid: i64) -> (u32, u32) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let first = |k: &str| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (first("Uid:"), first("Gid:"))
}

fn helpers_installed() -> bool {
    user::find("newuidmap").is_some() && user::find("newgidmap").is_some()
}

#[test]
fn spec_rootless_maps_the_caller_to_root_and_asks_for_no_cgroup() {
    let Some(t) = Rl::new("spec") else { return };
    let b = t.bundle("spec", &["true"]);
    let c = &b.config;
    let uids = c["linux"]["uidMappings"].as_array().unwrap();
    let gids = c["linux"]["gidMappings"].as_array().unwrap();
    assert_eq!(
        uids[0],
        json!({"containerID": 0, "hostID": t.user.uid, "size": 1})
    );
    assert_eq!(
        gids[0],
        json!({"containerID": 0, "hostID": t.user.gid, "size": 1})
    );
    match (t.user.subuid, helpers_installed()) {
        (Some((start, count)), true) => assert_eq!(
            uids[1],
            json!({"containerID": 1, "hostID": start, "size": count}),
            "the subordinate range follows the caller"
        ),
        _ => assert_eq!(uids.len(), 1, "no helpers or no range: the caller alone"),
    }
    let ns: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for want in ["user", "pid", "mount", "network", "ipc", "uts"] {
        assert!(ns.contains(&want), "{want} namespace missing: {ns:?}");
    }
    assert!(c["linux"].get("resources").is_none(), "{}", c["linux"]);
    assert_eq!(c["process"]["user"], json!({"uid": 0, "gid": 0}));
    // As `husk spec` writes it (terminal on), it runs once given a terminal;
    // here: the same config with the terminal off runs and exits 0.
    let id = t.id("spec");
    t.husk(&["run", "--bundle", b.path(), &id]).success();
    t.assert_clean(&id);
}

#[test]
fn run_exits_with_the_container_status_and_root_inside_is_the_user_outside() {
    let Some(t) = Rl::new("run") else { return };
    let b = t.bundle(
        "run",
        &["sh", "-c", "id -u; id -g; cat /proc/self/uid_map; exit 7"],
    );
    let id = t.id("run");
    let r = t.husk(&["run", "--bundle", b.path(), &id]);
    assert_eq!(r.code, 7, "stderr: {}", r.stderr);
    // No cgroup is delegated to the test user: it runs without, and says so.
    assert!(
        r.stderr
            .contains("rootless: no cgroup is delegated to this user (cannot use"),
        "{}",
        r.stderr
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[..2], ["0", "0"], "{}", r.stdout);
    let first_map: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(first_map, ["0", &t.user.uid.to_string(), "1"]);
    t.assert_clean(&id);

    // The host sees the user's own uid and gid for the container's root.
    let mut b = t.bundle("run2", &["sleep", "600"]);
    b.edit(|c| c["hostname"] = json!("rootless-box"));
    let id = t.id("run2");
    t.husk(&["run", "-d", "--bundle", b.path(), &id]).success();
    let st = t.state(&id);
    assert_eq!(st["status"], "running");
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(host_ids(pid), (t.user.uid, t.user.gid));
    let r = t.husk(&["exec", &id, "hostname"]).success();
    assert_eq!(r.stdout.trim(), "rootless-box");
    // A network namespace of its own, with loopback alone.
    let r = t
        .husk(&[
            "exec",
            &id,
            "sh",
            "-c",
            "tail -n +3 /proc/net/dev | cut -d: -f1",
        ])
        .success();
    assert_eq!(r.stdout.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    t.husk(&["delete", "--force", &id]).success();
    t.assert_clean(&id);
}

#[test]
fn create_start_state_list_kill_delete_as_a_user() {
    let Some(t) = Rl::new("life") else { return };
    let b = t.bundle(
        "life",
        &["sh", "-c", "trap 'exit 3' TERM; sleep 600 & wait"],
    );
    let id = t.id("life");
    t.husk(&["create", "--bundle", b.path(), &id]).success();
    assert_eq!(t.state(&id)["status"], "created");
    assert!(t.user.state_root().join(&id).join("state.json").exists());
    t.husk(&["start", &id]).success();
    t.wait_status(&id, "running");
    let list = t.husk(&["list"]).success();
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("running")),
        "{}",
        list.stdout
    );
    let json_list = t.husk(&["list", "--format", "json"]).success();
    let arr: Value = serde_json::from_str(&json_list.stdout).unwrap();
    assert_eq!(arr[0]["id"], id.as_str());
    // ps without a cgroup: the processes of the container's pid namespace
    // (sh and, once forked, its sleep).
    let pids = || -> Vec<i64> {
        let ps = t.husk(&["ps", "--format", "json", &id]).success();
        serde_json::from_str(&ps.stdout).unwrap()
    };
    assert!(eventually(10, || pids().len() == 2), "{:?}", pids());
    // What needs a cgroup says why it cannot.
    t.husk(&["pause", &id])
        .fails_with("has no cgroup to freeze");
    t.husk(&["stats", &id]).fails_with("has no cgroup");
    t.husk(&["kill", &id, "TERM"]).success();
    t.wait_status(&id, "stopped");
    // The init is gone before its shim has recorded how it ended.
    assert!(
        eventually(10, || t.state(&id)["phase"] == "dead"),
        "{}",
        t.state(&id)
    );
    assert_eq!(t.state(&id)["exitCode"], 3);
    t.husk(&["delete", &id]).success();
    let r = t.husk(&["state", &id]);
    assert_ne!(r.code, 0);
    t.assert_clean(&id);
}

#[test]
fn exec_joins_the_container_as_a_user() {
    let Some(t) = Rl::new("exec") else { return };
    let b = t.bundle("exec", &["sleep", "600"]);
    let id = t.id("exec");
    t.husk(&["run", "-d", "--bundle", b.path(), &id]).success();
    let r = t.husk(&[
        "exec",
        &id,
        "sh",
        "-c",
        "id -u; readlink /proc/1/exe; exit 5",
    ]);
    assert_eq!(r.code, 5, "stderr: {}", r.stderr);
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), ["0", "/bin/busybox"]);
    // A process spec with an oom_score_adj (written by the runtime, which
    // a process in the user namespace could not do itself) and a cwd.
    let process = json!({
        "args": ["sh", "-c", "cat /proc/self/oom_score_adj; pwd"],
        "cwd": "/tmp",
        "user": {"uid": 0, "gid": 0},
        "env": ["PATH=/bin"],
        "oomScoreAdj": 500
    });
    let pfile = t.user.home.join("process.json");
    fs::write(&pfile, process.to_string()).unwrap();
    let r = t
        .husk(&["exec", "--process", pfile.to_str().unwrap(), &id])
        .success();
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), ["500", "/tmp"]);
    // Another container user: with a subordinate range mapped it is one of
    // the user's subordinate ids on the host.
    if let (Some((start, _)), true) = (t.user.subuid, helpers_installed()) {
        let r = t
            .husk(&[
                "exec",
                "--user",
                "1000:1000",
                &id,
                "sh",
                "-c",
                "id -u; sleep 5 & echo $!",
            ])
            .success();
        let lines: Vec<&str> = r.stdout.lines().collect();
        assert_eq!(lines[0], "1000");
        // That sleep is the container's pid; find it on the host by its uid.
        let host_uid = start + 999;
        assert!(
            eventually(5, || t.user.processes().iter().any(|p| fs::read_to_string(
                format!("/proc/{p}/status")
            )
            .unwrap_or_default()
            .contains(&format!("Uid:\t{host_uid}\t")))),
            "no process of host uid {host_uid}"
        );
    }
    // exec --detach returns at once; the process still runs.
    t.husk(&["exec", "--detach", &id, "sleep", "30"]).success();
    let ps = t.husk(&["ps", "--format", "json", &id]).success();
    let pids: Vec<i64> = serde_json::from_str(&ps.stdout).unwrap();
    assert!(pids.len() >= 2, "{pids:?}");
    t.husk(&["delete", "--force", &id]).success();
    t.assert_clean(&id);
}

#[test]
fn the_shim_records_exit_codes_and_keeps_logs_as_a_user() {
    let Some(t) = Rl::new("shim") else { return };
    let b = t.bundle(
        "shim",
        &["sh", "-c", "echo to-out; echo to-err >&2; exit 3"],
    );
    let id = t.id("shim");
    t.husk(&["run", "-d", "--bundle", b.path(), &id]).success();
    let w = t.husk(&["wait", "--timeout", "30s", &id]);
    assert_eq!(w.code, 3, "{} {}", w.stdout, w.stderr);
    let st = t.state(&id);
    assert_eq!(st["status"], "stopped");
    assert_eq!(st["exitCode"], 3);
    let logs = t.husk(&["logs", &id]).success();
    assert!(logs.stdout.contains("to-out"), "{}", logs.stdout);
    assert!(
        logs.stdout.contains("to-err") || logs.stderr.contains("to-err"),
        "{logs:?}"
    );
    let ev = t.husk(&["events", &id]).success();
    let kinds: Vec<String> = ev
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["created", "started", "exited"]);
    t.husk(&["delete", &id]).success();
    t.assert_clean(&id);
}

#[test]
fn a_rootless_container_restarts_by_policy_and_stops() {
    let Some(t) = Rl::new("restart") else { return };
    let b = t.bundle("restart", &["sh", "-c", "exit 1"]);
    let id = t.id("restart");
    t.husk(&[
        "run",
        "-d",
        "--restart",
        "on-failure:2",
        "--bundle",
        b.path(),
        &id,
    ])
    .success();
    assert!(
        eventually(20, || {
            let st = t.state(&id);
            st["restartCount"] == 2 && st["phase"] == "dead"
        }),
        "{}",
        t.state(&id)
    );
    t.husk(&["delete", &id]).success();
    t.assert_clean(&id);

    // stop: TERM ignored by pid 1, so KILL after the timeout; the shim
    // records how it ended.
    let b = t.bundle("stop", &["sleep", "600"]);
    let id = t.id("stop");
    t.husk(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--bundle",
        b.path(),
        &id,
    ])
    .success();
    t.wait_status(&id, "running");
    t.husk(&["stop", "--time", "1", &id]).success();
    let st = t.state(&id);
    assert_eq!(st["status"], "stopped", "{st}");
    assert_eq!(st["exitCode"], 137, "{st}");
    assert_eq!(st["restartCount"], 0, "a stop is not restarted: {st}");
    t.husk(&["delete", &id]).success();
    t.assert_clean(&id);
}

#[test]
fn health_checks_run_as_a_user() {
    let Some(t) = Rl::new("health") else { return };
    let b = t.bundle("health", &["sleep", "600"]);
    let id = t.id("health");
    t.husk(&[
        "run",
        "-d",
        "--health-cmd",
        "test -e /ready",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "--bundle",
        b.path(),
        &id,
    ])
    .success();
    assert_eq!(t.state(&id)["health"], "starting");
    assert!(eventually(10, || t.state(&id)["health"] == "unhealthy"));
    fs::write(b.rootfs().join("ready"), "").unwrap();
    assert!(eventually(10, || t.state(&id)["health"] == "healthy"));
    let h = t.husk(&["health", &id]);
    assert_eq!(h.code, 0, "{} {}", h.stdout, h.stderr);
    t.husk(&["delete", "--force", &id]).success();
    t.assert_clean(&id);
}

#[test]
fn resource_limits_without_a_delegated_cgroup_are_a_clear_error() {
    let Some(t) = Rl::new("nodeleg") else { return };
    let mut b = t.bundle("nodeleg", &["true"]);
    b.edit(|c| c["linux"]["resources"] = json!({"memory": {"limit": 67108864}}));
    let id = t.id("nodeleg");
    t.husk(&["run", "--bundle", b.path(), &id])
        .fails_with("a memory limit was requested but husk runs rootless");
    t.assert_clean(&id);
    // Device rules alone are not enforced rootless (as with runc): it runs.
    b.edit(|c| c["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]}));
    t.husk(&["run", "--bundle", b.path(), &id]).success();
    t.assert_clean(&id);
}

/// The hierarchies a test delegates for memory and pids limits: cgroup2
/// alone (true), or the v1 memory and pids hierarchies (false).
fn limit_hierarchies() -> (Vec<PathBuf>, bool) {
    let layout = husk::cgroups::Layout::detect().unwrap();
    if layout.is_v2() {
        (vec![layout.unified.unwrap().mountpoint], true)
    } else {
        let m = |c: &str| layout.v1_mount(c).unwrap().mountpoint.clone();
        (vec![m("memory"), m("pids")], false)
    }
}

#[test]
fn a_delegated_cgroup_gets_the_containers_limits() {
    let Some(t) = Rl::new("deleg") else { return };
    let (mounts, v2) = limit_hierarchies();
    // Delegate a subtree as systemd does: the directory and its
    // cgroup.procs (and on v2 subtree_control and threads) become the user's.
    let files: &[&str] = if v2 {
        &[
            "",
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.threads",
        ]
    } else {
        &["", "cgroup.procs", "tasks"]
    };
    // On v1, under the test's own cgroup in each hierarchy (never at a
    // hierarchy's root, an ancestor of cgroups this test does not own).
    // On v2 (the VM lane, a machine of its own) at the root: the caller
    // must move into the delegated subtree, which the no-internal-process
    // rule allows only below a cgroup that holds no process.
    let own = |m: &Path| -> PathBuf {
        if v2 {
            return m.to_path_buf();
        }
        let ctl = m.file_name().unwrap().to_str().unwrap().to_string();
        let line = fs::read_to_string("/proc/self/cgroup")
            .unwrap()
            .lines()
            .find(|l| {
                let c = l.split(':').nth(1).unwrap_or("");
                c.split(',').any(|x| x == ctl)
            })
            .map(|l| l.splitn(3, ':').nth(2).unwrap().to_string())
            .unwrap_or_else(|| "/".into());
        m.join(line.trim_start_matches('/'))
    };
    let mounts: Vec<PathBuf> = mounts.iter().map(|m| own(m)).collect();
    for m in &mounts {
        let d = m.join(&t.tag);
        fs::create_dir(&d).unwrap();
        for f in files {
            std::os::unix::fs::chown(d.join(f), Some(t.user.uid), Some(t.user.gid)).unwrap();
        }
    }
    let deleg = mounts[0].join(&t.tag);
    let mut b = t.bundle("deleg", &["sh", "-c", "sleep 600"]);
    // Relative on v1: nested under the caller's cgroup in each hierarchy,
    // as the delegated directories are.
    let cg_path = if v2 {
        format!("/{}/ctr", t.tag)
    } else {
        format!("{}/ctr", t.tag)
    };
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(cg_path);
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 50}});
    });
    let id = t.id("deleg");
    let run = |args: &[&str]| -> Run {
        if !v2 {
            return t.husk(args);
        }
        // cgroup2 lets a process move another only within a subtree it
        // may write at the common ancestor: husk itself must start inside
        // the delegated subtree, as a systemd user session would.
        let caller = deleg.join("caller");
        fs::create_dir_all(&caller).unwrap();
        let mut c = t.user.command(Path::new("/bin/sh"), true);
        c.args(["-c", "read go; exec \"$@\"", "sh"])
            .arg(&t.user.husk)
            .args(args)
            .stdin(std::process::Stdio::piped());
        let out = std::env::temp_dir().join(format!(".husk-rl-deleg-{}", std::process::id()));
        let err = out.with_extension("err");
        let mut child = c
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        fs::write(caller.join("cgroup.procs"), child.id().to_string()).unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"go\n").unwrap();
        }
        let status = child.wait().unwrap();
        let r = Run::from(std::process::Output {
            status,
            stdout: fs::read(&out).unwrap_or_default(),
            stderr: fs::read(&err).unwrap_or_default(),
        });
        let _ = fs::remove_file(out);
        let _ = fs::remove_file(err);
        r
    };
    let r = run(&["run", "-d", "--bundle", b.path(), &id]).success();
    assert!(!r.stderr.contains("no cgroup is delegated"), "{}", r.stderr);
    if v2 {
        assert!(!r.stderr.contains("rootless:"), "{}", r.stderr);
    }
    let ctr = deleg.join("ctr");
    let limit = if v2 {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(
        fs::read_to_string(ctr.join(limit)).unwrap().trim(),
        "67108864"
    );
    let pid = t.state(&id)["pid"].as_i64().unwrap();
    let procs = fs::read_to_string(ctr.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "init {pid} not in {ctr:?}: {procs}"
    );
    // Pause works with a delegated freezer (v2: cgroup.freeze).
    if v2 {
        t.husk(&["pause", &id]).success();
        assert_eq!(t.state(&id)["status"], "paused");
        t.husk(&["resume", &id]).success();
    }
    if !v2 {
        let pids = mounts[1].join(&t.tag).join("ctr/pids.max");
        assert_eq!(fs::read_to_string(pids).unwrap().trim(), "50");
    }
    t.husk(&["delete", "--force", &id]).success();
    for m in &mounts {
        let d = m.join(&t.tag);
        assert!(
            !d.join("ctr").exists(),
            "delete removes the container's cgroup"
        );
        let _ = fs::remove_dir(d.join("caller"));
        fs::remove_dir(&d).unwrap();
    }
    t.assert_clean(&id);
}

#[test]
fn the_state_root_without_xdg_runtime_dir_is_a_private_tmp_dir() {
    let Some(t) = Rl::new("root") else { return };
    let tmp = std::env::temp_dir().join(format!("husk-{}", t.user.uid));
    let _ = fs::remove_dir_all(&tmp);
    let b = t.bundle("root", &["sleep", "600"]);
    let id = t.id("root");
    let husk = |args: &[&str]| {
        let mut c = t.user.command(&t.user.husk, false);
        c.args(args);
        t.user.run(c)
    };
    // /run/user/<uid> does not exist for a user without a session.
    husk(&["run", "-d", "--bundle", b.path(), &id]).success();
    let st = fs::symlink_metadata(&tmp).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(st.uid(), t.user.uid);
    assert_eq!(st.permissions().mode() & 0o777, 0o700);
    assert!(tmp.join(&id).join("state.json").exists());
    let list = husk(&["list", "-q"]).success();
    assert_eq!(list.stdout.trim(), id);
    husk(&["delete", "--force", &id]).success();
    fs::remove_dir_all(&tmp).unwrap();

    // A directory someone else planted there is refused, not used.
    fs::create_dir(&tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o777)).unwrap();
    husk(&["list"]).fails_with("refusing state root");
    fs::remove_dir_all(&tmp).unwrap();
    t.assert_clean(&id);
}

#[test]
fn a_single_mapping_is_written_without_helpers_and_denies_setgroups() {
    let Some(t) = Rl::new("single") else { return };
    let mut b = t.bundle("single", &["sh", "-c", "cat /proc/self/setgroups; id -u"]);
    b.edit(|c| {
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": t.user.uid, "size": 1}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": t.user.gid, "size": 1}]);
    });
    let id = t.id("single");
    let r = t.husk(&["run", "--bundle", b.path(), &id]).success();
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), ["deny", "0"]);
    t.assert_clean(&id);
    // Additional groups cannot be set there: a clear error, as with runc.
    b.edit(|c| c["process"]["user"]["additionalGids"] = json!([0]));
    t.husk(&["run", "--bundle", b.path(), &id])
        .fails_with("setgroups(2) is denied in this user namespace");
    t.assert_clean(&id);
    // A mapping of someone else's id is refused by the kernel's helpers.
    if helpers_installed() {
        b.edit(|c| {
            c["process"]["user"] = json!({"uid": 0, "gid": 0});
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]);
        });
        t.husk(&["run", "--bundle", b.path(), &id])
            .fails_with("newuidmap");
        t.assert_clean(&id);
    }
}

#[test]
fn the_devpts_gid_is_dropped_when_the_namespace_does_not_map_it() {
    let Some(t) = Rl::new("devpts") else { return };
    let mut b = t.bundle("devpts", &["sh", "-c", "grep devpts /proc/self/mounts"]);
    b.edit(|c| {
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": t.user.uid, "size": 1}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": t.user.gid, "size": 1}]);
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev/pts" {
                m["options"].as_array_mut().unwrap().push(json!("gid=5"));
            }
        }
    });
    let id = t.id("devpts");
    let r = t.husk(&["run", "--bundle", b.path(), &id]).success();
    assert!(r.stdout.contains("devpts /dev/pts"), "{}", r.stdout);
    assert!(!r.stdout.contains("gid=5"), "{}", r.stdout);
    t.assert_clean(&id);
}

/// husk run as root of a user namespace it did not make, as rootless
/// podman runs it: no --root (the state goes under XDG_RUNTIME_DIR, not
/// /run/husk), configs without a user namespace of their own (containers
/// share the runtime's), no cgroup. A pid namespace is joined (podman's
/// --pid container:) and entered by exec from a first child: the runtime
/// could not come back to its own.
#[test]
fn as_root_of_a_user_namespace_like_rootless_podman() {
    let Some(t) = Rl::new("podmanlike") else {
        return;
    };
    let unshare = user::find("unshare").expect("unshare (util-linux) is installed");
    let podman_like = |c: &mut Value| {
        let linux = c["linux"].as_object_mut().unwrap();
        linux.remove("uidMappings");
        linux.remove("gidMappings");
        linux["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "user");
    };
    let mut b = t.bundle("podmanlike", &["sleep", "600"]);
    b.edit(podman_like);
    let mut joiner = t.bundle("joiner", &["sh", "-c", "echo joined $(cat /proc/1/comm)"]);
    joiner.edit(|c| {
        podman_like(c);
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "pid" {
                n["path"] = json!("/proc/@PID@/ns/pid");
            }
        }
    });
    let id = t.id("podmanlike");
    let id2 = t.id("joiner");
    // One user namespace for every call, as podman's pause process keeps.
    let script = r#"
        set -e
        "$HUSK" run -d --bundle "$BUNDLE" "$ID"
        test -e "$XDG_RUNTIME_DIR/husk/$ID/state.json" && echo state-under-xdg
        "$HUSK" exec "$ID" sh -c 'echo "exec $(id -u) $(cat /proc/1/comm)"'
        st=$("$HUSK" state "$ID")
        case $st in *'"running"'*) echo running ;; esac
        pid=$(printf '%s\n' "$st" | sed -n 's/^  "pid": *\([0-9]*\).*/\1/p')
        sed -i "s|@PID@|$pid|" "$JOINER/config.json"
        "$HUSK" run --bundle "$JOINER" "$ID2"
        "$HUSK" kill "$ID" KILL
        "$HUSK" delete --force "$ID"
        test ! -e "$XDG_RUNTIME_DIR/husk/$ID" && echo deleted
    "#;
    let mut c = t.user.command(&unshare, true);
    c.args(["--user", "--map-root-user", "--", "/bin/sh", "-c", script])
        .env("HUSK", &t.user.husk)
        .env("BUNDLE", b.path())
        .env("JOINER", joiner.path())
        .env("ID", &id)
        .env("ID2", &id2);
    let r = t.user.run(c).success();
    assert_eq!(
        r.stdout.lines().collect::<Vec<_>>(),
        [
            "state-under-xdg",
            "exec 0 sleep",
            "running",
            "joined sleep",
            "deleted"
        ],
        "stderr: {}",
        r.stderr
    );
    t.assert_clean(&id);
    t.assert_clean(&id2);
}
