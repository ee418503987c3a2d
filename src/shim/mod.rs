//! The shim: a small detached monitor per detached container (when the
//! caller is not an engine that reaps its children). It is the parent of
//! the container init, so it alone collects its exit status; it records
//! it, applies the restart policy, runs health checks, writes the
//! container's stdout/stderr to rotated log files and appends lifecycle
//! events. See DESIGN.md §4.
//!
//! Runs in: its own process, started by `create`/`run -d`.

pub mod health;
pub mod policy;
