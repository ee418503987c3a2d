//! The bad-input catalogue: one test per way an engine or a person can get
//! a bundle, an id, a flag or a command wrong. Each asserts a clear error
//! that names the problem, a non-zero exit, and that nothing is left
//! behind: no state dir under --root, no cgroup dir, no mount, no process.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Bundle, Run, TestEnv};
use serde_json::json;

/// `create` of bundle `b` under its own id.
fn create(t: &TestEnv, b: &Bundle) -> Run {
    t.husk(&["create", "--bundle", b.path_str(), &b.id])
}

/// After a failed create: `assert_clean`, and the --root holds nothing at
/// all (no container dir, no half-written temp file).
#[track_caller]
fn assert_create_left_nothing(t: &TestEnv, id: &str) {
    t.assert_clean(id);
    let entries: Vec<_> = fs::read_dir(&t.root)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        entries.is_empty(),
        "--root holds {entries:?} after a failed create"
    );
}

/// Creates a bundle from `edit`, expects create to fail with every one of
/// `needles` on stderr, and checks that nothing is left.
#[track_caller]
fn create_fails(
    name: &str,
    args: &[&str],
    edit: impl FnOnce(&mut serde_json::Value),
    needles: &[&str],
) {
    let Some(t) = TestEnv::new(name) else { return };
    let mut b = t.bundle(args);
    b.edit(edit);
    let mut r = create(&t, &b);
    for n in needles {
        r = r.fails_with(n);
    }
    assert_create_left_nothing(&t, &t.id);
}

/// A created and started `sleep 60` container.
fn running(t: &TestEnv) -> Bundle {
    let b = t.bundle(&["sleep", "60"]);
    create(t, &b).success();
    t.husk(&["start", &b.id]).success();
    assert_eq!(t.status(&b.id), "running");
    b
}

/// Is `pid` a live process (a zombie counts as exited: this VM's pid 1
/// does not reap)?
fn alive(pid: i64) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("");
    state != "Z" && state != "X"
}

// --- the bundle --------------------------------------------------------

#[test]
fn create_fails_when_the_bundle_dir_is_missing() {
    let Some(t) = TestEnv::new("nobundle") else {
        return;
    };
    let missing = t.dir.join("no-such-bundle");
    let r = t.husk(&["create", "--bundle", missing.to_str().unwrap(), &t.id]);
    let r = r.fails_with("does not exist or is not a directory");
    assert!(r.stderr.contains(missing.to_str().unwrap()), "{}", r.stderr);
    assert_create_left_nothing(&t, &t.id);
}

#[test]
fn create_fails_when_config_json_is_missing() {
    let Some(t) = TestEnv::new("noconfig") else {
        return;
    };
    let b = t.bundle(&["true"]);
    fs::remove_file(b.dir.join("config.json")).unwrap();
    create(&t, &b)
        .fails_with("config.json")
        .fails_with("No such file or directory");
    assert_create_left_nothing(&t, &t.id);
}

#[test]
fn create_fails_on_a_config_json_syntax_error() {
    let Some(t) = TestEnv::new("badjson") else {
        return;
    };
    let b = t.bundle(&["true"]);
    fs::write(
        b.dir.join("config.json"),
        "{\"ociVersion\": \"1.0.2\",\n  \"process\": {,}}",
    )
    .unwrap();
    create(&t, &b)
        .fails_with("config.json")
        .fails_with("line 2 column");
    assert_create_left_nothing(&t, &t.id);
}

#[test]
fn create_refuses_an_unknown_oci_version() {
    create_fails(
        "ociversion",
        &["true"],
        |c| c["ociVersion"] = json!("2.0.0"),
        &["unsupported ociVersion \"2.0.0\"", "1.0.0 to 1."],
    );
}

#[test]
fn create_fails_when_the_rootfs_is_missing() {
    let Some(t) = TestEnv::new("norootfs") else {
        return;
    };
    let b = t.bundle(&["true"]);
    fs::remove_dir_all(b.rootfs()).unwrap();
    create(&t, &b)
        .fails_with("root.path")
        .fails_with("does not exist");
    assert_create_left_nothing(&t, &t.id);
}

// --- the process -------------------------------------------------------

#[test]
fn create_refuses_absent_process_args() {
    create_fails(
        "noargs",
        &["true"],
        |c| {
            c["process"].as_object_mut().unwrap().remove("args");
        },
        &["process.args: must name the program to run"],
    );
}

