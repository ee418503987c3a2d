//! Namespaces joined by path, time namespace offsets, cgroup placement and
//! basic resources read back from the cgroup files, and `run` relaying a
//! terminal in the foreground.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;

use common::TestEnv;
use serde_json::json;

/// The container's directory in the cgroup hierarchy that has `file`.
fn cgroup_file(id: &str, file: &str) -> Option<PathBuf> {
    common::cgroup_dirs_named(id)
        .into_iter()
        .map(|d| d.join(file))
        .find(|p| p.exists())
}

#[test]
fn a_second_container_joins_the_first_ones_namespaces_by_path() {
    let Some(t) = TestEnv::new("join") else {
        return;
    };
    let mut a = t.bundle(&["sleep", "60"]);
    a.edit(|c| c["hostname"] = json!("shared-host"));
    let pidfile = t.dir.join("a.pid");
    t.husk(&[
        "run",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        "--bundle",
        a.path_str(),
        &t.id,
    ])
    .success();
    let pid = fs::read_to_string(&pidfile).unwrap();
    let bid = t.new_id("b");
    let mut b = t.bundle_named(
        &bid,
        &[
            "sh",
            "-c",
            "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/uts",
        ],
    );
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
        c["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
            {"type": "network", "path": format!("/proc/{pid}/ns/net")},
            {"type": "uts", "path": format!("/proc/{pid}/ns/uts")},
        ]);
    });
    let r = t.husk(&["run", "--bundle", b.path_str(), &bid]).success();
    let want_net = fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let want_uts = fs::read_link(format!("/proc/{pid}/ns/uts")).unwrap();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "shared-host");
    assert_eq!(lines[1], want_net.to_str().unwrap());
    assert_eq!(lines[2], want_uts.to_str().unwrap());
    t.assert_clean(&bid);
    t.husk(&["delete", "-f", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn a_container_joins_another_pid_namespace_by_path() {
    let Some(t) = TestEnv::new("joinpid") else {
        return;
    };
    let a = t.bundle(&["sleep", "60"]);
    let pidfile = t.dir.join("a.pid");
    t.husk(&[
        "run",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        "--bundle",
        a.path_str(),
        &t.id,
    ])
    .success();
    let pid = fs::read_to_string(&pidfile).unwrap();
    let bid = t.new_id("b");
    // Sharing a pid namespace: the first container's sleep is pid 1 here.
    let mut b = t.bundle_named(
        &bid,
        &[
            "sh",
            "-c",
            "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
        ],
    );
    b.edit(|c| {
        c["linux"]["namespaces"] = json!([
            {"type": "pid", "path": format!("/proc/{pid}/ns/pid")}, {"type": "mount"},
        ]);
        c.as_object_mut().unwrap().remove("hostname");
    });
    let r = t.husk(&["run", "--bundle", b.path_str(), &bid]).success();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0].trim(), "sleep 60");
    assert_ne!(lines[1], "1", "the joining process must not be pid 1");
    t.assert_clean(&bid);
    t.husk(&["delete", "-f", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn time_namespace_offsets_move_the_monotonic_clock() {
    let Some(t) = TestEnv::new("timens") else {
        return;
    };
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        eprintln!("skipped: no time namespaces in this kernel");
        return;
    }
    let mut b = t.bundle(&["cat", "/proc/uptime"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 86400 * 365, "nanosecs": 0}});
    });
    let r = t.run(&b).success();
    let inside: f64 = r.stdout.split_whitespace().next().unwrap().parse().unwrap();
    let host: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        inside - host > 86400.0 * 364.0,
        "uptime inside {inside}, host {host}"
    );
    t.assert_clean(&t.id);
}

