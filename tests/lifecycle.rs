//! The container lifecycle on runc's command-line contract, with real
//! containers: create/start/state/kill/delete, run in the foreground, pid
//! files, stdio, signals, and that nothing is left behind.

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{eventually, TestEnv};

#[test]
fn run_returns_the_exit_code_of_the_container() {
    let Some(t) = TestEnv::new("exit7") else {
        return;
    };
    let b = t.bundle(&["sh", "-c", "exit 7"]);
    assert_eq!(t.run(&b).code, 7);
    t.assert_clean(&t.id);
}

/// run releases the init as soon as it is set up: the process may have run
/// and exited before run's start step looks at it, which must not read as
/// "cannot start a stopped container" (it did once in 50 runs).
#[test]
fn run_of_a_process_that_exits_at_once_reports_its_status_every_time() {
    let Some(t) = TestEnv::new("exitnow") else {
        return;
    };
    let b = t.bundle(&["true"]);
    for i in 0..60 {
        let r = t.run(&b);
        assert_eq!(r.code, 0, "run {i}: {}", r.stderr);
        t.assert_clean(&t.id);
    }
}

#[test]
fn run_reports_128_plus_signal_when_killed() {
    let Some(t) = TestEnv::new("sig") else { return };
    // pid 1 of a namespace ignores SIGKILL from inside it: kill from outside.
    let b = t.bundle(&["sleep", "60"]);
    let mut c = t.cmd(&["run", "--bundle", b.path_str(), &t.id]);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    assert!(eventually(10, || t
        .husk(&["state", &t.id])
        .stdout
        .contains("running")));
    t.husk(&["kill", &t.id, "KILL"]).success();
    assert_eq!(child.wait().unwrap().code(), Some(137));
    t.assert_clean(&t.id);
}

