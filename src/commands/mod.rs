//! One file per verb: open the store, lock, call the library, print.
//! anyhow lives here and in main.rs only.

mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod health;
mod kill;
mod list;
mod logs;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod stats;
mod stop;
mod update;
mod wait;

use std::path::PathBuf;

use anyhow::{bail, Result};
use husk::store::Store;

use crate::cli::{Cli, Command, Global};

/// `println!` that returns the write error instead of panicking: stdout
/// may be a pipe its reader closed (`husk state c1 | grep -q running`),
/// which main turns into a quiet exit 141.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}
pub(crate) use out;

/// runc's --version shape, which dockerd parses line by line.
pub fn print_version() {
    let _ = out!(
        "husk version {}\ncommit: {}\nspec: {}",
        env!("CARGO_PKG_VERSION"),
        env!("HUSK_COMMIT"),
        husk::bundle::OCI_VERSION_MAX
    );
}

/// Runs the command; the result is the process exit status.
pub fn dispatch(cli: Cli) -> Result<i32> {
    if cli.version {
        print_version();
        return Ok(0);
    }
    let Some(cmd) = cli.command else {
        bail!("no command given: try `husk --help`");
    };
    let g = &cli.global;
    if g.systemd_cgroup
        && !matches!(
            cmd,
            Command::Spec(_) | Command::Features | Command::State(_) | Command::List(_)
        )
    {
        return Err(husk::cgroups::CgroupError::SystemdUnsupported.into());
    }
    match cmd {
        Command::Spec(a) => spec::run(a, g),
        Command::Create(a) => create::run(a, g),
        Command::Start(a) => start::run(a, g),
        Command::Run(a) => run::run(a, g),
        Command::State(a) => state::run(a, g),
        Command::List(a) => list::run(a, g),
        Command::Kill(a) => kill::run(a, g),
        Command::Delete(a) => delete::run(a, g),
        Command::Ps(a) => ps::run(a, g),
        Command::Pause(a) => pause::pause(a, g),
        Command::Resume(a) => pause::resume(a, g),
        Command::Exec(a) => exec::run(a, g),
        Command::Update(a) => update::run(a, g),
        Command::Events(a) => events::run(a, g),
        Command::Stop(a) => stop::run(a, g),
        Command::Restart(a) => stop::restart(a, g),
        Command::Wait(a) => wait::run(a, g),
        Command::Logs(a) => logs::run(a, g),
        Command::Health(a) => health::run(a, g),
        Command::Recreate(a) => stop::recreate_for_shim(&a.id, g),
        Command::Stats(a) => stats::run(a, g),
        Command::Checkpoint(a) => checkpoint::checkpoint(a, g),
        Command::Restore(a) => checkpoint::restore(a, g),
        Command::CriuAction => checkpoint::criu_action(),
        Command::Features => features::run(),
    }
}

/// The state root: --root, else `store::default_root` (/run/husk for
/// root; $XDG_RUNTIME_DIR/husk, /run/user/<uid>/husk or a private
/// /tmp/husk-<uid> otherwise).
pub fn root_dir(g: &Global) -> Result<PathBuf> {
    match &g.root {
        Some(r) => Ok(r.clone()),
        None => Ok(husk::store::default_root()?),
    }
}

/// The store for commands that create state (made when missing).
pub fn store(g: &Global) -> Result<Store> {
    Ok(Store::open(&root_dir(g)?)?)
}

/// The store for commands that only read or remove state.
pub fn existing_store(g: &Global) -> Result<Store> {
    Ok(Store::at(&root_dir(g)?))
}

/// Prints rows as left-aligned columns separated by at least three spaces.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    // One write for the whole table: stdout is line-buffered, and a write
    // per row was a third of `list`'s syscalls with 100 containers.
    use std::fmt::Write as _;
    let mut text = String::new();
    let mut line = |cells: Vec<&str>| {
        let start = text.len();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(c);
            } else {
                let _ = write!(text, "{c:<w$}   ", w = widths[i]);
            }
        }
        text.truncate(start + text[start..].trim_end().len());
        text.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(|s| s.as_str()).collect());
    }
    use std::io::Write as _;
    std::io::stdout().lock().write_all(text.as_bytes())
}
