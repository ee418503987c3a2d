//! `husk ps ID`: the processes in the container's cgroup (host pids).

use anyhow::Result;

use crate::cli::{Format, Global, PsArgs};

pub fn run(a: PsArgs, g: &Global) -> Result<i32> {
    let rec = super::existing_store(g).load(&a.id)?;
    let pids: Vec<i32> = match husk::cgroups::from_record(&rec.cgroup) {
        Some(cg) => cg.pids()?.into_iter().map(|p| p.as_raw()).collect(),
        None if husk::container::observe(&rec).has_process() => vec![rec.pid],
        None => vec![],
    };
    match a.format {
        Format::Json => println!("{}", serde_json::to_string(&pids)?),
        Format::Table => {
            let rows: Vec<Vec<String>> = pids
                .iter()
                .map(|p| {
                    let cmd = std::fs::read(format!("/proc/{p}/cmdline"))
                        .map(|b| {
                            String::from_utf8_lossy(&b)
                                .replace('\0', " ")
                                .trim()
                                .to_string()
                        })
                        .unwrap_or_default();
                    vec![p.to_string(), cmd]
                })
                .collect();
            super::print_table(&["PID", "CMD"], &rows);
        }
    }
    Ok(0)
}
