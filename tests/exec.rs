//! `husk exec` with real containers: every flag, a terminal, --detach,
//! a paused container, many processes in the pid namespace, and the
//! CVE-2019-5736 attack on the runtime binary.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{eventually, TestEnv};
use serde_json::json;

/// A detached `sleep` container for exec tests.
fn running(t: &TestEnv, edit: impl FnOnce(&mut serde_json::Value)) -> common::Bundle {
    let mut b = t.bundle(&["sleep", "600"]);
    b.edit(edit);
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    b
}

fn finish(t: &TestEnv) {
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn exec_returns_the_exit_code_and_output_in_the_foreground() {
    let Some(t) = TestEnv::new("exec-fg") else {
        return;
    };
    running(&t, |_| {});
    let r = t.husk(&["exec", &t.id, "sh", "-c", "echo out; echo err >&2; exit 5"]);
    assert_eq!(r.code, 5);
    assert_eq!(r.stdout, "out\n");
    assert_eq!(r.stderr, "err\n");
    finish(&t);
}

#[test]
fn exec_joins_every_namespace_and_the_cgroup_of_the_container() {
    let Some(t) = TestEnv::new("exec-ns") else {
        return;
    };
    running(&t, |c| c["hostname"] = json!("exec-host"));
    let init = t.state(&t.id)["pid"].as_i64().unwrap();
    let r = t
        .husk(&["exec", &t.id, "sh", "-c", "hostname; for n in mnt pid net ipc uts; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup"])
        .success();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "exec-host");
    for (i, n) in ["mnt", "pid", "net", "ipc", "uts"].iter().enumerate() {
        let want = fs::read_link(format!("/proc/{init}/ns/{n}")).unwrap();
        assert_eq!(lines[1 + i], want.to_str().unwrap(), "{n}");
    }
    assert!(
        lines[6..].iter().all(|l| l.ends_with(&t.id)),
        "{}",
        r.stdout
    );
    finish(&t);
}

#[test]
fn exec_flags_set_env_cwd_user_groups_caps_and_nnp() {
    let Some(t) = TestEnv::new("exec-flags") else {
        return;
    };
    running(&t, |c| {
        c["process"]["env"] = json!(["PATH=/bin", "KEEP=1", "FOO=old"])
    });
    let r = t
        .husk(&[
            "exec", "--env", "FOO=new", "-e", "BAR=2", "--cwd", "/tmp", "--user", "1000:1001",
            "--additional-gids", "10", "-g", "20", "--cap", "CAP_SYS_ADMIN", "--no-new-privs", &t.id, "sh", "-c",
            "echo $FOO $BAR $KEEP; env | grep -c '^FOO='; pwd; id -u; id -g; grep -E '^(Groups|CapEff|NoNewPrivs)' /proc/self/status",
        ])
        .success();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "new 2 1");
    assert_eq!(lines[1], "1", "FOO must be replaced, not appended");
    assert_eq!(lines[2], "/tmp");
    assert_eq!(lines[3], "1000");
    assert_eq!(lines[4], "1001");
    assert_eq!(
        lines[5].split_whitespace().skip(1).collect::<Vec<_>>(),
        ["10", "20"]
    );
    let eff = u64::from_str_radix(lines[6].split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_ne!(
        eff & (1 << 21),
        0,
        "CAP_SYS_ADMIN (21) not effective: {}",
        lines[6]
    );
    assert!(lines[7].ends_with('1'), "{}", lines[7]);
    finish(&t);
}

#[test]
fn exec_with_a_process_file_takes_it_whole() {
    let Some(t) = TestEnv::new("exec-procfile") else {
        return;
    };
    running(&t, |_| {});
    let pf = t.dir.join("process.json");
    fs::write(
        &pf,
        json!({"args": ["sh", "-c", "echo $X; pwd; id -u; umask"], "env": ["X=from-file", "PATH=/bin"],
               "cwd": "/proc", "user": {"uid": 7, "gid": 7, "umask": 63}, "terminal": false})
        .to_string(),
    )
    .unwrap();
    let r = t
        .husk(&["exec", "--process", pf.to_str().unwrap(), &t.id])
        .success();
    assert_eq!(r.stdout, "from-file\n/proc\n7\n0077\n");
    finish(&t);
}

