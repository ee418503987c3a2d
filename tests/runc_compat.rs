//! husk against runc: the same busybox bundle through both runtimes
//! (separate --root dirs, separate ids, a relative cgroupsPath equal to
//! the id), comparing what engines observe: states, pids, exit codes,
//! error strings, `ps` and `--version` output.
//!
//! Needs runc at /usr/sbin/runc: without it the tests print why and pass
//! as skipped, unless HUSK_REQUIRE_RUNC=1, where a skip is a failure.
//! Whatever runc creates is deleted by a guard, even when a test fails.

mod common;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Bundle, Run, TestEnv};
use serde_json::Value;

const RUNC: &str = "/usr/sbin/runc";

/// The fields of the OCI state that runc prints; husk may add more.
const OCI_STATE_KEYS: [&str; 8] = [
    "ociVersion",
    "id",
    "pid",
    "status",
    "bundle",
    "rootfs",
    "created",
    "owner",
];

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Is runc here? Prints the reason when not; a failure with HUSK_REQUIRE_RUNC=1.
fn have_runc() -> bool {
    if Path::new(RUNC).exists() {
        return true;
    }
    if std::env::var("HUSK_REQUIRE_RUNC").as_deref() == Ok("1") {
        panic!("HUSK_REQUIRE_RUNC=1 but there is no runc at {RUNC}");
    }
    eprintln!("skipped: no runc at {RUNC} to compare with");
    false
}

/// One runtime binary with its own --root.
struct Runtime {
    name: &'static str,
    bin: PathBuf,
    root: PathBuf,
    /// Scratch dir for output files.
    scratch: PathBuf,
}

impl Runtime {
    fn husk(t: &TestEnv) -> Runtime {
        Runtime {
            name: "husk",
            bin: common::husk_bin(),
            root: t.root.clone(),
            scratch: t.dir.clone(),
        }
    }

