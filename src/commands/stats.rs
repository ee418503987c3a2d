//! `husk stats [--no-stream] [--format table|json] [--interval D] [ID...]`:
//! cpu, memory, network, block io and pids use of containers (all that
//! have a running process when no id is given), docker-style. The cpu
//! percentage needs two samples: --no-stream takes them 200 ms apart (or
//! --interval) and prints once; otherwise a new table (or one JSON line per
//! container) follows every interval until interrupted, or until a
//! container named on the command line is gone.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use husk::cgroups::{self, Driver};
use husk::container::stats::{self, Report, Sample};
use husk::store::Store;

use crate::cli::{Format, Global, StatsArgs};

/// One container being watched.
struct Watched {
    id: String,
    pid: i32,
    cgroup: Box<dyn Driver>,
}

impl Watched {
    fn sample(&self, host_memory: u64) -> (Instant, Sample) {
        let at = Instant::now();
        let s = self.cgroup.stats();
        let net = cgroups::stats::network(self.pid);
        (at, Sample::new(&s, &net, host_memory))
    }
}

/// The container, if it has a running process.
fn watch(store: &Store, id: &str) -> Result<Option<Watched>> {
    let rec = store.load(id)?;
    if !husk::container::observe(&rec).has_process() {
        return Ok(None);
    }
    let cgroup = cgroups::from_record(&rec.cgroup)
        .ok_or_else(|| anyhow!("container {id:?} has no cgroup to read stats from"))?;
    Ok(Some(Watched {
        id: id.to_string(),
        pid: rec.pid,
        cgroup,
    }))
}

/// The containers named, or every running one.
fn targets(store: &Store, ids: &[String]) -> Result<Vec<Watched>> {
    if ids.is_empty() {
        let mut all = Vec::new();
        for id in store.ids()? {
            // One that is deleted or stops meanwhile is simply not shown.
            if let Ok(Some(w)) = watch(store, &id) {
                all.push(w);
            }
        }
        return Ok(all);
    }
    ids.iter()
        .map(|id| watch(store, id)?.ok_or_else(|| anyhow!("container {id:?} is not running")))
        .collect()
}

pub fn run(a: StatsArgs, g: &Global) -> Result<i32> {
    let interval = match &a.interval {
        Some(s) => Some(husk::units::parse_duration(s)?),
        None => None,
    };
    if interval.is_some_and(|d| d.is_zero()) {
        bail!("--interval must be more than zero");
    }
    let store = super::existing_store(g)?;
    let host_memory = stats::host_memory();
    let mut watched = targets(&store, &a.ids)?;
    let mut out = std::io::stdout().lock();

    if a.no_stream {
        let first: Vec<_> = watched.iter().map(|w| w.sample(host_memory)).collect();
        std::thread::sleep(interval.unwrap_or(Duration::from_millis(200)));
        let reports: Vec<Report> = watched
            .iter()
            .zip(first)
            .map(|(w, (t0, s0))| {
                let (t1, s1) = w.sample(host_memory);
                s1.report(&w.id, &s0, t1 - t0)
            })
            .collect();
        print(&mut out, a.format, &reports, false)?;
        return Ok(0);
    }

    let gap = interval.unwrap_or(Duration::from_secs(1));
    let clear = a.format == Format::Table && std::io::stdout().is_terminal();
    let mut prev: BTreeMap<String, (Instant, Sample)> = watched
        .iter()
        .map(|w| (w.id.clone(), w.sample(host_memory)))
        .collect();
    loop {
        std::thread::sleep(gap);
        if a.ids.is_empty() {
            // Containers come and go: follow the root.
            watched = targets(&store, &[])?;
        } else {
            for w in &mut watched {
                match watch(&store, &w.id) {
                    Ok(Some(now)) => *w = now,
                    // A container named on the command line is gone: done.
                    Ok(None) | Err(_) => return Ok(0),
                }
            }
        }
        let mut reports = Vec::new();
        let mut next = BTreeMap::new();
        for w in &watched {
            let (t1, s1) = w.sample(host_memory);
            if let Some((t0, s0)) = prev.get(&w.id) {
                reports.push(s1.report(&w.id, s0, t1 - *t0));
            }
            next.insert(w.id.clone(), (t1, s1));
        }
        prev = next;
        print(&mut out, a.format, &reports, clear)?;
    }
}

fn print(out: &mut impl Write, format: Format, reports: &[Report], clear: bool) -> Result<()> {
    match format {
        Format::Json => {
            for r in reports {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
        }
        Format::Table => {
            if clear {
                // Home the cursor and clear the screen, as docker does.
                write!(out, "\x1b[H\x1b[2J")?;
            }
            let rows: Vec<Vec<String>> = reports.iter().map(Report::row).collect();
            write!(out, "{}", stats::render_table(&stats::TABLE_HEADER, &rows))?;
        }
    }
    out.flush()?;
    Ok(())
}