#[test]
fn exec_cpu_affinity_final_is_the_affinity_the_process_runs_with() {
    let Some(t) = TestEnv::new("exec-affinity") else {
        return;
    };
    running(&t, |_| {});
    let pf = t.dir.join("process.json");
    let exec_with = |affinity: serde_json::Value| {
        fs::write(
            &pf,
            json!({"args": ["grep", "Cpus_allowed_list", "/proc/self/status"], "cwd": "/",
                   "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0},
                   "execCPUAffinity": affinity})
            .to_string(),
        )
        .unwrap();
        t.husk(&["exec", "--process", pf.to_str().unwrap(), &t.id])
    };
    let r = exec_with(json!({"initial": "0", "final": "0"})).success();
    assert_eq!(
        r.stdout.split_whitespace().last(),
        Some("0"),
        "{}",
        r.stdout
    );
    // A malformed list is refused by name; a CPU the machine lacks by the kernel.
    exec_with(json!({"final": "0-"})).fails_with("execCPUAffinity");
    exec_with(json!({"final": "1000"})).fails_with("process.execCPUAffinity.final");
    finish(&t);
}

#[test]
fn detached_exec_writes_the_pid_file_and_returns_at_once() {
    let Some(t) = TestEnv::new("exec-d") else {
        return;
    };
    let b = running(&t, |_| {});
    let pidfile = t.dir.join("exec.pid");
    let start = Instant::now();
    t.husk(&[
        "exec",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        &t.id,
        "sh",
        "-c",
        "sleep 5; echo done > /tmp/exec-done",
    ])
    .success();
    assert!(
        start.elapsed() < Duration::from_millis(4500),
        "exec -d waited for the process"
    );
    let pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let ps: Vec<i32> =
        serde_json::from_str(&t.husk(&["ps", "--format", "json", &t.id]).success().stdout).unwrap();
    assert!(ps.contains(&pid), "{pid} not in {ps:?}");
    assert!(eventually(15, || b.rootfs().join("tmp/exec-done").exists()));
    finish(&t);
}

#[test]
fn exec_of_a_missing_command_fails_at_launch() {
    let Some(t) = TestEnv::new("exec-missing") else {
        return;
    };
    running(&t, |_| {});
    t.husk(&["exec", "-d", &t.id, "no-such-cmd"])
        .fails_with("executable file not found");
    t.husk(&["exec", &t.id]).fails_with("no command");
    t.husk(&["exec", "nope-container", "true"])
        .fails_with("container does not exist");
    finish(&t);
}

#[test]
fn exec_is_refused_while_paused_and_works_after_resume() {
    let Some(t) = TestEnv::new("exec-paused") else {
        return;
    };
    running(&t, |_| {});
    t.husk(&["pause", &t.id]).success();
    assert_eq!(t.status(&t.id), "paused");
    t.husk(&["exec", &t.id, "true"]).fails_with("paused");
    t.husk(&["resume", &t.id]).success();
    t.husk(&["exec", &t.id, "true"]).success();
    finish(&t);
}

#[test]
fn exec_into_a_stopped_container_is_refused() {
    let Some(t) = TestEnv::new("exec-stopped") else {
        return;
    };
    let b = t.bundle(&["true"]);
    t.husk(&["run", "--keep", "--bundle", b.path_str(), &t.id])
        .success();
    t.husk(&["exec", &t.id, "true"]).fails_with("stopped");
    t.husk(&["delete", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn exec_into_a_pid_namespace_with_many_processes() {
    let Some(t) = TestEnv::new("exec-many") else {
        return;
    };
    running(&t, |c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            "for i in $(seq 1 100); do sleep 600 & done; exec sleep 600"
        ]);
    });
    assert!(eventually(10, || {
        let ps: Vec<i32> = serde_json::from_str(&t.husk(&["ps", "--format", "json", &t.id]).stdout)
            .unwrap_or_default();
        ps.len() >= 101
    }));
    let r = t
        .husk(&[
            "exec",
            &t.id,
            "sh",
            "-c",
            "ls /proc | grep -c '^[0-9]'; echo $$",
        ])
        .success();
    let lines: Vec<&str> = r.stdout.lines().collect();
    let n: usize = lines[0].parse().unwrap();
    assert!(n >= 102, "the exec'd process sees {n} pids");
    assert_ne!(lines[1], "1");
    finish(&t);
}

#[test]
fn exec_with_a_terminal_in_the_foreground_relays_it() {
    let Some(t) = TestEnv::new("exec-tty") else {
        return;
    };
    running(&t, |_| {});
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = fs::File::from(pty.slave);
    let mut c = t.cmd(&[
        "exec",
        "-t",
        &t.id,
        "sh",
        "-c",
        "tty; echo isatty=$(test -t 0 && echo yes)",
    ]);
    c.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    drop(slave);
    let mut seen = String::new();
    let mut buf = [0u8; 512];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains("isatty=") && Instant::now() < deadline {
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(&pty.master),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u8)).unwrap_or(0) == 0 {
            continue;
        }
        match nix::unistd::read(&pty.master, &mut buf) {
            Ok(n) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => break,
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen}");
    assert!(seen.contains("/dev/pts/"), "{seen}");
    assert!(seen.contains("isatty=yes"), "{seen}");
    finish(&t);
}

