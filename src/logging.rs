//! Log output: `--log FILE` (appended) or stderr; `--log-format json`
//! writes one logrus-style line `{"level":…,"msg":…,"time":…}` per message,
//! which is what podman and containerd-shim read the last error from.

use std::fs::OpenOptions;
use std::io::Write;

use crate::cli::{Global, LogFormat};

/// Sets up the logger; returns whether messages go to a file.
pub fn init(g: &Global) -> bool {
    let level = if g.debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Warn
    };
    let mut b = env_logger::Builder::new();
    b.filter_level(level);
    let json = g.log_format == LogFormat::Json;
    b.format(move |buf, rec| {
        let level = rec.level().as_str().to_ascii_lowercase();
        if json {
            let line = serde_json::json!({
                "level": level,
                "msg": rec.args().to_string(),
                "time": husk::timestamp::now(),
            });
            writeln!(buf, "{line}")
        } else if rec.level() == log::Level::Error {
            writeln!(buf, "husk: {}", rec.args())
        } else {
            writeln!(buf, "husk: {level}: {}", rec.args())
        }
    });
    let mut to_file = false;
    if let Some(path) = &g.log {
        match OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => {
                b.target(env_logger::Target::Pipe(Box::new(f)));
                to_file = true;
            }
            Err(e) => eprintln!(
                "husk: warning: cannot open log file {}: {e}; logging to stderr",
                path.display()
            ),
        }
    }
    let _ = b.try_init();
    to_file
}