    /// Runs the runtime with output through files: a container started by
    /// `create` inherits them and keeps them open after the runtime exits.
    fn run(&self, args: &[&str]) -> Run {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let out = self.scratch.join(format!(".{}-out-{n}", self.name));
        let err = self.scratch.join(format!(".{}-err-{n}", self.name));
        let status = Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&err).unwrap())
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        let r = Run {
            code: exit_code(status),
            stdout: fs::read_to_string(&out).unwrap_or_default(),
            stderr: fs::read_to_string(&err).unwrap_or_default(),
        };
        let _ = fs::remove_file(out);
        let _ = fs::remove_file(err);
        r
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "{} {args:?} failed: {}{}",
            self.name, r.stdout, r.stderr
        );
        r
    }

    #[track_caller]
    fn state(&self, id: &str) -> Value {
        let r = self.ok(&["state", id]);
        serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("{} state is not JSON ({e}): {}", self.name, r.stdout))
    }

    /// Polls `state` until its status is `want` (10 s at most).
    #[track_caller]
    fn wait_status(&self, id: &str, want: &str) -> Value {
        let mut last = Value::Null;
        let found = common::eventually(10, || {
            last = self.state(id);
            last["status"] == want
        });
        assert!(found, "{} {id}: wanted {want}, state is {last}", self.name);
        last
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// runc beside a TestEnv: its own --root in the env's dir, and on drop
/// `runc delete --force` of every id it was given, then the root.
struct RuncSide {
    rt: Runtime,
    ids: RefCell<Vec<String>>,
}

impl RuncSide {
    fn new(t: &TestEnv) -> RuncSide {
        RuncSide {
            rt: Runtime {
                name: "runc",
                bin: RUNC.into(),
                root: t.dir.join("runc-state"),
                scratch: t.dir.clone(),
            },
            ids: RefCell::new(Vec::new()),
        }
    }

    /// A runc bundle for a new id (registered for cleanup, by runc here and
    /// by the TestEnv for its cgroup dirs).
    fn bundle(&self, t: &TestEnv, args: &[&str]) -> Bundle {
        let id = t.new_id("runc");
        self.ids.borrow_mut().push(id.clone());
        Bundle::new(&t.dir.join(format!("bundle-{id}")), &id, args)
    }

    /// Nothing of runc's container `id` is left: its state dir under runc's
    /// root, and (through the env) its cgroups, mounts and processes.
    #[track_caller]
    fn assert_clean(&self, t: &TestEnv, id: &str) {
        assert!(
            !self.rt.root.join(id).exists(),
            "runc state dir of {id} left behind"
        );
        t.assert_clean(id);
    }
}

impl Drop for RuncSide {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            if self.rt.root.join(id).exists() {
                let _ = Command::new(&self.rt.bin)
                    .arg("--root")
                    .arg(&self.rt.root)
                    .args(["delete", "--force", id])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = fs::remove_dir_all(&self.rt.root);
    }
}

/// The test's world: a TestEnv (husk) and runc beside it. `runc` is
/// declared after `t`, so it is dropped (runc cleans up) first.
fn setup(name: &str) -> Option<(TestEnv, RuncSide)> {
    if !have_runc() {
        return None;
    }
    let t = TestEnv::new(name)?;
    let runc = RuncSide::new(&t);
    Some((t, runc))
}

/// The init's cgroup membership with the container id replaced, to compare
/// where the two runtimes put their containers.
fn cgroups_of(pid: i64, id: &str) -> String {
    fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .replace(id, "<id>")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// create → state → start → state → kill KILL → state → delete → state, as
/// one runtime sees it: the observations to compare.
#[derive(Debug, PartialEq)]
struct Lifecycle {
    created_status: String,
    running_status: String,
    stopped_status: String,
    stopped_pid: i64,
    cgroups: String,
    gone_code: i32,
    gone_says_does_not_exist: bool,
}

fn walk_lifecycle(rt: &Runtime, b: &Bundle) -> Lifecycle {
    rt.ok(&["create", "--bundle", b.path_str(), &b.id]);
    let created = rt.state(&b.id);
    let pid = created["pid"].as_i64().unwrap_or(0);
    assert!(pid > 0, "{}: created state has no pid: {created}", rt.name);
    let cgroups = cgroups_of(pid, &b.id);
    rt.ok(&["start", &b.id]);
    let running = rt.wait_status(&b.id, "running");
    assert_eq!(running["pid"], pid, "{}: pid changed on start", rt.name);
    rt.ok(&["kill", &b.id, "KILL"]);
    let stopped = rt.wait_status(&b.id, "stopped");
    rt.ok(&["delete", &b.id]);
    let gone = rt.run(&["state", &b.id]);
    Lifecycle {
        created_status: created["status"].as_str().unwrap_or("").into(),
        running_status: running["status"].as_str().unwrap_or("").into(),
        stopped_status: stopped["status"].as_str().unwrap_or("").into(),
        stopped_pid: stopped["pid"].as_i64().unwrap_or(-1),
        cgroups,
        gone_code: gone.code,
        gone_says_does_not_exist: gone.stderr.contains("container does not exist"),
    }
}

#[test]
fn lifecycle_matches_runc() {
    let Some((t, runc)) = setup("cmp-cycle") else {
        return;
    };
    let hb = t.bundle(&["sleep", "60"]);
    let rb = runc.bundle(&t, &["sleep", "60"]);
    let husk = walk_lifecycle(&Runtime::husk(&t), &hb);
    let theirs = walk_lifecycle(&runc.rt, &rb);
    assert_eq!(theirs.created_status, "created");
    assert_eq!(theirs.running_status, "running");
    assert_eq!(theirs.stopped_status, "stopped");
    assert_eq!(theirs.gone_code, 1);
    assert!(theirs.gone_says_does_not_exist);
    assert_eq!(husk, theirs, "husk (left) and runc (right) differ");
    t.assert_clean(&hb.id);
    runc.assert_clean(&t, &rb.id);
}

#[test]
fn delete_force_of_a_missing_container_succeeds_for_both() {
    let Some((t, runc)) = setup("cmp-delmissing") else {
        return;
    };
    let husk = Runtime::husk(&t);
    for rt in [&husk, &runc.rt] {
        let id = format!("{}-never-created", t.id);
        let r = rt.run(&["delete", "--force", &id]);
        assert_eq!(r.code, 0, "{}: {}", rt.name, r.stderr);
        // Plain delete of the same id is the error engines match on.
        let r = rt.run(&["delete", &id]);
        assert_eq!(r.code, 1, "{}", rt.name);
        assert!(
            r.stderr.contains("container does not exist"),
            "{}: {}",
            rt.name,
            r.stderr
        );
    }
}

#[test]
fn kill_of_a_stopped_container_fails_for_both() {
    let Some((t, runc)) = setup("cmp-killstopped") else {
        return;
    };
    let husk = Runtime::husk(&t);
    let hb = t.bundle(&["sleep", "60"]);
    let rb = runc.bundle(&t, &["sleep", "60"]);
    let mut codes = Vec::new();
    for (rt, b) in [(&husk, &hb), (&runc.rt, &rb)] {
        rt.ok(&["run", "--detach", "--bundle", b.path_str(), &b.id]);
        rt.wait_status(&b.id, "running");
        rt.ok(&["kill", &b.id, "9"]);
        rt.wait_status(&b.id, "stopped");
        let r = rt.run(&["kill", &b.id, "9"]);
        assert_ne!(
            r.code, 0,
            "{}: kill of a stopped container succeeded",
            rt.name
        );
        assert!(
            r.stderr.contains("container not running"),
            "{}: {}",
            rt.name,
            r.stderr
        );
        codes.push(r.code);
        rt.ok(&["delete", &b.id]);
    }
    assert_eq!(codes[0], codes[1], "exit codes of husk and runc differ");
    t.assert_clean(&hb.id);
    runc.assert_clean(&t, &rb.id);
}

#[test]
fn run_returns_the_exit_code_for_both() {
    let Some((t, runc)) = setup("cmp-exit7") else {
        return;
    };
    let husk = Runtime::husk(&t);
    let hb = t.bundle(&["sh", "-c", "exit 7"]);
    let rb = runc.bundle(&t, &["sh", "-c", "exit 7"]);
    for (rt, b) in [(&husk, &hb), (&runc.rt, &rb)] {
        let r = rt.run(&["run", "--bundle", b.path_str(), &b.id]);
        assert_eq!(r.code, 7, "{}: {}", rt.name, r.stderr);
    }
    t.assert_clean(&hb.id);
    runc.assert_clean(&t, &rb.id);
}

#[test]
fn state_has_the_oci_keys_of_runc() {
    let Some((t, runc)) = setup("cmp-keys") else {
        return;
    };
    let husk = Runtime::husk(&t);
    let hb = t.bundle(&["sleep", "60"]);
    let rb = runc.bundle(&t, &["sleep", "60"]);
    let mut states = Vec::new();
    for (rt, b) in [(&husk, &hb), (&runc.rt, &rb)] {
        rt.ok(&["create", "--bundle", b.path_str(), &b.id]);
        let st = rt.state(&b.id);
        for k in OCI_STATE_KEYS {
            assert!(st.get(k).is_some(), "{}: state lacks {k:?}: {st}", rt.name);
        }
        assert_eq!(st["id"], b.id.as_str(), "{}", rt.name);
        assert_eq!(st["bundle"], b.path_str(), "{}", rt.name);
        assert_eq!(
            st["rootfs"],
            b.rootfs().to_str().unwrap(),
            "{}: rootfs",
            rt.name
        );
        states.push(st);
        rt.ok(&["delete", "--force", &b.id]);
    }
    let (h, r) = (&states[0], &states[1]);
    // Every key runc prints, husk prints too; the OCI ones with the same JSON type.
    let missing: Vec<_> = keys(r).difference(&keys(h)).cloned().collect();
    assert!(missing.is_empty(), "husk's state lacks {missing:?}: {h}");
    for k in OCI_STATE_KEYS {
        assert_eq!(
            std::mem::discriminant(&h[k]),
            std::mem::discriminant(&r[k]),
            "{k}: husk {} vs runc {}",
            h[k],
            r[k]
        );
    }
    assert_eq!(h["status"], r["status"]);
    assert_eq!(h["owner"], r["owner"]);
    t.assert_clean(&hb.id);
    runc.assert_clean(&t, &rb.id);
}

#[test]
fn ps_json_lists_the_init_pid_for_both() {
    let Some((t, runc)) = setup("cmp-ps") else {
        return;
    };
    let husk = Runtime::husk(&t);
    let hb = t.bundle(&["sleep", "60"]);
    let rb = runc.bundle(&t, &["sleep", "60"]);
    for (rt, b) in [(&husk, &hb), (&runc.rt, &rb)] {
        rt.ok(&["run", "--detach", "--bundle", b.path_str(), &b.id]);
        let pid = rt.wait_status(&b.id, "running")["pid"].clone();
        let ps = rt.ok(&["ps", "--format", "json", &b.id]);
        let pids: Value = serde_json::from_str(ps.stdout.trim())
            .unwrap_or_else(|e| panic!("{}: ps is not JSON ({e}): {}", rt.name, ps.stdout));
        assert_eq!(pids, Value::Array(vec![pid]), "{}", rt.name);
        rt.ok(&["delete", "--force", &b.id]);
    }
    t.assert_clean(&hb.id);
    runc.assert_clean(&t, &rb.id);
}

#[test]
fn version_lines_have_runc_shape() {
    if !have_runc() {
        return;
    }
    let version = |bin: &Path| {
        let out = Command::new(bin).arg("--version").output().unwrap();
        assert!(out.status.success(), "{} --version failed", bin.display());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let husk = version(&common::husk_bin());
    let runc = version(Path::new(RUNC));
    // dockerd reads "<name> version <v>", then "commit: …"; runc adds "spec: …".
    let shape = |s: &str, name: &str| -> Vec<String> {
        s.lines()
            .take(3)
            .map(|l| {
                let l = l.replacen(name, "<name>", 1);
                match l.split_once(": ") {
                    Some((k, v)) if !v.is_empty() => format!("{k}: <value>"),
                    _ => match l.strip_prefix("<name> version ") {
                        Some(v) if !v.is_empty() && !v.contains(' ') => {
                            "<name> version <value>".into()
                        }
                        _ => l,
                    },
                }
            })
            .collect()
    };
    assert_eq!(
        shape(&husk, "husk"),
        shape(&runc, "runc"),
        "husk:\n{husk}\nrunc:\n{runc}"
    );
    // Both say which runtime-spec they implement, as a version number.
    for s in [&husk, &runc] {
        let spec = s.lines().find_map(|l| l.strip_prefix("spec: ")).unwrap();
        assert!(spec.starts_with("1."), "{s}");
    }
}

#[test]
fn refusals_on_a_running_container_match_runc() {
    let Some((t, runc)) = setup("cmp-refusals") else {
        return;
    };
    let husk = Runtime::husk(&t);
    let hb = t.bundle(&["sleep", "60"]);
    let rb = runc.bundle(&t, &["sleep", "60"]);
    let mut codes = Vec::new();
    for (rt, b) in [(&husk, &hb), (&runc.rt, &rb)] {
        rt.ok(&["run", "--detach", "--bundle", b.path_str(), &b.id]);
        let pid = rt.wait_status(&b.id, "running")["pid"].clone();
        let refused = [
            rt.run(&["start", &b.id]),
            rt.run(&["delete", &b.id]),
            rt.run(&["kill", &b.id, "NOPE"]),
        ];
        for r in &refused {
            assert_ne!(r.code, 0, "{}: {r:?}", rt.name);
        }
        // Nothing was done to the container.
        let st = rt.state(&b.id);
        assert_eq!(st["status"], "running", "{}", rt.name);
        assert_eq!(st["pid"], pid, "{}", rt.name);
        codes.push(refused.map(|r| r.code));
        rt.ok(&["delete", "--force", &b.id]);
    }
    assert_eq!(codes[0], codes[1], "exit codes of husk and runc differ");
    t.assert_clean(&hb.id);
    runc.assert_clean(&t, &rb.id);
}
