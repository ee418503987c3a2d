//! The guides in docs/ show only what is tested. A guide's shell blocks
//! are fenced as ```` ```sh tested ```` (a test here runs them as they are)
//! or ```` ```sh untested ```` (the guide says why); its config blocks
//! (toml, yaml, json, make) are parts of files in docs/examples/, which the
//! tests here run or parse.
//!
//! - makefile.md: both blocks run with the husk under test on PATH.
//! - podman.md, docker.md, containerd.md: tests/guide-engines.sh runs the
//!   blocks against a private podman, dockerd or containerd configured with
//!   the guide's own file.
//! - kubernetes.md: no Kubernetes here; containerd parses the CRI config,
//!   the YAML and CRI-O files are parsed and cross-checked.
//! - install.md: its blocks are ```` ```sh staged ````: they install into
//!   /, so scripts/test-packaging.sh (a CI step) runs each into a staging
//!   directory instead; the check here is that it still quotes each one.
//!
//! These tests need the repository's docs/ and tools from the host (make,
//! jq, podman, docker.io, containerd, umoci, python3-yaml: scripts/deps.sh
//! installs them), so they do not run in the QEMU lane, which has neither.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use common::TestEnv;

const GUIDES: [&str; 6] = [
    "docs/install.md",
    "docs/podman.md",
    "docs/docker.md",
    "docs/containerd.md",
    "docs/kubernetes.md",
    "docs/makefile.md",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// False (with the reason printed) where these tests cannot run: in the
/// QEMU lane. A missing tool elsewhere is a failure under
/// HUSK_REQUIRE_ROOT=1 (CI) and a skip otherwise.
fn can_run(tools: &[&str]) -> bool {
    if std::env::var_os("HUSK_VM").is_some() {
        eprintln!("skipped: the QEMU lane carries neither docs/ nor the engines");
        return false;
    }
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have_tool(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("missing {missing:?}: run scripts/deps.sh");
    if std::env::var("HUSK_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    false
}

/// A program on PATH, an absolute path, or `python3-yaml` (Debian's
/// /usr/bin/python3 able to import yaml).
fn have_tool(t: &str) -> bool {
    if t == "python3-yaml" {
        return Command::new("/usr/bin/python3")
            .args(["-c", "import yaml"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    }
    if Path::new(t).is_absolute() {
        return Path::new(t).exists();
    }
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
}

/// Runs a command with its output in a file (containers started by `husk
/// run -d` could hold pipes open); panics with the output when it fails.
#[track_caller]
fn run_ok(dir: &Path, what: &str, cmd: &mut Command) -> String {
    let out = dir.join(format!(".{}.out", what.replace(['/', ' '], "-")));
    let file = fs::File::create(&out).unwrap();
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = fs::read_to_string(&out).unwrap_or_default();
    assert!(status.success(), "{what} failed ({status}):\n{text}");
    text
}

/// The fenced blocks of a Markdown text: (info string, body).
fn fenced_blocks(md: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in md.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_string(), String::new())),
            (Some(_), Some("")) => blocks.push(open.take().expect("a block is open")),
            (Some((_, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a fenced block is not closed");
    blocks
}

/// The bodies of a guide's ```` ```sh tested ```` blocks.
fn tested_blocks(guide: &str) -> Vec<String> {
    fenced_blocks(&read(guide))
        .into_iter()
        .filter(|(info, _)| info == "sh tested")
        .map(|(_, body)| body)
        .collect()
}

/// A directory holding `husk`: the husk under test with the env's --root,
/// so that a guide's `husk …` lines run as they are shown.
fn husk_on_path(t: &TestEnv) -> String {
    let bin = t.dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    let wrapper = bin.join("husk");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' --root '{}' \"$@\"\n",
            common::husk_bin().display(),
            t.root.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    format!("{}:{path}", bin.display())
}

/// The events `husk events` prints, parsed.
fn events(t: &TestEnv) -> Vec<serde_json::Value> {
    t.husk(&["events"])
        .success()
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("events prints JSON lines"))
        .collect()
}

/// Asserts that `db` became healthy before `app` was created.
#[track_caller]
fn assert_healthy_before_created(t: &TestEnv, db: &str, app: &str) {
    let events = events(t);
    let at = |id: &str, kind: &str, status: Option<&str>| {
        events
            .iter()
            .position(|e| {
                e["id"] == id
                    && e["type"] == kind
                    && status.is_none_or(|s| e["status"].as_str() == Some(s))
            })
            .unwrap_or_else(|| panic!("no {kind} event of {id}: {events:#?}"))
    };
    let healthy = at(db, "health_status", Some("healthy"));
    let created = at(app, "created", None);
    assert!(
        healthy < created,
        "the app was created before the db was healthy: {events:#?}"
    );
    assert!(events[healthy]["time"].as_str() <= events[created]["time"].as_str());
}

/// As pid 1, sh gets SIGTERM only because it traps it: stop is then quick.
const DB_ARGS: [&str; 3] = [
    "sh",
    "-c",
    "trap 'exit 0' TERM; sleep 2; nc -ll -p 5432 -e echo ok & wait",
];
const APP_ARGS: [&str; 3] = [
    "sh",
    "-c",
    "trap 'exit 0' TERM; echo app started; sleep 3600 & wait",
];

/// Deletes containers of an env that were started under ids of a guide's
/// choosing (TestEnv deletes only its own unique ids).
struct DeleteOnDrop<'a>(&'a TestEnv, &'a [&'a str]);

impl Drop for DeleteOnDrop<'_> {
    fn drop(&mut self) {
        for id in self.1 {
            let _ = self.0.husk(&["delete", "--force", id]);
        }
    }
}

#[test]
fn makefile_guide_chain_starts_the_app_once_the_db_is_healthy() {
    let Some(t) = TestEnv::new("guide-chain") else {
        return;
    };
    if !can_run(&["sh"]) {
        return;
    }
    let blocks = tested_blocks("docs/makefile.md");
    assert_eq!(
        blocks.len(),
        2,
        "makefile.md: the chain, then the make lines"
    );
    let chain = &blocks[0];
    assert!(chain.contains("husk wait --condition healthy"), "{chain}");

    // The bundles `db` and `app` the chain names, in its working directory;
    // their cgroups carry unique names.
    let work = t.dir.join("chain");
    let (db_cg, app_cg) = (t.new_id("db"), t.new_id("app"));
    common::Bundle::new(&work.join("db"), &db_cg, &DB_ARGS);
    common::Bundle::new(&work.join("app"), &app_cg, &APP_ARGS);
    let _cleanup = DeleteOnDrop(&t, &["app", "db"]);

    run_ok(
        &t.dir,
        "the chain",
        Command::new("sh")
            .args(["-ec", chain])
            .current_dir(&work)
            .env("PATH", husk_on_path(&t)),
    );
    assert_eq!(t.status("db"), "running");
    assert_eq!(t.status("app"), "running");
    assert_eq!(t.state("db")["health"], "healthy", "{}", t.state("db"));
    assert_healthy_before_created(&t, "db", "app");

    for id in ["app", "db"] {
        t.husk(&["delete", "--force", id]).success();
        assert!(!t.root.join(id).exists(), "state of {id} left");
    }
    for cg in [&app_cg, &db_cg] {
        assert!(common::cgroup_dirs_named(cg).is_empty(), "cgroup {cg} left");
        assert!(
            common::processes_in_cgroup(cg).is_empty(),
            "processes of {cg} left"
        );
    }
}

#[test]
fn makefile_example_starts_the_app_once_the_db_is_healthy() {
    let Some(t) = TestEnv::new("guide-make") else {
        return;
    };
    if !can_run(&["make", "jq"]) {
        return;
    }
    let block = &tested_blocks("docs/makefile.md")[1];
    let lines: Vec<&str> = block.lines().collect();
    assert_eq!(lines.len(), 4, "up, status, down, clean: {block}");
    assert!(lines[0].starts_with("make -C docs/examples "), "{block}");

    let (db, app) = (t.new_id("db"), t.new_id("app"));
    let work = t.dir.join("work");
    let path = husk_on_path(&t);
    let make = |line: &str| {
        let mut c = Command::new("sh");
        c.args(["-ec", line])
            .current_dir(repo())
            .env("PATH", &path)
            .env("WORK", &work)
            .env("DB", &db)
            .env("APP", &app)
            .env("BUSYBOX", common::bundle::busybox());
        c
    };

    run_ok(&t.dir, "make up", &mut make(lines[0]));
    assert_eq!(t.status(&db), "running");
    assert_eq!(t.status(&app), "running");
    assert_healthy_before_created(&t, &db, &app);

    // Up again is a no-op: both exist and the db is healthy.
    run_ok(&t.dir, "make up (again)", &mut make(lines[0]));
    let list = run_ok(&t.dir, "make status", &mut make(lines[1]));
    assert!(list.contains(&db) && list.contains(&app), "{list}");

    run_ok(&t.dir, "make down", &mut make(lines[2]));
    t.assert_clean(&app);
    t.assert_clean(&db);
    assert!(work.join("db/config.json").exists());
    run_ok(&t.dir, "make clean", &mut make(lines[3]));
    assert!(!work.exists(), "make clean left {}", work.display());
}

/// The engines share /run/containerd and the host's cgroup tree: one at a
/// time.
static ENGINES: Mutex<()> = Mutex::new(());

/// Runs a guide's tested blocks against a private instance of `engine`
/// (tests/guide-engines.sh says what differs from the guide, and why).
fn engine_guide_runs(engine: &str, tools: &[&str]) {
    let Some(t) = TestEnv::new(&format!("guide-{engine}")) else {
        return;
    };
    if !can_run(tools) {
        return;
    }
    let guide = format!("docs/{engine}.md");
    assert!(!tested_blocks(&guide).is_empty(), "{guide}: nothing to run");
    let _one = ENGINES.lock().unwrap_or_else(|e| e.into_inner());
    let out = run_ok(
        &t.dir,
        engine,
        Command::new("bash")
            .arg(repo().join("tests/guide-engines.sh"))
            .arg(engine)
            .arg(common::husk_bin())
            .arg(repo().join(&guide)),
    );
    eprintln!("{out}");
    assert!(out.contains("hello from husk"), "{out}");
}

#[test]
fn podman_guide_runs_containers_with_husk() {
    engine_guide_runs("podman", &["podman", "conmon"]);
}

#[test]
fn docker_guide_runs_containers_with_husk() {
    engine_guide_runs(
        "docker",
        &["dockerd", "/usr/bin/docker", "containerd", "ctr"],
    );
}

#[test]
fn containerd_guide_runs_containers_with_husk() {
    engine_guide_runs("containerd", &["containerd", "ctr", "umoci"]);
}

#[test]
fn kubernetes_containerd_config_registers_husk_with_binary_name() {
    if !can_run(&["containerd"]) {
        return;
    }
    let dir = tempdir("k8s-containerd");
    // `config dump` merges the file with containerd's defaults and prints
    // the result; it fails on a file it cannot parse.
    let dump = run_ok(
        &dir,
        "containerd config dump",
        Command::new("containerd")
            .arg("--config")
            .arg(repo().join("docs/examples/containerd/config.toml"))
            .args(["config", "dump"]),
    );
    let _ = fs::remove_dir_all(&dir);
    let header = r#"[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.husk]"#;
    // The husk runtime's table and its subtables, up to the next other table.
    let husk: Vec<&str> = dump
        .lines()
        .skip_while(|l| l.trim() != header)
        .take_while(|l| !l.trim().starts_with('[') || l.contains("runtimes.husk"))
        .collect();
    assert!(!husk.is_empty(), "no husk runtime in the dump:\n{dump}");
    let husk = husk.join("\n");
    for want in [
        r#"runtime_type = "io.containerd.runc.v2""#,
        r#"BinaryName = "/usr/bin/husk""#,
        "SystemdCgroup = false",
    ] {
        assert!(husk.contains(want), "no {want} in:\n{husk}");
    }
}

/// The YAML documents parse, the pod asks for the RuntimeClass whose
/// handler is the one the CRI configurations register, and everything
/// says cgroupfs.
#[test]
fn kubernetes_manifests_and_crio_config_are_well_formed() {
    if !can_run(&["python3-yaml"]) {
        return;
    }
    let dir = tempdir("k8s-yaml");
    let script = r#"
import sys, tomllib, yaml
k8s = sys.argv[1]
docs = {}
for name in ("runtimeclass.yaml", "pod.yaml", "kubelet-config.yaml"):
    with open(f"{k8s}/{name}") as f:
        (doc,) = list(yaml.safe_load_all(f))
    docs[doc["kind"]] = doc
rc, pod, kubelet = docs["RuntimeClass"], docs["Pod"], docs["KubeletConfiguration"]
assert rc["apiVersion"] == "node.k8s.io/v1", rc
assert rc["handler"] == "husk", rc
assert pod["apiVersion"] == "v1", pod
assert pod["spec"]["runtimeClassName"] == rc["metadata"]["name"], pod
assert pod["spec"]["containers"][0]["image"], pod
assert kubelet["apiVersion"] == "kubelet.config.k8s.io/v1beta1", kubelet
assert kubelet["cgroupDriver"] == "cgroupfs", kubelet
with open(f"{k8s}/crio-husk.conf", "rb") as f:
    crio = tomllib.load(f)
runtime = crio["crio"]["runtime"]
husk = runtime["runtimes"][rc["handler"]]
assert husk["runtime_path"] == "/usr/bin/husk", husk
assert husk["runtime_type"] == "oci", husk
assert runtime["cgroup_manager"] == "cgroupfs", crio
assert runtime["conmon_cgroup"] == "pod", crio
print("ok")
"#;
    let out = run_ok(
        &dir,
        "python3",
        Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(repo().join("docs/examples/kubernetes")),
    );
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(out.trim(), "ok");
}

/// Every file under docs/examples/, relative to the repository.
fn example_files() -> Vec<String> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("docs/examples"), &mut files);
    let mut rel: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(repo()).unwrap().display().to_string())
        .collect();
    rel.sort();
    rel
}

