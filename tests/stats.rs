//! `husk stats` and `husk ps` with real containers: cpu of a busy loop,
//! memory a container holds, loopback traffic, pids against ps, JSON and
//! table output, every running container when no id is given, the stream
//! ending when its container goes, and ps's table of processes.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{eventually, TestEnv};
use serde_json::{json, Value};

fn start(t: &TestEnv, id: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> i32 {
    let mut b = t.bundle_named(id, args);
    b.edit(edit);
    t.husk(&["run", "-d", "--bundle", b.path_str(), id])
        .success();
    t.state(id)["pid"].as_i64().unwrap() as i32
}

fn finish(t: &TestEnv, id: &str) {
    t.husk(&["delete", "--force", id]).success();
    t.assert_clean(id);
}

/// `stats --no-stream --format json` of one container: its one object.
fn sample(t: &TestEnv, id: &str) -> Value {
    let r = t
        .husk(&["stats", "--no-stream", "--format", "json", id])
        .success();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stdout);
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["id"], id);
    v
}

fn ps_pids(t: &TestEnv, id: &str) -> Vec<i32> {
    let r = t.husk(&["ps", "--format", "json", id]).success();
    serde_json::from_str(&r.stdout).expect("ps --format json is an array of pids")
}

fn add_caps(c: &mut Value, caps: &[&str]) {
    for set in ["bounding", "effective", "permitted"] {
        let list = c["process"]["capabilities"][set].as_array_mut().unwrap();
        for cap in caps {
            list.push(json!(cap));
        }
    }
}

#[test]
fn a_busy_container_shows_its_cpu_use() {
    let Some(t) = TestEnv::new("stats-cpu") else {
        return;
    };
    // Two busy loops with a high cpu weight: more than 50% of a cpu even
    // on a loaded host (the container's cgroup competes with every task of
    // its parent cgroup as one task of this weight).
    start(
        &t,
        &t.id,
        &["sh", "-c", "while :; do :; done & while :; do :; done"],
        |c| c["linux"]["resources"]["cpu"] = json!({"shares": 10240}),
    );
    std::thread::sleep(Duration::from_millis(300));
    let v = sample(&t, &t.id);
    let cpu = v["cpuPercent"].as_f64().unwrap();
    assert!(cpu > 50.0 && cpu < 250.0, "cpu {cpu}%: {v}");
    assert!(v["cpuTimeNs"].as_u64().unwrap() > 100_000_000, "{v}");
    // The table says the same, in docker's columns.
    let r = t.husk(&["stats", "--no-stream", &t.id]).success();
    let mut lines = r.stdout.lines();
    let header = lines.next().unwrap();
    for col in [
        "ID",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM PEAK",
        "NET RX / TX",
        "BLOCK R / W",
        "PIDS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with(&t.id), "{row}");
    let pct: f64 = row
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.strip_suffix('%'))
        .unwrap()
        .parse()
        .unwrap();
    assert!(pct > 50.0, "{row}");
    assert_eq!(lines.next(), None);
    finish(&t, &t.id);
}

#[test]
fn memory_the_container_holds_is_counted_against_its_limit() {
    let Some(t) = TestEnv::new("stats-mem") else {
        return;
    };
    // 20 MiB in a tmpfs file are charged to the container's memory cgroup.
    let pid = start(
        &t,
        &t.id,
        &[
            "sh",
            "-c",
            "head -c 20971520 /dev/zero > /dev/shm/blob; sleep 600",
        ],
        |c| c["linux"]["resources"]["memory"] = json!({"limit": 256 << 20}),
    );
    assert!(
        eventually(10, || fs::metadata(format!(
            "/proc/{pid}/root/dev/shm/blob"
        ))
        .is_ok_and(|m| m.len() == 20 << 20)),
        "the container never wrote its 20 MiB"
    );
    let v = sample(&t, &t.id);
    let m = &v["memory"];
    let usage = m["usage"].as_u64().unwrap();
    assert!((20 << 20..200 << 20).contains(&usage), "usage {usage}: {v}");
    assert_eq!(m["limit"].as_u64().unwrap(), 256 << 20, "{v}");
    let peak = m["peak"].as_u64().unwrap();
    assert!(peak == 0 || peak >= usage, "peak {peak} < usage {usage}");
    // The table prints it in MiB against the limit.
    let r = t.husk(&["stats", "--no-stream", &t.id]).success();
    let row = r.stdout.lines().nth(1).unwrap();
    assert!(row.contains("MiB / 256MiB"), "{row}");
    // Block io is counted where the kernel accounts it (not on every
    // host): here only its shape is certain.
    for k in ["readBytes", "writeBytes", "readOps", "writeOps"] {
        assert!(v["io"][k].is_u64(), "{k}: {v}");
    }
    finish(&t, &t.id);
}