#[test]
fn run_passes_stdio_through() {
    let Some(t) = TestEnv::new("stdio") else {
        return;
    };
    let b = t.bundle(&["sh", "-c", "echo out; echo err >&2; read x; echo got $x"]);
    let mut c = t.cmd(&["run", "--bundle", b.path_str(), &t.id]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\ngot hello\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    t.assert_clean(&t.id);
}

#[test]
fn create_start_kill_delete_leaves_nothing_behind() {
    let Some(t) = TestEnv::new("cycle") else {
        return;
    };
    let b = t.bundle(&["sleep", "60"]);
    let pidfile = t.dir.join("pid");
    t.husk(&[
        "create",
        "--bundle",
        b.path_str(),
        "--pid-file",
        pidfile.to_str().unwrap(),
        &t.id,
    ])
    .success();
    // The pid file holds the host pid of the init, which is already in its cgroup.
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        cg.lines().all(|l| l.ends_with(&t.id)),
        "init not in its cgroup: {cg}"
    );
    let st = t.state(&t.id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["bundle"], b.path_str());

    t.husk(&["start", &t.id]).success();
    assert_eq!(t.status(&t.id), "running");
    let ps = t.husk(&["ps", "--format", "json", &t.id]).success();
    assert_eq!(ps.stdout.trim(), format!("[{pid}]"));

    t.husk(&["kill", &t.id, "KILL"]).success();
    t.wait_status(&t.id, "stopped");
    assert_eq!(t.state(&t.id)["pid"], 0);
    t.husk(&["delete", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn kill_accepts_names_and_numbers() {
    let Some(t) = TestEnv::new("signames") else {
        return;
    };
    let b = t.bundle(&[
        "sh",
        "-c",
        "trap 'echo usr1 > /tmp/got' USR1; while :; do sleep 0.05; done",
    ]);
    t.husk(&["create", "--bundle", b.path_str(), &t.id])
        .success();
    t.husk(&["start", &t.id]).success();
    std::thread::sleep(Duration::from_millis(200));
    for sig in ["USR1", "SIGUSR1", "10"] {
        let _ = std::fs::remove_file(b.rootfs().join("tmp/got"));
        t.husk(&["kill", &t.id, sig]).success();
        assert!(
            eventually(5, || b.rootfs().join("tmp/got").exists()),
            "{sig} not delivered"
        );
    }
    t.husk(&["kill", &t.id, "NOSUCHSIG"])
        .fails_with("invalid signal");
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn delete_force_kills_a_running_container_and_tolerates_a_missing_one() {
    let Some(t) = TestEnv::new("force") else {
        return;
    };
    let b = t.bundle(&["sleep", "60"]);
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    assert_eq!(t.status(&t.id), "running");
    t.husk(&["delete", &t.id]).fails_with("not stopped");
    assert_eq!(t.status(&t.id), "running");
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
    // containerd's shim deletes twice: the second must succeed.
    t.husk(&["delete", "--force", &t.id]).success();
    t.husk(&["delete", &t.id])
        .fails_with("container does not exist");
}

#[test]
fn the_same_id_can_be_created_again_after_delete() {
    let Some(t) = TestEnv::new("reuse") else {
        return;
    };
    let b = t.bundle(&["true"]);
    for _ in 0..2 {
        assert_eq!(t.run(&b).code, 0);
        t.assert_clean(&t.id);
    }
}

#[test]
fn created_container_can_be_deleted_without_force() {
    let Some(t) = TestEnv::new("created-del") else {
        return;
    };
    let b = t.bundle(&["true"]);
    t.husk(&["create", "--bundle", b.path_str(), &t.id])
        .success();
    t.husk(&["delete", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn state_list_and_kill_of_a_missing_container() {
    let Some(t) = TestEnv::new("missing") else {
        return;
    };
    t.husk(&["state", "nope"])
        .fails_with("container does not exist");
    t.husk(&["kill", "nope"])
        .fails_with("container does not exist");
    let l = t.husk(&["list", "--format", "json"]).success();
    assert_eq!(l.stdout.trim(), "[]");
}

#[test]
fn list_shows_containers_in_every_format() {
    let Some(t) = TestEnv::new("list") else {
        return;
    };
    let b = t.bundle(&["sleep", "60"]);
    t.husk(&["create", "--bundle", b.path_str(), &t.id])
        .success();
    let q = t.husk(&["list", "-q"]).success();
    assert_eq!(q.stdout.trim(), t.id);
    let table = t.husk(&["list"]).success();
    assert!(table.stdout.starts_with("ID"), "{}", table.stdout);
    assert!(table.stdout.contains("created"));
    let json: serde_json::Value =
        serde_json::from_str(&t.husk(&["list", "--format=json"]).success().stdout).unwrap();
    assert_eq!(json[0]["id"], t.id.as_str());
    assert_eq!(json[0]["status"], "created");
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn kill_of_a_stopped_container_says_not_running() {
    let Some(t) = TestEnv::new("killstopped") else {
        return;
    };
    let b = t.bundle(&["true"]);
    t.husk(&["run", "--keep", "--bundle", b.path_str(), &t.id])
        .success();
    assert_eq!(t.status(&t.id), "stopped");
    t.husk(&["kill", &t.id, "9"])
        .fails_with("container not running");
    t.husk(&["delete", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn run_forwards_sigterm_to_the_container() {
    let Some(t) = TestEnv::new("fwd") else { return };
    let b = t.bundle(&[
        "sh",
        "-c",
        "trap 'exit 42' TERM; while :; do sleep 0.05; done",
    ]);
    let mut c = t.cmd(&["run", "--bundle", b.path_str(), &t.id]);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    assert!(eventually(10, || t
        .husk(&["state", &t.id])
        .stdout
        .contains("running")));
    std::thread::sleep(Duration::from_millis(200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
    t.assert_clean(&t.id);
}

#[test]
fn detached_run_returns_at_once_and_the_container_keeps_running() {
    let Some(t) = TestEnv::new("detach") else {
        return;
    };
    let b = t.bundle(&["sleep", "60"]);
    let start = Instant::now();
    t.husk(&["run", "--detach", "--bundle", b.path_str(), &t.id])
        .success();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(t.status(&t.id), "running");
    t.husk(&["delete", "-f", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn preserve_fds_passes_extra_fds_and_nothing_else() {
    let Some(t) = TestEnv::new("fds") else { return };
    let b = t.bundle(&[
        "sh",
        "-c",
        "cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '",
    ]);
    let (r, w) = nix::unistd::pipe().unwrap();
    nix::unistd::write(&w, b"from-fd-3\n").unwrap();
    drop(w);
    let mut c = t.cmd(&[
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        b.path_str(),
        &t.id,
    ]);
    let raw = std::os::fd::AsRawFd::as_raw_fd(&r);
    // SAFETY: dup2 in the forked child, before exec, touches only its fd table.
    unsafe {
        c.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c.stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success());
    // fds 0-2, the preserved 3, and the one `ls` opens for /proc/self/fd.
    assert_eq!(out, "from-fd-3\n0 1 2 3 4 ");
    t.assert_clean(&t.id);
}

#[test]
fn version_has_runc_shape() {
    let out = std::process::Command::new(common::husk_bin())
        .arg("--version")
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[0].starts_with("husk version "), "{s}");
    assert!(lines[1].starts_with("commit: "), "{s}");
    assert!(lines[2].starts_with("spec: 1."), "{s}");
}
