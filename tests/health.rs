//! Health probes against real containers, called the way the shim calls
//! them: a command through `husk exec` (success, failure, timeout), a TCP
//! connect and an HTTP GET in the container's network namespace (busybox
//! httpd), and a file inside the container's root (which a symlink cannot
//! leave).

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{eventually, TestEnv};
use husk::shim::health::{probe, ProbeResult};
use husk::shim::policy::Probe;

/// Starts a detached container running `args`, with `prepare` run on its
/// rootfs first; returns the init pid.
fn start(t: &TestEnv, args: &[&str], prepare: impl FnOnce(&Path)) -> i32 {
    start_with(t, args, prepare, |_| {})
}

fn start_with(
    t: &TestEnv,
    args: &[&str],
    prepare: impl FnOnce(&Path),
    edit: impl FnOnce(&mut serde_json::Value),
) -> i32 {
    let mut b = t.bundle(args);
    b.edit(edit);
    prepare(&b.rootfs());
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    t.state(&t.id)["pid"].as_i64().unwrap() as i32
}

fn check(t: &TestEnv, pid: i32, p: Probe, timeout: Duration) -> ProbeResult {
    probe(&common::husk_bin(), &t.root, &t.id, pid, &p, timeout)
}

fn finish(t: &TestEnv) {
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

/// A container that first brings its loopback up (husk, unlike runc,
/// leaves `lo` down in a new network namespace), then runs `cmd`.
fn with_lo(t: &TestEnv, cmd: &str, prepare: impl FnOnce(&Path)) -> i32 {
    let script = format!("ip link set lo up && exec {cmd}");
    start_with(t, &["sh", "-c", &script], prepare, |c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push("CAP_NET_ADMIN".into());
        }
    })
}

/// A container serving /www on port 8080 with busybox httpd.
fn web(t: &TestEnv) -> i32 {
    let pid = with_lo(t, "httpd -f -p 8080 -h /www", |r| {
        fs::create_dir_all(r.join("www")).unwrap();
        fs::write(r.join("www/index.html"), "hello\n").unwrap();
    });
    // httpd listens a moment after it starts.
    assert!(
        eventually(10, || listening(pid, 8080)),
        "httpd never listened"
    );
    pid
}

/// Does a socket listen on `port` in the network namespace of `pid`?
fn listening(pid: i32, port: u16) -> bool {
    ["tcp", "tcp6"].iter().any(|f| {
        fs::read_to_string(format!("/proc/{pid}/net/{f}"))
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && f[1].ends_with(&format!(":{port:04X}")) && f[3] == "0A"
            })
    })
}

#[test]
fn cmd_probe_passes_on_exit_0_and_fails_with_the_output_otherwise() {
    let Some(t) = TestEnv::new("health-cmd") else {
        return;
    };
    let pid = start(&t, &["sleep", "600"], |r| {
        fs::write(r.join("marker"), "").unwrap();
    });
    let r = check(
        &t,
        pid,
        Probe::Cmd("test -e /marker && echo fine".into()),
        Duration::from_secs(10),
    );
    assert!(r.ok, "{r:?}");
    assert_eq!(r.output, "fine\n");
    assert!(
        husk::timestamp::parse(&r.started).is_some(),
        "{}",
        r.started
    );

    let r = check(
        &t,
        pid,
        Probe::Cmd("echo out; echo err >&2; exit 3".into()),
        Duration::from_secs(10),
    );
    assert!(!r.ok);
    assert!(
        r.output.contains("out\n") && r.output.contains("err\n"),
        "{r:?}"
    );

    // Only the tail of a long output is kept.
    let r = check(
        &t,
        pid,
        Probe::Cmd("yes | head -c 5000; echo END".into()),
        Duration::from_secs(10),
    );
    assert!(r.ok, "{r:?}");
    assert!(
        r.output.len() <= 1024 && r.output.ends_with("END\n"),
        "{}",
        r.output.len()
    );

    // A command that is not there fails (sh says 127).
    let r = check(
        &t,
        pid,
        Probe::Cmd("no-such-command".into()),
        Duration::from_secs(10),
    );
    assert!(!r.ok);
    assert!(r.output.contains("not found"), "{r:?}");
    finish(&t);
}

#[test]
fn cmd_probe_times_out_and_kills_what_it_started() {
    let Some(t) = TestEnv::new("health-cmd-timeout") else {
        return;
    };
    let pid = start(&t, &["sleep", "600"], |_| {});
    let t0 = Instant::now();
    let r = check(
        &t,
        pid,
        Probe::Cmd("echo started; sleep 30".into()),
        // Long enough for `husk exec` to print under emulation (the v2 lane).
        Duration::from_secs(3),
    );
    let took = t0.elapsed();
    assert!(!r.ok);
    assert!(
        took >= Duration::from_millis(2950) && took < Duration::from_secs(8),
        "took {took:?}"
    );
    assert!(
        r.duration_ms >= 2950 && r.duration_ms < 8000,
        "{}",
        r.duration_ms
    );
    assert!(r.output.contains("timed out"), "{r:?}");
    assert!(
        r.output.contains("started"),
        "output before the timeout is kept: {r:?}"
    );
    // The probe's shell and its sleep are gone from the container: only the
    // init is left.
    let pids = || {
        let r = t.husk(&["ps", "--format", "json", &t.id]).success();
        serde_json::from_str::<Vec<i32>>(&r.stdout).unwrap()
    };
    assert!(
        eventually(5, || pids() == [pid]),
        "left in the container: {:?}",
        pids()
    );
    finish(&t);
}