#[test]
fn loopback_traffic_shows_in_the_network_counters() {
    let Some(t) = TestEnv::new("stats-net") else {
        return;
    };
    // husk leaves lo down in a new network namespace (runc brings it up):
    // the container does it itself.
    start(
        &t,
        &t.id,
        &["sh", "-c", "ip link set lo up && exec sleep 600"],
        |c| add_caps(c, &["CAP_NET_ADMIN", "CAP_NET_RAW"]),
    );
    assert!(eventually(10, || t
        .husk(&["exec", &t.id, "cat", "/sys/class/net/lo/operstate"])
        .stdout
        .trim()
        != "down"));
    let before = sample(&t, &t.id)["network"].clone();
    t.husk(&["exec", &t.id, "ping", "-c", "3", "-i", "0.2", "127.0.0.1"])
        .success();
    let after = sample(&t, &t.id)["network"].clone();
    let grew = |k: &str| after[k].as_u64().unwrap() - before[k].as_u64().unwrap();
    // Three requests and three replies, each both sent and received on lo.
    assert!(grew("rxPackets") >= 6, "{before} → {after}");
    assert!(grew("txPackets") >= 6, "{before} → {after}");
    assert!(grew("rxBytes") >= 6 * 84, "{before} → {after}");
    assert!(grew("txBytes") >= 6 * 84, "{before} → {after}");
    finish(&t, &t.id);
}

#[test]
fn pids_match_ps_and_ps_lists_users_and_commands() {
    let Some(t) = TestEnv::new("stats-pids") else {
        return;
    };
    let init = start(
        &t,
        &t.id,
        &["sh", "-c", "sleep 600 & sleep 601 & while :; do :; done"],
        |c| c["linux"]["resources"]["pids"] = json!({"limit": 20}),
    );
    assert!(eventually(10, || ps_pids(&t, &t.id).len() == 3));
    let pids = ps_pids(&t, &t.id);
    assert!(pids.contains(&init));
    let v = sample(&t, &t.id);
    assert_eq!(v["pids"].as_u64().unwrap(), pids.len() as u64, "{v}");

    for verb in ["ps", "top"] {
        let r = t.husk(&[verb, &t.id]).success();
        let lines: Vec<&str> = r.stdout.lines().collect();
        let header: Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(header, ["PID", "USER", "%CPU", "RSS", "COMMAND"]);
        assert_eq!(lines.len(), 4, "{}", r.stdout);
        let rows: Vec<Vec<&str>> = lines[1..]
            .iter()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let mut listed: Vec<i32> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
        listed.sort();
        let mut want = pids.clone();
        want.sort();
        assert_eq!(listed, want);
        assert!(rows.iter().all(|r| r[1] == "root"), "{}", r.stdout);
        let cmd = |pid: i32| {
            let row = rows.iter().find(|r| r[0] == pid.to_string()).unwrap();
            (
                row[2].parse::<f64>().unwrap(),
                row[3].to_string(),
                row[4..].join(" "),
            )
        };
        let (cpu, rss, command) = cmd(init);
        assert_eq!(command, "sh -c sleep 600 & sleep 601 & while :; do :; done");
        assert!(cpu > 10.0, "the busy init shows its cpu: {cpu}");
        assert!(rss.ends_with("KiB") || rss.ends_with("MiB"), "{rss}");
        let mut sleeps: Vec<String> = pids
            .iter()
            .filter(|p| **p != init)
            .map(|p| cmd(*p).2)
            .collect();
        sleeps.sort();
        assert_eq!(sleeps, ["sleep 600", "sleep 601"]);
    }
    finish(&t, &t.id);
}

