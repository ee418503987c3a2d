//! Checkpoint and restore through CRIU (Debian's criu package): a busybox
//! container counting in a shell variable, written to /cnt in its rootfs,
//! is dumped and restored, and must count on from where it was (a fresh
//! start would count from 1 again).
//!
//! Needs criu on $PATH: without it the tests print why and pass as
//! skipped, unless HUSK_REQUIRE_CRIU=1. Where CRIU itself cannot dump on
//! this kernel (Debian's criu 3.17 on 6.x kernels whose vDSO it cannot
//! parse: "Unexpected rt vDSO area bounds"), a test says so and skips the
//! CRIU part, but still checks husk's side of the failure (a clear error,
//! the container left running); with HUSK_REQUIRE_CRIU=1 (the VM lane)
//! that is a failure too. Any other failure is a failure.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Bundle, Run, TestEnv};
use serde_json::json;

/// Counts in a shell variable (process memory, which only a restore
/// brings back) and writes each value to /cnt.
const COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i > /cnt; sleep 0.1; done";

/// CRIU failures that are CRIU's and this kernel's, not husk's: the
/// message in CRIU's log, and why.
const KNOWN_CRIU_FAILURES: &[(&str, &str)] = &[(
    "Unexpected rt vDSO area bounds",
    "criu cannot parse this kernel's vDSO (Debian's criu 3.17 predates its layout)",
)];

fn require_criu() -> bool {
    std::env::var("HUSK_REQUIRE_CRIU").as_deref() == Ok("1")
}

/// Is criu installed? Prints the reason when not; a failure with HUSK_REQUIRE_CRIU=1.
fn have_criu() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("criu").is_file()));
    if !found {
        assert!(
            !require_criu(),
            "HUSK_REQUIRE_CRIU=1 but criu is not on $PATH"
        );
        eprintln!("skipped: criu is not installed (apt-get install criu)");
    }
    found
}

/// When a husk command failed because CRIU cannot work here, the reason
/// (printed as the skip); None for any other failure, which the caller
/// must treat as one.
fn known_criu_failure(r: &Run) -> Option<&'static str> {
    if r.code == 0 || !r.stderr.contains("criu ") || !r.stderr.contains(" failed (") {
        return None;
    }
    let (needle, why) = KNOWN_CRIU_FAILURES
        .iter()
        .find(|(needle, _)| r.stderr.contains(needle))?;
    assert!(
        !require_criu(),
        "HUSK_REQUIRE_CRIU=1 but CRIU fails here ({needle}): {}",
        r.stderr
    );
    eprintln!("skipped: {why}: {}", r.stderr.trim());
    Some(why)
}

/// A running container counting in `bundle`'s rootfs.
fn counting(t: &TestEnv, id: &str) -> Bundle {
    let b = t.bundle_named(id, &["sh", "-c", COUNTER]);
    t.husk(&["run", "-d", "--bundle", b.path_str(), id])
        .success();
    wait_count(&b, 3);
    b
}

