//! `husk logs [-f] [--tail N] [--timestamps] ID`: what a detached container
//! wrote to stdout and stderr, from the shim's rotated log files.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use anyhow::{bail, Result};
use husk::shim::logs::{self, Record};

use crate::cli::{Global, LogsArgs};

pub fn run(a: LogsArgs, g: &Global) -> Result<i32> {
    let store = super::existing_store(g)?;
    let record = store.load(&a.id)?; // "container does not exist"
    let dir = store.dir(&a.id);
    let files = logs::files(&dir);
    // logs/ appears at the container's first write; a record from before
    // the flag has it from the start.
    if !record.logs && files.is_empty() && !dir.join(logs::LOG_DIR).exists() {
        bail!(
            "container {:?} has no logs: only a detached container without a terminal, watched by a shim, has them",
            a.id
        );
    }
    let mut records: Vec<Record> = files.iter().flat_map(|f| logs::read_file(f)).collect();
    if let Some(n) = a.tail {
        // N lines: count the records that end a line.
        let mut lines = 0;
        let mut start = records.len();
        while start > 0 && lines < n {
            start -= 1;
            if !records[start].partial {
                lines += 1;
            }
        }
        // A partial record before `start` belongs to the first line shown.
        while start > 0 && records[start - 1].partial {
            start -= 1;
        }
        records.drain(..start);
    }
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for r in &records {
        logs::print(r, a.timestamps, &mut out, &mut err)?;
    }
    out.flush()?;
    if a.follow {
        follow(&store, &a.id, &dir, a.timestamps, &mut out, &mut err)?;
    }
    Ok(0)
}

/// Prints what is appended to container.log (across rotations) until the
/// container has ended and its shim has gone.
fn follow(
    store: &husk::store::Store,
    id: &str,
    dir: &std::path::Path,
    timestamps: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<()> {
    let path = dir.join(logs::LOG_DIR).join(logs::LOG_FILE);
    let mut file = File::open(&path).ok();
    let mut pos = file
        .as_ref()
        .and_then(|f| f.metadata().ok())
        .map_or(0, |m| m.len());
    let mut pending = Vec::new();
    loop {
        let mut got = false;
        if let Some(f) = &mut file {
            f.seek(SeekFrom::Start(pos))?;
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            pos += buf.len() as u64;
            got = !buf.is_empty();
            pending.extend_from_slice(&buf);
            while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=nl).collect();
                if let Some(r) = logs::parse_record(&line[..line.len() - 1]) {
                    logs::print(&r, timestamps, out, err)?;
                }
            }
            out.flush()?;
        }
        // Rotated: the old file is read to its end above; go on with the new one.
        let rotated = match (&file, std::fs::metadata(&path)) {
            (Some(f), Ok(m)) => f.metadata()?.ino() != m.ino(),
            (None, Ok(_)) => true,
            _ => false,
        };
        if rotated && !got {
            file = File::open(&path).ok();
            pos = 0;
            continue;
        }
        if !got {
            let done = match store.load(id) {
                Ok(r) => {
                    husk::container::observe(&r).is_finished() && !r.shim.is_some_and(|s| s.alive())
                }
                Err(_) => true,
            };
            if done {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
