//! Resources at run time: update (flags and JSON, zeros keep values),
//! events (stats and OOM), pause/resume of a busy container, and kill and
//! delete --force of a paused one.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{cgroup_dirs_named, eventually, TestEnv};
use serde_json::json;

fn cgroup_value(id: &str, files: &[&str]) -> String {
    for d in cgroup_dirs_named(id) {
        for f in files {
            if let Ok(v) = fs::read_to_string(d.join(f)) {
                return v.trim().to_string();
            }
        }
    }
    panic!("none of {files:?} in the cgroup of {id}");
}

fn memory_limit(id: &str) -> String {
    cgroup_value(id, &["memory.limit_in_bytes", "memory.max"])
}

#[test]
fn update_changes_limits_live_and_records_them() {
    let Some(t) = TestEnv::new("update") else {
        return;
    };
    let mut b = t.bundle(&["sleep", "600"]);
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 256 << 20}));
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    assert_eq!(memory_limit(&t.id), (256u64 << 20).to_string());

    // Raise, with runc's flags.
    t.husk(&[
        "update",
        "--memory",
        "512m",
        "--memory-swap",
        "1g",
        "--cpu-shares",
        "300",
        "--pids-limit",
        "77",
        &t.id,
    ])
    .success();
    assert_eq!(memory_limit(&t.id), (512u64 << 20).to_string());
    assert_eq!(cgroup_value(&t.id, &["pids.max"]), "77");
    // Lower, with containerd's JSON on stdin: its zeros leave the rest alone.
    let mut c = t.cmd(&["update", "--resources", "-", &t.id]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory":{"limit":67108864,"reservation":0,"swap":134217728,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},"blockIO":{"weight":0}}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(memory_limit(&t.id), (64u64 << 20).to_string());
    assert_eq!(cgroup_value(&t.id, &["pids.max"]), "77");
    let shares = cgroup_value(&t.id, &["cpu.shares", "cpu.weight"]);
    assert!(
        shares == "300" || shares == "12",
        "cpu weight reset by a zero: {shares}"
    );
    // The record holds what is in force.
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(t.root.join(&t.id).join("state.json")).unwrap()).unwrap();
    assert_eq!(rec["resources"]["memory"]["limit"], 64 << 20);
    assert_eq!(rec["resources"]["pids"]["limit"], 77);
    assert_eq!(rec["resources"]["cpu"]["shares"], 300);
    // A process still runs under the new limit.
    t.husk(&["exec", &t.id, "true"]).success();
    t.husk(&["update", "--memory", "lots", &t.id])
        .fails_with("invalid size");
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn update_of_a_stopped_container_is_refused() {
    let Some(t) = TestEnv::new("update-stopped") else {
        return;
    };
    let b = t.bundle(&["true"]);
    t.husk(&["run", "--keep", "--bundle", b.path_str(), &t.id])
        .success();
    t.husk(&["update", "--memory", "64m", &t.id])
        .fails_with("container not running");
    t.husk(&["delete", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn events_stats_prints_runcs_shape() {
    let Some(t) = TestEnv::new("events-stats") else {
        return;
    };
    let mut b = t.bundle(&["sh", "-c", "while :; do :; done"]);
    b.edit(|c| c["linux"]["resources"]["pids"] = json!({"limit": 30}));
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    std::thread::sleep(Duration::from_millis(300));
    let r = t.husk(&["events", "--stats", &t.id]).success();
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], t.id.as_str());
    let d = &v["data"];
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{d}");
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{d}");
    assert_eq!(d["pids"]["current"], 1);
    assert_eq!(d["pids"]["limit"], 30);
    let ifaces: Vec<&str> = d["network_interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(ifaces, ["lo"]);
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn a_container_starts_and_runs_under_a_512kib_memory_limit() {
    // runc fails at 4 MiB: what the init does before exec is charged to the
    // container's cgroup, so it must fit in a few pages.
    let Some(t) = TestEnv::new("mem512k") else {
        return;
    };
    let mut b = t.bundle(&["sh", "-c", "echo started"]);
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 512 << 10}));
    t.husk(&["create", "--bundle", b.path_str(), &t.id])
        .success();
    assert_eq!(memory_limit(&t.id), (512u64 << 10).to_string());
    t.husk(&["start", &t.id]).success();
    // wait prints the exit code of the container's process.
    let w = t.husk(&["wait", &t.id]).success();
    assert_eq!(w.stdout.trim(), "0");
    t.husk(&["delete", &t.id]).success();
}