fn count(b: &Bundle) -> Option<u64> {
    fs::read_to_string(b.rootfs().join("cnt"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Waits (up to 30 s: CRIU under emulation is slow) until the counter
/// has passed `n`, and returns it.
#[track_caller]
fn wait_count(b: &Bundle, n: u64) -> u64 {
    let t = Instant::now();
    loop {
        if let Some(c) = count(b).filter(|&c| c > n) {
            return c;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the counter in {} did not pass {n} (at {:?})",
            b.id,
            count(b)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The counter once it has stood still for a while (its processes are
/// gone). None when the dump caught the shell between truncating /cnt and
/// writing it.
fn settled_count(b: &Bundle) -> Option<u64> {
    let mut last = count(b);
    loop {
        std::thread::sleep(Duration::from_millis(400));
        let now = count(b);
        if now == last {
            return now;
        }
        last = now;
    }
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn checkpoint_then_restore_counts_on_from_where_it_stopped() {
    let Some(t) = TestEnv::new("ckpt-counter") else {
        return;
    };
    if !have_criu() {
        return;
    }
    let id = t.id.clone();
    let b = counting(&t, &id);
    let images = t.dir.join("images");
    let work = t.dir.join("work");
    let before = wait_count(&b, 0);
    let r = t.husk(&[
        "checkpoint",
        "--image-path",
        arg(&images),
        "--work-path",
        arg(&work),
        &id,
    ]);
    if r.code != 0 {
        if known_criu_failure(&r).is_some() {
            // husk's side: the error names CRIU's log, the container runs on.
            assert!(r.stderr.contains("dump.log"), "{}", r.stderr);
            assert_eq!(t.status(&id), "running");
            let c = count(&b).unwrap();
            wait_count(&b, c);
            t.husk(&["delete", "--force", &id]).success();
            t.assert_clean(&id);
            return;
        }
        panic!("checkpoint failed: {}", r.stderr);
    }
    // As runc: the dump ends the processes and the container is gone.
    let stopped_at = settled_count(&b).unwrap_or(before);
    t.assert_clean(&id);
    t.husk(&["state", &id]).fails_with("does not exist");
    assert!(work.join("dump.log").exists());
    assert!(images.join("inventory.img").exists());

    let pid_file = t.dir.join("restored.pid");
    t.husk(&[
        "restore",
        "--image-path",
        arg(&images),
        "--work-path",
        arg(&work),
        "--bundle",
        b.path_str(),
        "--detach",
        "--pid-file",
        arg(&pid_file),
        &id,
    ])
    .success();
    let st = t.state(&id);
    assert_eq!(st["status"], "running", "{st}");
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    // In the container's cgroup, under a shim (the init is its child).
    let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&id), "restored init not in its cgroup: {cg}");
    assert!(!common::shims_of(&id).is_empty(), "no shim for {id}");
    // Counting on, never from the start again.
    let first = wait_count(&b, 0);
    assert!(
        first >= stopped_at,
        "{first} < {stopped_at}: the counter restarted"
    );
    let later = wait_count(&b, stopped_at + 3);
    eprintln!("checkpointed at {stopped_at}; restored counting from {first}, now {later}");
    // The network namespace CRIU recreated empty has its loopback up
    // again (the action script), and exec finds the restored namespaces.
    let flags = t
        .husk(&["exec", &id, "cat", "/sys/class/net/lo/flags"])
        .success();
    let flags = u32::from_str_radix(flags.stdout.trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "lo is down in the restored container");
    // state, kill and delete work on the restored container.
    t.husk(&["kill", &id, "KILL"]).success();
    t.wait_status(&id, "stopped");
    t.husk(&["delete", &id]).success();
    t.assert_clean(&id);
}

#[test]
fn pre_dump_and_leave_running_keep_the_container_and_restore_a_copy() {
    let Some(t) = TestEnv::new("ckpt-copy") else {
        return;
    };
    if !have_criu() {
        return;
    }
    let id = t.id.clone();
    let b = counting(&t, &id);
    let pre = t.dir.join("images/pre");
    let r = t.husk(&["checkpoint", "--pre-dump", "--image-path", arg(&pre), &id]);
    if r.code != 0 && known_criu_failure(&r).is_some() {
        assert_eq!(t.status(&id), "running");
        t.husk(&["delete", "--force", &id]).success();
        t.assert_clean(&id);
        return;
    }
    assert_eq!(r.code, 0, "pre-dump failed: {}", r.stderr);
    assert_eq!(t.status(&id), "running");
    let final_dir = t.dir.join("images/final");
    let dumped = wait_count(&b, 0);
    t.husk(&[
        "checkpoint",
        "--leave-running",
        "--parent-path",
        "../pre",
        "--image-path",
        arg(&final_dir),
        &id,
    ])
    .success();
    let after = wait_count(&b, 0);
    assert_eq!(t.status(&id), "running");
    wait_count(&b, after + 2);

    // The copy, from another bundle with its own rootfs and cgroup, beside
    // the original, in the foreground (husk waits for it).
    let id2 = t.new_id("copy");
    let b2 = t.bundle_named(&id2, &["sh", "-c", COUNTER]);
    let mut restore = t
        .cmd(&[
            "restore",
            "--image-path",
            arg(&final_dir),
            "--bundle",
            b2.path_str(),
            &id2,
        ])
        .stdout(Stdio::null())
        .stderr(fs::File::create(t.dir.join("restore.err")).unwrap())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while t.husk(&["state", &id2]).code != 0 || t.status(&id2) != "running" {
        if let Some(st) = restore.try_wait().unwrap() {
            panic!(
                "restore exited with {st}: {}",
                fs::read_to_string(t.dir.join("restore.err")).unwrap_or_default()
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "restore did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The copy counts on from the moment of the dump, in its own rootfs.
    let first = wait_count(&b2, 0);
    assert!(
        first >= dumped,
        "copy started at {first}, dumped at {dumped}"
    );
    eprintln!("dumped (leaving it running) at {dumped}..{after}; the copy counts from {first}");
    wait_count(&b2, first + 2);
    let pid2 = t.state(&id2)["pid"].as_i64().unwrap();
    let cg = fs::read_to_string(format!("/proc/{pid2}/cgroup")).unwrap();
    assert!(cg.contains(&id2), "copy not in its own cgroup: {cg}");
    // The original is untouched.
    let c = count(&b).unwrap();
    wait_count(&b, c);

    // Killing the copy ends the foreground restore with 128+9, and it
    // deletes the container as `run` does.
    t.husk(&["kill", &id2, "KILL"]).success();
    let st = restore.wait().unwrap();
    assert_eq!(st.code(), Some(137));
    t.assert_clean(&id2);
    t.husk(&["delete", "--force", &id]).success();
    t.assert_clean(&id);
}

#[test]
fn checkpoint_refuses_what_is_not_running() {
    let Some(t) = TestEnv::new("ckpt-states") else {
        return;
    };
    let images = t.dir.join("images");
    t.husk(&["checkpoint", "--image-path", arg(&images), "nosuch"])
        .fails_with("does not exist");
    let b = t.bundle(&["sleep", "60"]);
    t.husk(&["create", "--bundle", b.path_str(), &t.id])
        .success();
    t.husk(&["checkpoint", "--image-path", arg(&images), &t.id])
        .fails_with("is created: cannot checkpoint: it has not started");
    t.husk(&["start", &t.id]).success();
    t.husk(&["kill", &t.id, "KILL"]).success();
    t.wait_status(&t.id, "stopped");
    t.husk(&["checkpoint", "--image-path", arg(&images), &t.id])
        .fails_with("cannot checkpoint: it is not running");
    assert!(
        !images.exists(),
        "a refused checkpoint made its image directory"
    );
    t.husk(&["delete", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn checkpoint_without_criu_says_how_to_get_it() {
    let Some(t) = TestEnv::new("ckpt-nocriu") else {
        return;
    };
    let b = t.bundle(&["sleep", "60"]);
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    let out = t
        .cmd(&["checkpoint", "--image-path", arg(&t.dir.join("i")), &t.id])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("criu is not installed") && err.contains("apt-get install criu"),
        "{err}"
    );
    assert_eq!(t.status(&t.id), "running");
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn restore_without_a_checkpoint_is_refused_before_anything_is_made() {
    let Some(t) = TestEnv::new("ckpt-noimage") else {
        return;
    };
    let b = t.bundle(&["sleep", "60"]);
    let missing = t.dir.join("no-such-images");
    t.husk(&[
        "restore",
        "-d",
        "--image-path",
        arg(&missing),
        "--bundle",
        b.path_str(),
        &t.id,
    ])
    .fails_with("no checkpoint in");
    let empty = t.dir.join("empty-images");
    fs::create_dir_all(&empty).unwrap();
    t.husk(&[
        "restore",
        "-d",
        "--image-path",
        arg(&empty),
        "--bundle",
        b.path_str(),
        &t.id,
    ])
    .fails_with("inventory.img is missing");
    t.assert_clean(&t.id);
}

/// An image directory CRIU will reject: husk's files, an empty inventory.
fn bogus_image(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("inventory.img"), b"").unwrap();
    fs::write(
        dir.join("descriptors.json"),
        br#"["/dev/null","pipe:[1]","pipe:[2]"]"#,
    )
    .unwrap();
    dir.to_path_buf()
}

#[test]
fn a_failed_restore_quotes_criu_and_leaves_nothing_behind() {
    let Some(t) = TestEnv::new("ckpt-badimage") else {
        return;
    };
    if !have_criu() {
        return;
    }
    let b = t.bundle(&["sleep", "60"]);
    let images = bogus_image(&t.dir.join("bogus"));
    for detach in [true, false] {
        let mut args = vec!["restore", "--image-path", arg(&images)];
        if detach {
            args.push("--detach");
        }
        args.extend(["--bundle", b.path_str(), &t.id]);
        t.husk(&args)
            .fails_with("criu restore failed")
            .fails_with("restore.log");
        t.assert_clean(&t.id);
        let left: Vec<_> = fs::read_dir(&t.root).unwrap().flatten().collect();
        assert!(left.is_empty(), "--root holds {left:?}");
        // The rootfs CRIU was given is the bundle's, untouched.
        assert!(b.rootfs().join("bin/busybox").exists());
    }
}

#[test]
fn restore_refuses_a_terminal_it_cannot_hand_over() {
    let Some(t) = TestEnv::new("ckpt-tty") else {
        return;
    };
    if !have_criu() {
        return;
    }
    let mut b = t.bundle(&["sh"]);
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let images = bogus_image(&t.dir.join("bogus"));
    t.husk(&[
        "restore",
        "-d",
        "--image-path",
        arg(&images),
        "--bundle",
        b.path_str(),
        &t.id,
    ])
    .fails_with("cannot restore a container with process.terminal");
    t.assert_clean(&t.id);
}