/// A guide cannot drift from what the tests run: its config blocks are
/// parts of the files in docs/examples/, each of those files is shown
/// whole somewhere, and every shell block says whether it is tested.
#[test]
fn guides_show_the_tested_files_verbatim() {
    if std::env::var_os("HUSK_VM").is_some() {
        eprintln!("skipped: the QEMU lane does not carry docs/");
        return;
    }
    let examples: Vec<(String, String)> = example_files()
        .into_iter()
        .map(|f| {
            let text = read(&f);
            (f, text)
        })
        .collect();
    let mut shown_whole = vec![false; examples.len()];
    for guide in GUIDES {
        for (info, body) in fenced_blocks(&read(guide)) {
            match info.as_str() {
                "sh tested" | "sh untested" => {}
                "sh staged" if guide == "docs/install.md" => {}
                "toml" | "yaml" | "json" | "make" => {
                    let from = examples.iter().position(|(_, text)| text.contains(&body));
                    let Some(i) = from else {
                        panic!("{guide}: this {info} block is in no file of docs/examples/ (copy it in again):\n{body}");
                    };
                    shown_whole[i] |= examples[i].1 == body;
                }
                _ => panic!(
                    "{guide}: a block fenced as {info:?}: use `sh tested`, `sh untested`, \
                     or toml/yaml/json/make for a part of a file in docs/examples/"
                ),
            }
        }
    }
    for ((file, _), shown) in examples.iter().zip(shown_whole) {
        assert!(shown, "no guide shows {file} whole");
    }
    // Shell blocks a test here runs; kubernetes.md has none (no cluster)
    // and install.md's are run by scripts/test-packaging.sh.
    for (guide, tested) in [
        ("docs/podman.md", true),
        ("docs/docker.md", true),
        ("docs/containerd.md", true),
        ("docs/makefile.md", true),
        ("docs/kubernetes.md", false),
    ] {
        assert_eq!(!tested_blocks(guide).is_empty(), tested, "{guide}");
    }
    let readme = read("README.md");
    for guide in GUIDES {
        assert!(readme.contains(guide), "README.md does not link {guide}");
    }
}

