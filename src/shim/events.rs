//! `events.jsonl` in a container's state directory: one JSON object per
//! lifecycle event, appended by whichever husk process saw it happen
//! (create, start, pause, stop, delete, the shim). O_APPEND writes of one
//! line are atomic, so writers need no lock; the file is kept under
//! `MAX_BYTES` by dropping its older half when it grows past that.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The events file of a container.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The file is trimmed to about half of this when it grows past it.
pub const MAX_BYTES: u64 = 256 * 1024;

/// One event: time, type, container id, and type-specific fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Event {
    pub fn new(kind: &str, id: &str) -> Event {
        Event {
            time: crate::timestamp::now(),
            kind: kind.into(),
            id: id.into(),
            fields: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Event {
        self.fields.insert(key.into(), value.into());
        self
    }
}

/// Appends `ev` to the container's events file; failures are logged, not
/// fatal (an event must never fail a lifecycle operation).
pub fn append(dir: &Path, ev: &Event) {
    if let Err(e) = try_append(dir, ev) {
        log::warn!("container {}: cannot record event {}: {e}", ev.id, ev.kind);
    }
}

fn try_append(dir: &Path, ev: &Event) -> std::io::Result<()> {
    let path = dir.join(EVENTS_FILE);
    let mut line = serde_json::to_vec(ev)?;
    line.push(b'\n');
    let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
    f.write_all(&line)?;
    if f.metadata()?.len() > MAX_BYTES {
        trim(&path)?;
    }
    Ok(())
}

/// Keeps the newer half of the file (whole lines), replacing it atomically.
fn trim(path: &Path) -> std::io::Result<()> {
    let data = fs::read(path)?;
    let keep_from = data.len() - (MAX_BYTES as usize / 2).min(data.len());
    let start = data[keep_from..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(data.len(), |i| keep_from + i + 1);
    let tmp = path.with_extension("jsonl.tmp");
    fs::write(&tmp, &data[start..])?;
    fs::rename(tmp, path)
}

/// Every event in the file, oldest first (unparsable lines are skipped).
pub fn read(dir: &Path) -> Vec<Event> {
    let Ok(f) = fs::File::open(dir.join(EVENTS_FILE)) else {
        return Vec::new();
    };
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("husk-events-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn events_append_and_read_back_with_their_fields() {
        let d = tmp("rw");
        append(&d, &Event::new("created", "c1"));
        append(
            &d,
            &Event::new("exited", "c1")
                .with("exitCode", 3)
                .with("reason", "exited"),
        );
        let e = read(&d);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].kind, "exited");
        assert_eq!(e[1].fields["exitCode"], 3);
        let line = fs::read_to_string(d.join(EVENTS_FILE)).unwrap();
        assert!(
            line.lines().next().unwrap().starts_with("{\"time\":"),
            "{line}"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_file_stays_bounded_and_keeps_the_newest_events() {
        let d = tmp("bound");
        for i in 0..5000 {
            append(
                &d,
                &Event::new("health_status", "c1")
                    .with("n", i)
                    .with("pad", "x".repeat(40)),
            );
        }
        let size = fs::metadata(d.join(EVENTS_FILE)).unwrap().len();
        assert!(size <= MAX_BYTES, "{size}");
        let e = read(&d);
        assert_eq!(e.last().unwrap().fields["n"], 4999);
        // Whole lines only: every remaining line parses.
        let lines = fs::read_to_string(d.join(EVENTS_FILE))
            .unwrap()
            .lines()
            .count();
        assert_eq!(lines, e.len());
        fs::remove_dir_all(&d).unwrap();
    }
}