/// CVE-2019-5736: a container process grabs /proc/<pid>/exe of the runtime
/// while `exec` has it inside the container's pid namespace, then tries to
/// write through it once the runtime is gone. The attacker gets
/// CAP_SYS_PTRACE, so only the sealed memfd copy stands in its way. husk
/// runs from a copy in the test's temp dir: were the attack to succeed, it
/// would damage that copy only.
#[test]
fn cve_2019_5736_the_runtime_binary_cannot_be_overwritten_through_proc_exe() {
    let Some(t) = TestEnv::new("cve-5736") else {
        return;
    };
    let husk_copy = t.dir.join("husk-copy");
    fs::copy(common::husk_bin(), &husk_copy).unwrap();
    fs::set_permissions(&husk_copy, fs::Permissions::from_mode(0o755)).unwrap();
    let original = fs::read(&husk_copy).unwrap();
    // The attacker: for every process whose binary is not busybox, hold its
    // exe open, then try to append through the held fd.
    let attacker = r#"
        while :; do
          for p in /proc/[0-9]*; do
            [ "$p" = /proc/$$ ] && continue
            [ $p/exe -ef /bin/busybox ] && continue
            ( exec 3< $p/exe ) 2>/dev/null || { echo DENIED >> /log; continue; }
            # `command`: a failed redirection of the special built-in exec
            # would end this shell (POSIX), and the process may be gone by now.
            command exec 3< $p/exe 2>/dev/null || continue
            t=$(ls -l /proc/self/fd/3 2>/dev/null | sed 's/.*-> //')
            # The process may have exec'd busybox since the check: not a target.
            case "$t" in *busybox*) exec 3<&-; continue ;; esac
            echo "HELD $t" >> /log
            i=0; while [ $i -lt 200 ]; do i=$((i+1)); done
            if echo PWNED >> /proc/self/fd/3 2>/dev/null; then echo WROTE >> /log; else echo BLOCKED >> /log; fi
            exec 3<&-
          done
        done"#;
    let mut b = t.bundle(&["sh", "-c", attacker]);
    b.edit(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_PTRACE"));
        }
    });
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&husk_copy)
            .arg("--root")
            .arg(&t.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "husk {args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["run", "-d", "--bundle", b.path_str(), &t.id]);
    let log = b.rootfs().join("log");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut execs = 0;
    while Instant::now() < deadline {
        run(&["exec", &t.id, "true"]);
        execs += 1;
        let text = fs::read_to_string(&log).unwrap_or_default();
        if text.contains("BLOCKED") || text.contains("WROTE") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !text.contains("WROTE"),
        "the attack wrote through /proc/<pid>/exe:\n{text}"
    );
    assert!(
        text.contains("BLOCKED"),
        "the attacker never caught the runtime after {execs} execs:\n{text}"
    );
    for held in text.lines().filter(|l| l.starts_with("HELD")) {
        assert!(
            held.contains("memfd:husk-sealed"),
            "the runtime ran from a real file: {held}"
        );
    }
    assert!(
        fs::read(&husk_copy).unwrap() == original,
        "the husk binary changed"
    );
    run(&["delete", "--force", &t.id]);
    t.assert_clean(&t.id);
}

/// Without CAP_SYS_PTRACE the attacker cannot even open the exe link: the
/// runtime is not dumpable while it is in the container.
#[test]
fn cve_2019_5736_a_plain_container_cannot_open_the_runtimes_exe() {
    let Some(t) = TestEnv::new("cve-5736-nodump") else {
        return;
    };
    let attacker = r#"
        while :; do
          for p in /proc/[0-9]*; do
            [ "$p" = /proc/$$ ] && continue
            [ $p/exe -ef /bin/busybox ] && continue
            [ -e $p ] || continue
            # In a subshell: a failed `exec` redirection ends the shell (pid 1 here).
            # What was opened is recorded: the process may have exec'd busybox meanwhile.
            if t=$( exec 3< $p/exe && ls -l /proc/self/fd/3 ) 2>/dev/null; then
              case "$t" in *busybox*) ;; *) echo "OPENED $p $t" >> /log ;; esac
            else echo DENIED >> /log; fi
          done
        done"#;
    let b = t.bundle(&["sh", "-c", attacker]);
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    let log = b.rootfs().join("log");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        t.husk(&["exec", &t.id, "true"]).success();
        if fs::read_to_string(&log).is_ok_and(|s| s.contains("DENIED") || s.contains("OPENED")) {
            break;
        }
    }
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !text.contains("OPENED"),
        "a container process opened the runtime's exe:\n{text}"
    );
    assert!(
        text.contains("DENIED"),
        "the attacker never saw the runtime:\n{text}"
    );
    finish(&t);
}
