//! Rootless podman driving husk: a user made for the test runs `podman`
//! with husk as its OCI runtime. Podman runs the runtime as root of the
//! user's namespace (its pause process keeps it), without --root, with
//! configs that have no user namespace of their own, and without cgroups
//! on a cgroup v1 or hybrid host (cgroupfs manager, no systemd session).
//!
//! Networking is `none`: slirp4netns needs /dev/net/tun, which is not
//! always open to users. Images come from a tarball (`podman import`):
//! there is no registry to pull from.
//!
//! Needs podman (and newuidmap/newgidmap, which it requires): without it
//! the test prints why and passes as skipped, unless HUSK_REQUIRE_PODMAN=1.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::user::{self, TestUser};
use common::Run;

/// Why rootless podman cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    if let Some(why) = user::unavailable() {
        return Some(why);
    }
    for tool in ["podman", "newuidmap", "newgidmap"] {
        if user::find(tool).is_none() {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

fn can_run() -> bool {
    let Some(why) = unavailable() else {
        return true;
    };
    if std::env::var("HUSK_REQUIRE_PODMAN").as_deref() == Ok("1") {
        panic!("HUSK_REQUIRE_PODMAN=1 but rootless podman cannot run: {why}");
    }
    eprintln!("skipped: {why}");
    false
}

/// Podman as the test user, configured (in its home) to run husk.
struct Podman {
    user: TestUser,
    podman: PathBuf,
    registries: PathBuf,
}

impl Podman {
    fn new() -> Option<Podman> {
        if !can_run() {
            return None;
        }
        let user = TestUser::create("podman");
        let conf = user.home.join(".config/containers");
        fs::create_dir_all(&conf).unwrap();
        fs::write(
            conf.join("containers.conf"),
            format!(
                r#"[containers]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "husk"
runtime_supports_json = ["crun", "runc", "husk"]
[engine.runtimes]
husk = ["{}"]
"#,
                user.husk.display()
            ),
        )
        .unwrap();
        fs::write(
            conf.join("storage.conf"),
            "[storage]\ndriver = \"overlay\"\n",
        )
        .unwrap();
        let registries = conf.join("registries.conf");
        fs::write(&registries, "").unwrap();
        user.give(&user.home.join(".config"));
        Some(Podman {
            podman: user::find("podman").expect("checked by can_run"),
            user,
            registries,
        })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.user.command(&self.podman, true);
        c.env("CONTAINERS_REGISTRIES_CONF", &self.registries)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        self.user.run(self.cmd(args))
    }

    /// A busybox image, imported from a tarball of the test rootfs.
    fn import(&self, name: &str) {
        let dir = self.user.home.join("image");
        common::bundle::make_rootfs(&dir);
        let bb = dir.join("bin/busybox");
        fs::remove_file(&bb).unwrap();
        fs::copy(common::bundle::busybox(), &bb).unwrap();
        let tar = self.user.home.join("image.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&dir)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success(), "tar of the image rootfs");
        self.user.give(&tar);
        self.run(&["import", tar.to_str().unwrap(), name]).success();
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Containers first; the user's processes (podman's pause process,
        // conmon) and the user go with TestUser.
        let _ = self.run(&["rm", "--all", "--force", "--time", "0"]);
    }
}

fn lines(r: &Run) -> Vec<&str> {
    r.stdout.lines().collect()
}

#[test]
fn rootless_podman_runs_containers_through_husk() {
    let Some(p) = Podman::new() else { return };
    let img = "localhost/husk-busybox:latest";
    p.import(img);
    let none = ["--network", "none"];
    let run = |args: &[&str]| {
        let mut a = vec!["run"];
        a.extend_from_slice(&none);
        a.extend_from_slice(args);
        p.run(&a)
    };

    // The process config, and the exit status through conmon.
    let r = run(&[
        "--rm",
        "--user",
        "65534:65534",
        "--hostname",
        "rl-pod",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        img,
        "sh",
        "-c",
        "echo $(id -u):$(id -g) $(hostname) $FOO $(pwd)",
    ])
    .success();
    assert_eq!(lines(&r), ["65534:65534 rl-pod bar /tmp"], "{}", r.stderr);
    let r = run(&["--name", "exit3", img, "sh", "-c", "exit 3"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    p.run(&["rm", "exit3"]).success();

    // Detached: logs, exec (the runtime enters the pid namespace from a
    // first child), stop with TERM ignored by pid 1.
    run(&[
        "-d",
        "--name",
        "d1",
        img,
        "sh",
        "-c",
        "echo out-line; echo err-line >&2; exec sleep 600",
    ])
    .success();
    assert!(
        common::eventually(10, || p.run(&["logs", "d1"]).stdout.contains("out-line")),
        "no log line"
    );
    let r = p.run(&[
        "exec",
        "-u",
        "65534",
        "-w",
        "/tmp",
        "d1",
        "sh",
        "-c",
        "echo $(id -u) $(pwd); exit 7",
    ]);
    assert_eq!(r.code, 7, "{}", r.stderr);
    assert_eq!(lines(&r), ["65534 /tmp"]);
    // Another container in d1's pid namespace (husk joins it from a first child).
    let r = run(&[
        "--rm",
        "--pid",
        "container:d1",
        img,
        "sh",
        "-c",
        "cat /proc/1/comm",
    ])
    .success();
    assert_eq!(lines(&r), ["sleep"], "{}", r.stderr);
    p.run(&["stop", "--time", "1", "d1"]).success();
    let r = p
        .run(&["inspect", "--format", "{{.State.ExitCode}}", "d1"])
        .success();
    assert_eq!(r.stdout.trim(), "137");
    p.run(&["rm", "d1"]).success();

    // husk kept its state under the user's XDG_RUNTIME_DIR (podman passes
    // no --root), and nothing is left there.
    let root = p.user.state_root();
    assert!(root.is_dir(), "no state root at {}", root.display());
    let r = p.run(&["ps", "--all", "--quiet"]).success();
    assert_eq!(r.stdout.trim(), "");
    assert_eq!(
        fs::read_dir(&root).unwrap().count(),
        0,
        "{root:?} not empty"
    );
}