#[test]
fn resources_are_written_to_the_containers_cgroup_before_it_runs() {
    let Some(t) = TestEnv::new("res") else { return };
    let mut b = t.bundle(&["sh", "-c", "cat /proc/self/cgroup"]);
    b.edit(|c| {
        c["linux"]["resources"]["memory"] = json!({"limit": 64 << 20, "reservation": 32 << 20});
        c["linux"]["resources"]["cpu"] = json!({"shares": 512, "quota": 50000, "period": 100000});
        c["linux"]["resources"]["pids"] = json!({"limit": 42});
    });
    t.husk(&["create", "--bundle", b.path_str(), &t.id])
        .success();
    let read = |f: &str| {
        let p = cgroup_file(&t.id, f).unwrap_or_else(|| panic!("no cgroup file {f}"));
        fs::read_to_string(p).unwrap().trim().to_string()
    };
    if cgroup_file(&t.id, "memory.limit_in_bytes").is_some() {
        assert_eq!(read("memory.limit_in_bytes"), (64u64 << 20).to_string());
        assert_eq!(
            read("memory.soft_limit_in_bytes"),
            (32u64 << 20).to_string()
        );
        assert_eq!(read("cpu.shares"), "512");
        assert_eq!(read("cpu.cfs_quota_us"), "50000");
        assert_eq!(read("cpu.cfs_period_us"), "100000");
    } else {
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("memory.low"), (32u64 << 20).to_string());
        assert_eq!(read("cpu.weight"), "20");
        assert_eq!(read("cpu.max"), "50000 100000");
    }
    assert_eq!(read("pids.max"), "42");
    // Every cgroup of the init is the container's own.
    let pid = t.state(&t.id)["pid"].as_i64().unwrap();
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.lines().all(|l| l.ends_with(&t.id)), "{cg}");
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn a_pids_limit_stops_a_fork_bomb() {
    let Some(t) = TestEnv::new("pids") else {
        return;
    };
    // A subshell forks until the kernel refuses (ash gives up on a failed
    // fork, so it must not be pid 1); pid 1 survives to be inspected.
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "(while :; do sleep 60 & done) 2>/dev/null; exec sleep 60",
    ]);
    b.edit(|c| c["linux"]["resources"]["pids"] = json!({"limit": 8}));
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    let events = cgroup_file(&t.id, "pids.events").unwrap();
    let refused = || -> u64 {
        let text = fs::read_to_string(&events).unwrap();
        text.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert!(
        common::eventually(10, || refused() > 0),
        "no fork was ever refused"
    );
    assert_eq!(t.status(&t.id), "running");
    let ps: Vec<i32> =
        serde_json::from_str(&t.husk(&["ps", "--format", "json", &t.id]).success().stdout).unwrap();
    assert!(
        (2..=8).contains(&ps.len()),
        "{} processes under pids.max 8",
        ps.len()
    );
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn run_in_the_foreground_relays_the_terminal() {
    let Some(t) = TestEnv::new("tty") else { return };
    let mut b = t.bundle(&["sh", "-c", "tty; stty size; read x; echo got:$x"]);
    b.edit(|c| {
        c["process"]["terminal"] = json!(true);
    });
    let pty = nix::pty::openpty(
        Some(&nix::pty::Winsize {
            ws_row: 33,
            ws_col: 77,
            ws_xpixel: 0,
            ws_ypixel: 0,
        }),
        None,
    )
    .unwrap();
    let slave = fs::File::from(pty.slave);
    let mut c = t.cmd(&["run", "--bundle", b.path_str(), &t.id]);
    c.stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    drop(slave);
    let master = pty.master;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // Reads from the master until `want` shows up or the deadline passes.
    let read_until = |seen: &mut String, want: &str| {
        let mut buf = [0u8; 1024];
        while !seen.contains(want) && std::time::Instant::now() < deadline {
            let mut fds = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(&master),
                nix::poll::PollFlags::POLLIN,
            )];
            if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u8)).unwrap_or(0) == 0 {
                continue;
            }
            match nix::unistd::read(&master, &mut buf) {
                Ok(n) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => break,
            }
        }
    };
    let mut seen = String::new();
    read_until(&mut seen, "33 77");
    nix::unistd::write(&master, b"hi\r").unwrap();
    read_until(&mut seen, "got:hi");
    if !seen.contains("got:hi") {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen}");
    assert!(seen.contains("/dev/pts/0"), "{seen}");
    assert!(seen.contains("33 77"), "window size not passed on: {seen}");
    assert!(seen.contains("got:hi"), "{seen}");
    t.assert_clean(&t.id);
}