#[test]
fn an_8mib_memory_limit_oom_kills_a_hog_and_events_reports_it() {
    let Some(t) = TestEnv::new("oom") else { return };
    // Waits for the watcher, then eats memory until killed.
    let mut b = t.bundle(&[
        "sh",
        "-c",
        "while [ ! -e /go ]; do sleep 0.05; done; tail /dev/zero",
    ]);
    b.edit(|c| c["linux"]["resources"]["memory"] = json!({"limit": 8 << 20, "swap": 8 << 20}));
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    let mut ev = t.cmd(&["events", "--interval", "1s", &t.id]);
    ev.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = ev.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The first stats line says the watcher is up.
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "stats");
    fs::write(b.rootfs().join("go"), "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut oom = false;
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["type"] == "oom" {
            assert_eq!(v["id"], t.id.as_str());
            oom = true;
            break;
        }
        assert!(Instant::now() < deadline, "no oom event");
    }
    assert!(oom, "events ended without an oom event");
    let _ = child.kill();
    let _ = child.wait();
    assert!(eventually(10, || t.status(&t.id) == "stopped"));
    t.husk(&["delete", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn pause_freezes_a_busy_container_and_resume_thaws_it() {
    let Some(t) = TestEnv::new("pause") else {
        return;
    };
    let b = t.bundle(&[
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; done",
    ]);
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    let count = || {
        fs::read_to_string(b.rootfs().join("tmp/count"))
            .unwrap_or_default()
            .trim()
            .parse::<u64>()
            .unwrap_or(0)
    };
    assert!(eventually(5, || count() > 100));
    t.husk(&["pause", &t.id]).success();
    assert_eq!(t.status(&t.id), "paused");
    // v1 (and hybrid: the v1 freezer is the one in use) or v2.
    let v1 = cgroup_dirs_named(&t.id)
        .iter()
        .any(|d| d.join("freezer.state").exists());
    if v1 {
        assert_eq!(cgroup_value(&t.id, &["freezer.state"]), "FROZEN");
    } else {
        assert_eq!(cgroup_value(&t.id, &["cgroup.freeze"]), "1");
    }
    let frozen = count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(), frozen, "a paused container went on running");
    t.husk(&["pause", &t.id]).fails_with("already paused");
    t.husk(&["start", &t.id]).fails_with("paused");
    t.husk(&["resume", &t.id]).success();
    assert_eq!(t.status(&t.id), "running");
    assert!(
        eventually(5, || count() > frozen + 100),
        "resume did not thaw"
    );
    t.husk(&["resume", &t.id]).fails_with("not paused");
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn kill_and_delete_force_work_on_a_paused_container() {
    let Some(t) = TestEnv::new("pause-kill") else {
        return;
    };
    let b = t.bundle(&["sleep", "600"]);
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    t.husk(&["pause", &t.id]).success();
    t.husk(&["kill", &t.id, "KILL"]).success();
    assert!(
        eventually(10, || t.status(&t.id) == "stopped"),
        "a paused container survived SIGKILL"
    );
    t.husk(&["delete", &t.id]).success();
    t.assert_clean(&t.id);

    let id2 = t.new_id("b");
    let b2 = t.bundle_named(&id2, &["sleep", "600"]);
    t.husk(&["run", "-d", "--bundle", b2.path_str(), &id2])
        .success();
    t.husk(&["pause", &id2]).success();
    t.husk(&["delete", &id2]).fails_with("paused");
    t.husk(&["delete", "--force", &id2]).success();
    t.assert_clean(&id2);
}

#[test]
fn a_cpu_quota_throttles_a_busy_loop() {
    let Some(t) = TestEnv::new("quota") else {
        return;
    };
    let mut b = t.bundle(&["sh", "-c", "while :; do :; done"]);
    // 10 ms of cpu per 100 ms period.
    b.edit(|c| c["linux"]["resources"]["cpu"] = json!({"quota": 10000, "period": 100000}));
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    let usage = || -> u64 {
        let r = t.husk(&["events", "--stats", &t.id]).success();
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        v["data"]["cpu"]["usage"]["total"].as_u64().unwrap_or(0)
    };
    let before = usage();
    std::thread::sleep(Duration::from_secs(1));
    let used = usage() - before;
    // Unthrottled, the loop would use ~1 s of cpu in 1 s; the quota allows 0.1 s.
    assert!(
        used < 300_000_000,
        "used {used} ns of cpu in 1 s under a 10% quota"
    );
    let r = t.husk(&["events", "--stats", &t.id]).success();
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(
        v["data"]["cpu"]["throttling"]["throttledPeriods"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{}",
        v["data"]["cpu"]
    );
    t.husk(&["delete", "--force", &t.id]).success();
    t.assert_clean(&t.id);
}

#[test]
fn a_device_rule_denies_access_to_a_node_the_container_made() {
    let Some(t) = TestEnv::new("devices") else {
        return;
    };
    // /dev/kmsg (c 1:11) is always built in, may be opened for writing
    // without any capability, and is not in the default allow list. The
    // probe opens it and writes nothing (no host log line).
    let probe = "mknod /tmp/kmsg c 1 11 && echo made; (: > /tmp/kmsg) 2>/tmp/err && echo opened || cat /tmp/err; echo ok > /dev/null && echo null-ok";
    let with = |rules: serde_json::Value, id: &str| {
        let mut b = t.bundle_named(id, &["sh", "-c", probe]);
        b.edit(|c| {
            for set in ["bounding", "effective", "permitted"] {
                c["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("CAP_MKNOD"));
            }
            c["linux"]["resources"]["devices"] = rules;
        });
        let r = t.husk(&["run", "--bundle", b.path_str(), id]).success();
        t.assert_clean(id);
        r.stdout
    };
    // The control: with every device allowed, the open works.
    let allowed = with(
        json!([{"allow": true, "access": "rwm"}]),
        &t.new_id("allow"),
    );
    assert_eq!(allowed, "made\nopened\nnull-ok\n");
    // Deny all (then husk's default list): mknod is allowed, the open is not, /dev/null still is.
    let denied = with(
        json!([{"allow": false, "access": "rwm"}]),
        &t.new_id("deny"),
    );
    let lines: Vec<&str> = denied.lines().collect();
    assert_eq!(lines[0], "made", "{denied}");
    assert!(lines[1].contains("Operation not permitted"), "{denied}");
    assert_eq!(lines[2], "null-ok");
    // A specific deny after an allow-all wins for that device only (rules apply in order).
    let specific = with(
        json!([{"allow": true, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 11, "access": "w"}]),
        &t.new_id("specific"),
    );
    assert!(
        specific
            .lines()
            .nth(1)
            .unwrap()
            .contains("Operation not permitted"),
        "{specific}"
    );
}