#[test]
fn tcp_probe_connects_in_the_containers_network_namespace() {
    let Some(t) = TestEnv::new("health-tcp") else {
        return;
    };
    let own_netns = fs::read_link("/proc/thread-self/ns/net").unwrap();
    let pid = web(&t);
    let r = check(&t, pid, Probe::Tcp(8080), Duration::from_secs(2));
    assert!(r.ok, "{r:?}");
    assert_eq!(r.output, "connected to 127.0.0.1:8080");
    // Nothing listens on 8081 in the container.
    let r = check(&t, pid, Probe::Tcp(8081), Duration::from_secs(2));
    assert!(!r.ok);
    assert!(r.output.contains("refused"), "{r:?}");
    assert!(
        r.duration_ms < 1000,
        "a refusal is quick: {}",
        r.duration_ms
    );
    // A port open on the host's loopback is not the container's.
    let host = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = host.local_addr().unwrap().port();
    let r = check(&t, pid, Probe::Tcp(port), Duration::from_secs(2));
    assert!(!r.ok, "the probe reached the host's port {port}: {r:?}");
    // The caller stayed in its own network namespace.
    assert_eq!(
        fs::read_link("/proc/thread-self/ns/net").unwrap(),
        own_netns
    );
    finish(&t);
}

#[test]
fn http_probe_wants_a_2xx_or_3xx_status() {
    let Some(t) = TestEnv::new("health-http") else {
        return;
    };
    let pid = web(&t);
    let r = check(
        &t,
        pid,
        Probe::Http("http://127.0.0.1:8080/index.html".into()),
        Duration::from_secs(2),
    );
    assert!(r.ok, "{r:?}");
    assert!(
        r.output.starts_with("HTTP/1.") && r.output.contains(" 200"),
        "{r:?}"
    );
    let r = check(
        &t,
        pid,
        Probe::Http("http://localhost:8080/".into()),
        Duration::from_secs(2),
    );
    assert!(r.ok, "{r:?}");
    let r = check(
        &t,
        pid,
        Probe::Http("http://127.0.0.1:8080/missing".into()),
        Duration::from_secs(2),
    );
    assert!(!r.ok);
    assert!(r.output.contains(" 404"), "{r:?}");
    let r = check(
        &t,
        pid,
        Probe::Http("http://127.0.0.1:8081/".into()),
        Duration::from_secs(2),
    );
    assert!(!r.ok);
    assert!(r.output.contains("refused"), "{r:?}");
    let r = check(
        &t,
        pid,
        Probe::Http("http://example.com/".into()),
        Duration::from_secs(2),
    );
    assert!(!r.ok);
    assert!(r.output.contains("IPv4 address or localhost"), "{r:?}");
    finish(&t);
}

#[test]
fn http_probe_times_out_on_a_server_that_never_answers() {
    let Some(t) = TestEnv::new("health-http-silent") else {
        return;
    };
    // nc accepts the connection and hands it to a sleep that says nothing.
    let pid = with_lo(&t, "nc -l -p 8080 -e sleep 600", |_| {});
    assert!(eventually(10, || listening(pid, 8080)), "nc never listened");
    let t0 = Instant::now();
    let r = check(
        &t,
        pid,
        Probe::Http("http://127.0.0.1:8080/".into()),
        Duration::from_secs(1),
    );
    let took = t0.elapsed();
    assert!(!r.ok);
    assert!(r.output.contains("timed out"), "{r:?}");
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "took {took:?}"
    );
    finish(&t);
}

#[test]
fn file_probe_looks_inside_the_container_and_not_through_symlinks_out() {
    let Some(t) = TestEnv::new("health-file") else {
        return;
    };
    // A host file that a symlink in the image points at.
    let host_file = t.dir.join("host-only");
    fs::write(&host_file, "secret").unwrap();
    let pid = start(&t, &["sleep", "600"], |r| {
        fs::write(r.join("ready"), "").unwrap();
        symlink("/ready", r.join("link-in")).unwrap();
        symlink(&host_file, r.join("escape-abs")).unwrap();
        let ups = "../".repeat(host_file.components().count() + 3);
        symlink(
            format!("{ups}{}", host_file.display()),
            r.join("escape-rel"),
        )
        .unwrap();
    });
    let file = |p: &str| check(&t, pid, Probe::File(p.into()), Duration::from_secs(1));
    let r = file("/ready");
    assert!(r.ok, "{r:?}");
    assert!(file("/link-in").ok, "a symlink inside the root counts");
    let r = file("/absent");
    assert!(!r.ok);
    assert!(r.output.contains("No such file"), "{r:?}");
    assert!(host_file.exists());
    assert!(
        !file("/escape-abs").ok,
        "an absolute symlink led to the host"
    );
    assert!(
        !file("/escape-rel").ok,
        "a relative symlink led to the host"
    );
    assert!(!file(host_file.to_str().unwrap()).ok, "a host path counted");
    // The container's own mounts are what the probe sees (/dev is its tmpfs).
    assert!(file("/dev/shm").ok);
    assert!(!t
        .dir
        .join(format!("bundle-{}/rootfs/dev/shm", t.id))
        .exists());
    // Files made at run time count.
    assert!(!file("/late").ok);
    t.husk(&["exec", &t.id, "touch", "/late"]).success();
    assert!(file("/late").ok);

    // Once the container is gone, every probe fails and says why.
    t.husk(&["kill", &t.id, "KILL"]).success();
    assert!(eventually(10, || !file("/ready").ok));
    let r = file("/ready");
    assert!(r.output.contains("gone"), "{r:?}");
    finish(&t);
}