#[test]
fn create_refuses_empty_process_args() {
    create_fails(
        "emptyargs",
        &["true"],
        |c| c["process"]["args"] = json!([]),
        &["process.args: must name the program to run"],
    );
}

#[test]
fn create_refuses_a_relative_cwd() {
    create_fails(
        "relcwd",
        &["true"],
        |c| c["process"]["cwd"] = json!("tmp"),
        &["process.cwd \"tmp\": must be an absolute path"],
    );
}

#[test]
fn create_fails_when_the_executable_is_not_in_path() {
    // Found out in the init, after the clone and the cgroup: the undo matters.
    create_fails(
        "noexe",
        &["no-such-prog-husk"],
        |_| {},
        &["\"no-such-prog-husk\": executable file not found"],
    );
}

#[test]
fn create_refuses_an_unknown_capability() {
    create_fails(
        "badcap",
        &["true"],
        |c| c["process"]["capabilities"]["bounding"] = json!(["CAP_KILL", "CAP_NOPE"]),
        &["process.capabilities.bounding", "CAP_NOPE"],
    );
}

// --- ids ---------------------------------------------------------------

/// Create under `id` must fail naming the id problem; the bundle's cgroup
/// (named after the env's own id) and the root must stay empty.
fn invalid_id_is_refused(name: &str, id: &str, needle: &str) {
    let Some(t) = TestEnv::new(name) else { return };
    let b = t.bundle(&["true"]);
    let r = t.husk(&["create", "--bundle", b.path_str(), id]);
    r.fails_with("invalid container id").fails_with(needle);
    assert_create_left_nothing(&t, &t.id);
    // Nothing was made next to the root either ("../x" would land there).
    let outside: Vec<_> = fs::read_dir(&t.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && !n.starts_with("bundle-") && n != "state")
        .collect();
    assert!(
        outside.is_empty(),
        "create made {outside:?} beside the root"
    );
}

#[test]
fn create_refuses_an_id_that_climbs_out_of_the_root() {
    invalid_id_is_refused("id-dotdot", "../x", "must start with a letter or digit");
}

#[test]
fn create_refuses_an_id_with_a_slash() {
    invalid_id_is_refused("id-slash", "a/b", "only letters, digits");
}

#[test]
fn create_refuses_an_empty_id() {
    invalid_id_is_refused("id-empty", "", "it is empty");
}

#[test]
fn create_refuses_a_2kib_id() {
    invalid_id_is_refused("id-long", &"a".repeat(2048), "longer than 1024 bytes");
}

#[test]
fn create_refuses_a_hidden_id() {
    invalid_id_is_refused("id-hidden", ".hidden", "must start with a letter or digit");
}

// --- lifecycle misuse --------------------------------------------------

#[test]
fn duplicate_create_leaves_the_first_container_running() {
    let Some(t) = TestEnv::new("dup") else { return };
    let b = running(&t);
    let before = t.state(&b.id);
    let pid = before["pid"].as_i64().unwrap();
    // A different bundle under the same id: it must not touch the first.
    let other = Bundle::new(&t.dir.join("bundle-other"), &t.id, &["true"]);
    create(&t, &other).fails_with(&format!("container with id {:?} already exists", t.id));
    let after = t.state(&b.id);
    assert_eq!(after["status"], "running");
    assert_eq!(after["pid"], pid);
    assert_eq!(after["bundle"], b.path_str());
    assert!(alive(pid), "the first container's init {pid} died");
    let ps = t.husk(&["ps", "--format", "json", &b.id]).success();
    assert_eq!(
        ps.stdout.trim(),
        format!("[{pid}]"),
        "cgroup of the first changed"
    );
    t.husk(&["delete", "--force", &b.id]).success();
    t.assert_clean(&b.id);
}

#[test]
fn a_global_option_after_the_command_is_refused_by_name() {
    let Some(t) = TestEnv::new("lateglobal") else {
        return;
    };
    let b = running(&t);
    // As runc: global options go before the command. Not taken for an
    // argument of `delete`, and nothing is deleted.
    let other_root = t.dir.join("other-root");
    let r = t
        .husk(&[
            "delete",
            "--force",
            "--root",
            other_root.to_str().unwrap(),
            &b.id,
        ])
        .fails_with("--root is a global option: it goes before the command");
    assert_eq!(r.code, 2);
    t.husk(&["state", "--shim=never", &b.id])
        .fails_with("--shim is a global option");
    assert_eq!(t.status(&b.id), "running");
    // An option no command knows stays clap's error.
    t.husk(&["state", "--no-such-option", &b.id])
        .fails_with("unexpected argument '--no-such-option'");
    t.husk(&["delete", "--force", &b.id]).success();
    t.assert_clean(&b.id);
}