#[test]
fn ps_names_users_from_the_containers_passwd() {
    let Some(t) = TestEnv::new("ps-user") else {
        return;
    };
    let mut b = t.bundle(&["sleep", "600"]);
    b.edit(|c| c["process"]["user"] = json!({"uid": 4321, "gid": 4321}));
    // A name only the container knows, in a file the host lacks.
    fs::write(
        b.rootfs().join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\nhusk-only-user:x:4321:4321::/:/bin/sh\n",
    )
    .unwrap();
    t.husk(&["run", "-d", "--bundle", b.path_str(), &t.id])
        .success();
    let r = t.husk(&["ps", &t.id]).success();
    let row = r.stdout.lines().nth(1).unwrap();
    assert_eq!(
        row.split_whitespace().nth(1),
        Some("husk-only-user"),
        "{row}"
    );
    // A passwd that is a symlink out of the container is not followed to
    // a host file.
    let host = t.dir.join("host-passwd");
    fs::write(&host, "escaped:x:4321:4321::/:/bin/sh\n").unwrap();
    fs::remove_file(b.rootfs().join("etc/passwd")).unwrap();
    std::os::unix::fs::symlink(&host, b.rootfs().join("etc/passwd")).unwrap();
    let r = t.husk(&["ps", &t.id]).success();
    let row = r.stdout.lines().nth(1).unwrap();
    assert_eq!(row.split_whitespace().nth(1), Some("4321"), "{row}");
    finish(&t, &t.id);
}

#[test]
fn stats_without_ids_shows_every_running_container() {
    let Some(t) = TestEnv::new("stats-all") else {
        return;
    };
    let (a, b, stopped) = (t.new_id("a"), t.new_id("b"), t.new_id("stopped"));
    start(&t, &a, &["sleep", "600"], |_| {});
    start(&t, &b, &["sleep", "600"], |_| {});
    let s = t.bundle_named(&stopped, &["true"]);
    t.husk(&["run", "--keep", "--bundle", s.path_str(), &stopped])
        .success();
    let r = t
        .husk(&["stats", "--no-stream", "--format", "json"])
        .success();
    let mut ids: Vec<String> = r
        .stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["pids"], 1, "{v}");
            v["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, [a.clone(), b.clone()]);
    // Named: a stopped container is refused, a missing one too.
    t.husk(&["stats", "--no-stream", &stopped])
        .fails_with("not running");
    t.husk(&["stats", "--no-stream", "no-such-container"])
        .fails_with("does not exist");
    t.husk(&["stats", "--no-stream", "--interval", "0s", &a])
        .fails_with("more than zero");
    for id in [&a, &b, &stopped] {
        finish(&t, id);
    }
}

#[test]
fn streamed_stats_follow_the_interval_and_end_with_the_container() {
    let Some(t) = TestEnv::new("stats-stream") else {
        return;
    };
    start(&t, &t.id, &["sleep", "600"], |_| {});
    let mut child = t
        .cmd(&["stats", "--format", "json", "--interval", "200ms", &t.id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let t0 = Instant::now();
    for _ in 0..3 {
        let l = lines.next().unwrap().unwrap();
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["id"], t.id.as_str());
        assert_eq!(v["pids"], 1);
    }
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(550) && took < Duration::from_secs(5),
        "three samples 200 ms apart took {took:?}"
    );
    t.husk(&["delete", "--force", &t.id]).success();
    // The stream ends by itself once its container is gone.
    let ended = eventually(5, || child.try_wait().unwrap().is_some());
    if !ended {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    assert!(ended, "stats kept running after the container was deleted");
    assert!(status.success(), "{status:?}");
    t.assert_clean(&t.id);
}
