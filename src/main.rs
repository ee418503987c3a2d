//! argv → cli → logging → commands::dispatch; an error becomes one line on
//! stderr (and in --log) and exit status 1. `run` exits with the
//! container's status.

mod cli;
mod commands;
mod logging;

use clap::Parser;

fn main() {
    // `husk --version` is called by dockerd on every `docker info`: answer
    // it before any parsing.
    let mut args = std::env::args_os();
    if args.len() == 2
        && matches!(
            args.nth(1).as_deref().and_then(|a| a.to_str()),
            Some("--version" | "-v")
        )
    {
        commands::print_version();
        return;
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match cli::misplaced_global(&e) {
            Some(flag) => {
                eprintln!(
                    "husk: {flag} is a global option: it goes before the command, \
                     as in `husk {flag} ... COMMAND`"
                );
                std::process::exit(2);
            }
            None => e.exit(),
        },
    };
    let to_file = logging::init(&cli.global);
    let code = match commands::dispatch(cli) {
        Ok(code) => code,
        // `husk list | head`: a closed stdout is the reader's choice, not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            141
        }
        Err(e) => {
            let msg = format!("{e:#}");
            log::error!("{msg}");
            // Engines read the last error from --log; podman without JSON
            // support and `state` callers read stderr: write both.
            if to_file {
                eprintln!("husk: {msg}");
            }
            1
        }
    };
    std::process::exit(code);
}