#[test]
fn start_twice_is_refused() {
    let Some(t) = TestEnv::new("start2") else {
        return;
    };
    let b = running(&t);
    let pid = t.state(&b.id)["pid"].as_i64().unwrap();
    t.husk(&["start", &b.id])
        .fails_with("is running: cannot start");
    assert_eq!(t.status(&b.id), "running");
    assert!(alive(pid));
    t.husk(&["delete", "--force", &b.id]).success();
    t.assert_clean(&b.id);
}

#[test]
fn start_of_a_stopped_container_is_refused() {
    let Some(t) = TestEnv::new("startstopped") else {
        return;
    };
    let b = running(&t);
    t.husk(&["kill", &b.id, "KILL"]).success();
    t.wait_status(&b.id, "stopped");
    t.husk(&["start", &b.id])
        .fails_with("cannot start")
        .fails_with("has stopped");
    assert_eq!(t.status(&b.id), "stopped");
    t.husk(&["delete", &b.id]).success();
    t.assert_clean(&b.id);
}

#[test]
fn delete_of_a_running_container_without_force_is_refused() {
    let Some(t) = TestEnv::new("delrunning") else {
        return;
    };
    let b = running(&t);
    let pid = t.state(&b.id)["pid"].as_i64().unwrap();
    t.husk(&["delete", &b.id])
        .fails_with("is running: cannot delete")
        .fails_with("--force");
    assert_eq!(t.status(&b.id), "running");
    assert!(alive(pid), "delete without --force killed {pid}");
    assert!(t.root.join(&b.id).is_dir());
    t.husk(&["delete", "--force", &b.id]).success();
    t.assert_clean(&b.id);
}

#[test]
fn kill_of_a_missing_container_says_it_does_not_exist() {
    let Some(t) = TestEnv::new("killmissing") else {
        return;
    };
    let r = t
        .husk(&["kill", &t.id, "KILL"])
        .fails_with("container does not exist");
    assert_eq!(r.code, 1);
    t.assert_clean(&t.id);
}

#[test]
fn bad_signal_names_are_refused_and_the_container_keeps_running() {
    let Some(t) = TestEnv::new("badsig") else {
        return;
    };
    let b = running(&t);
    let pid = t.state(&b.id)["pid"].as_i64().unwrap();
    for sig in ["NOPE", "SIGFOO", "0", "65", "9x", "RTMIN+99", ""] {
        t.husk(&["kill", &b.id, sig])
            .fails_with(&format!("invalid signal {sig:?}"));
    }
    // A negative number only gets past the flag parser after "--".
    t.husk(&["kill", &b.id, "--", "-9"])
        .fails_with("invalid signal \"-9\"");
    assert_eq!(t.status(&b.id), "running");
    assert!(alive(pid));
    t.husk(&["delete", "--force", &b.id]).success();
    t.assert_clean(&b.id);
}

// --- security settings -------------------------------------------------

#[test]
fn create_refuses_a_seccomp_rule_for_an_unknown_syscall() {
    create_fails(
        "seccomp",
        &["true"],
        |c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]
            })
        },
        &[
            "linux.seccomp.syscalls[0].names",
            "\"no_such_syscall\": unknown syscall",
        ],
    );
}

#[test]
fn create_refuses_a_sysctl_that_is_not_namespaced() {
    create_fails(
        "sysctl",
        &["true"],
        |c| c["linux"]["sysctl"] = json!({"vm.swappiness": "10"}),
        &["linux.sysctl \"vm.swappiness\": is not namespaced"],
    );
}

// --- hooks -------------------------------------------------------------

#[test]
fn failing_prestart_hook_fails_create_and_kills_the_init() {
    let Some(t) = TestEnv::new("hookfail") else {
        return;
    };
    // The hook keeps the state it was given (with the init's pid), then fails.
    let hook = t.dir.join("failing-hook.sh");
    let seen = t.dir.join("hook-state.json");
    fs::write(
        &hook,
        format!("#!/bin/sh\ncat > {}\nexit 1\n", seen.display()),
    )
    .unwrap();
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    let mut b = t.bundle(&["sleep", "60"]);
    b.edit(|c| c["hooks"] = json!({"prestart": [{"path": hook.to_str().unwrap()}]}));
    create(&t, &b)
        .fails_with(&format!("prestart hook {:?}", hook.to_str().unwrap()))
        .fails_with("exited with status 1");
    assert_create_left_nothing(&t, &t.id);
    let state: serde_json::Value = serde_json::from_slice(&fs::read(&seen).unwrap()).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    assert!(pid > 0, "{state}");
    assert!(!alive(pid), "the init {pid} outlived the failed create");
}

