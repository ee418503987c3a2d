//! Writes husk's man pages and shell completions from the clap definitions
//! in src/cli.rs: `cargo run --example gen-docs -- OUT_DIR` makes
//! OUT_DIR/man/husk.1, OUT_DIR/man/husk-<command>.1 (hidden commands
//! left out) and OUT_DIR/completions/{husk.bash,_husk,husk.fish}.
//! scripts/gen-docs.sh runs it and commits the result; its --check mode
//! is the CI step that fails when they are stale.
//!
//! Why an example and not a command of husk behind a feature: the shipped
//! binary then cannot contain the generator under any build flags, and
//! clap_mangen, clap_complete and roff are dev-dependencies, which `cargo
//! build` and `cargo install` never fetch or compile. src/cli.rs holds
//! clap types only (STYLE.md §1), so it compiles here as it is.

#[allow(dead_code)]
#[path = "../src/cli.rs"]
mod cli;

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

fn main() {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: gen-docs OUT_DIR");
        std::process::exit(2);
    };
    if let Err(e) = generate(Path::new(&out)) {
        eprintln!("gen-docs: {e}");
        std::process::exit(1);
    }
}

fn generate(out: &Path) -> io::Result<()> {
    // `help` is a command of the binary, but man(1) is the help here.
    let mut cmd = cli::Cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true)
        .subcommand_help_heading("COMMANDS");
    cmd.build();
    let man = out.join("man");
    fs::create_dir_all(&man)?;
    write_page(&cmd, &man, true)?;
    // The global options are documented once, in husk(1); a command's page
    // lists its own (clap copied the global ones into every command).
    let globals: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().to_string())
        .collect();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub = globals
            .iter()
            .fold(sub.clone(), |c, id| c.mut_arg(id, |a| a.hide(true)));
        write_page(&sub, &man, false)?;
    }

    let completions = out.join("completions");
    fs::create_dir_all(&completions)?;
    let mut cmd = without_hidden(cli::Cli::command());
    for (shell, file) in [
        (Shell::Bash, "husk.bash"),
        (Shell::Zsh, "_husk"),
        (Shell::Fish, "husk.fish"),
    ] {
        let mut f = fs::File::create(completions.join(file))?;
        clap_complete::generate(shell, &mut cmd, "husk", &mut f);
        f.flush()?;
    }
    Ok(())
}

/// One page: clap_mangen's sections, then the `after_help` text as roff
/// sections of our own (clap_mangen would fill it all into one paragraph
/// under EXTRA), then SEE ALSO.
fn write_page(cmd: &clap::Command, dir: &Path, top: bool) -> io::Result<()> {
    let page = Man::new(cmd.clone()).source(format!("husk {}", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    page.render_title(&mut buf)?;
    page.render_name_section(&mut buf)?;
    page.render_synopsis_section(&mut buf)?;
    page.render_description_section(&mut buf)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        page.render_options_section(&mut buf)?;
    }
    if top {
        page.render_subcommands_section(&mut buf)?;
    }
    let mut roff = Roff::new();
    if let Some(text) = cmd.get_after_help() {
        after_help_sections(&mut roff, &text.to_string());
    }
    if !top {
        roff.control("SH", ["SEE ALSO"]);
        roff.text([roman(
            "husk(1), for the global options (--root, --log, --log-format, --debug, \
             --systemd-cgroup, --rootless, --shim), which go before or after the command.",
        )]);
    }
    roff.to_writer(&mut buf)?;
    fs::write(dir.join(page.get_filename()), buf)
}

/// The layout src/cli.rs uses in `after_help`: a line ending in ':' at the
/// margin is a section heading, a line indented by two spaces is prose
/// (consecutive lines make one paragraph), one indented by four or more is
/// shown as it is.
fn after_help_sections(roff: &mut Roff, text: &str) {
    let mut literal = false;
    let mut new_paragraph = true;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let is_literal = indent >= 4;
        if literal && !is_literal {
            roff.control("fi", []).control("RE", []);
            literal = false;
        }
        if line.trim().is_empty() {
            new_paragraph = true;
        } else if indent == 0 {
            let heading = line.trim_end_matches(':').to_uppercase();
            roff.control("SH", [heading.as_str()]);
            new_paragraph = true;
        } else if is_literal {
            if !literal {
                roff.control("RS", ["4"]).control("nf", []);
                literal = true;
            }
            roff.text([roman(&line[4..])]);
        } else {
            if new_paragraph {
                roff.control("PP", []);
                new_paragraph = false;
            }
            roff.text([roman(line.trim())]);
        }
        if is_literal {
            new_paragraph = true;
        }
    }
    if literal {
        roff.control("fi", []).control("RE", []);
    }
}

/// The command without hidden subcommands (`__recreate`, run by the shim):
/// clap_complete would offer them, and clap cannot remove a subcommand,
/// so the root is rebuilt around the visible ones.
fn without_hidden(cmd: clap::Command) -> clap::Command {
    let visible: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    clap::Command::new("husk")
        .disable_version_flag(true)
        .args(cmd.get_arguments().cloned())
        .subcommands(visible)
}