/// install.md's commands install into /: scripts/test-packaging.sh and
/// scripts/deps.sh run each one into a staging directory instead, next to
/// a comment quoting it as `# install.md: <command>`.
#[test]
fn install_guide_commands_are_each_run_by_the_packaging_test() {
    if std::env::var_os("HUSK_VM").is_some() {
        eprintln!("skipped: the QEMU lane does not carry docs/");
        return;
    }
    let scripts = read("scripts/test-packaging.sh") + &read("scripts/deps.sh");
    let blocks: Vec<String> = fenced_blocks(&read("docs/install.md"))
        .into_iter()
        .filter(|(info, _)| info == "sh staged")
        .map(|(_, body)| body)
        .collect();
    assert!(!blocks.is_empty(), "install.md has no staged block");
    for line in blocks.iter().flat_map(|b| b.lines()) {
        let command = line.split(" #").next().unwrap().trim();
        assert!(
            scripts.contains(&format!("# install.md: {command}\n")),
            "install.md's `{command}` is quoted in neither scripts/test-packaging.sh \
             nor scripts/deps.sh: run it there (into a staging directory)"
        );
    }
    // The versions the commands name are the ones the scripts use.
    let guide = blocks.concat();
    let deb = format!(
        "target/debian/husk_{}-1_amd64.deb",
        env!("CARGO_PKG_VERSION")
    );
    assert!(guide.contains(&deb), "install.md does not name {deb}");
    let pinned = read("scripts/deps.sh")
        .lines()
        .find_map(|l| l.strip_prefix("cargo_deb=").map(str::to_string))
        .expect("scripts/deps.sh pins cargo-deb");
    assert!(
        guide.contains(&format!(
            "cargo install cargo-deb --locked --version {pinned}\n"
        )),
        "install.md does not install cargo-deb {pinned}, the version CI uses"
    );
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("husk-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}