/// The cgroup's limits are written while the init sets itself up: a limit
/// the kernel refuses fails create, and the init, already cloned, goes too.
#[test]
fn a_limit_the_kernel_refuses_fails_create_and_kills_the_init() {
    let Some(t) = TestEnv::new("cpusbad") else {
        return;
    };
    let mut b = t.bundle(&["sleep", "60"]);
    // A CPU this machine lacks.
    b.edit(|c| c["linux"]["resources"]["cpu"] = json!({"cpus": "1000"}));
    create(&t, &b).fails_with("cpuset");
    assert_create_left_nothing(&t, &t.id);
    // The init was a fork of that create: its command line names the id.
    let mine = std::process::id().to_string();
    let left: Vec<String> = fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|p| p.chars().all(|c| c.is_ascii_digit()) && *p != mine)
        .filter(|p| {
            let cmd = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("create")
                && cmd.split('\0').any(|a| a == t.id)
                && alive(p.parse().unwrap())
        })
        .collect();
    assert!(
        left.is_empty(),
        "the init outlived the failed create: {left:?}"
    );
}

#[test]
fn create_refuses_a_hook_with_a_relative_path() {
    create_fails(
        "hookrel",
        &["true"],
        |c| c["hooks"] = json!({"prestart": [{"path": "bin/true"}]}),
        &["hooks.prestart[0].path \"bin/true\": must be an absolute path"],
    );
}

// --- the command line --------------------------------------------------

/// husk with another --root than the env's; output through files, like
/// `TestEnv::husk` (a container that wrongly got created would hold pipes).
fn husk_with_root(t: &TestEnv, root: &Path, args: &[&str]) -> Run {
    let out = t.dir.join(".out-root");
    let err = t.dir.join(".err-root");
    let status = std::process::Command::new(common::husk_bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: fs::read_to_string(&out).unwrap_or_default(),
        stderr: fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// Create with --root `root` must fail naming it, and make nothing.
fn unwritable_root_is_refused(name: &str, root: impl FnOnce(&Path) -> std::path::PathBuf) {
    let Some(t) = TestEnv::new(name) else { return };
    let root = root(&t.dir);
    let b = t.bundle(&["true"]);
    let r = husk_with_root(&t, &root, &["create", "--bundle", b.path_str(), &t.id]);
    r.fails_with("cannot create state root")
        .fails_with(&format!("{:?}", root.to_str().unwrap()));
    assert!(!root.exists(), "{} was made", root.display());
    assert_create_left_nothing(&t, &t.id);
}

#[test]
fn create_refuses_a_root_under_proc() {
    unwritable_root_is_refused("rootproc", |_| "/proc/husk-nope".into());
}

#[test]
fn create_refuses_a_root_under_a_regular_file() {
    unwritable_root_is_refused("rootfile", |dir| {
        let f = dir.join("a-file");
        fs::write(&f, "").unwrap();
        f.join("state")
    });
}

#[test]
fn create_refuses_a_terminal_without_a_console_socket() {
    create_fails(
        "tty-nosock",
        &["true"],
        |c| c["process"]["terminal"] = json!(true),
        &["process.terminal is true but no --console-socket"],
    );
}

#[test]
fn create_refuses_a_console_socket_without_a_terminal() {
    let Some(t) = TestEnv::new("sock-notty") else {
        return;
    };
    // A real listener, so the refusal cannot be a connection error.
    let sock = t.dir.join("console.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let b = t.bundle(&["true"]);
    t.husk(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "--bundle",
        b.path_str(),
        &t.id,
    ])
    .fails_with("--console-socket was given but process.terminal is false");
    assert_create_left_nothing(&t, &t.id);
}

/// `husk features | grep -q x` closes the pipe early: husk ends quietly
/// with 141 (as a process killed by SIGPIPE reports in a shell), no panic.
#[test]
fn a_closed_stdout_ends_husk_quietly() {
    let (r, w) = nix::unistd::pipe().unwrap();
    drop(r);
    let out = std::process::Command::new(common::husk_bin())
        .arg("features")
        .stdout(std::process::Stdio::from(w))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}
