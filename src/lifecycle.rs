//! The lifecycle table: husk's phases, the OCI status each one reports, which
//! phase may follow which, and which command each phase allows. It is pure
//! data plus lookups; `refresh` turns a stored phase and the kernel's view of
//! the init process into the phase a command should act on.
//!
//! Called from: every command, after the store has loaded the record.

use serde::{Deserialize, Serialize};

/// A container's phase. Finer than the OCI status (DESIGN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Creating,
    Created,
    Starting,
    Running,
    Paused,
    Stopping,
    Stopped,
    Dead,
    Restarting,
    Error,
    Removing,
    Removed,
}

/// The status values of the OCI runtime spec, which engines parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OciStatus {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl OciStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OciStatus::Creating => "creating",
            OciStatus::Created => "created",
            OciStatus::Running => "running",
            OciStatus::Paused => "paused",
            OciStatus::Stopped => "stopped",
        }
    }
}

/// What a command asks of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Start,
    Kill,
    Delete,
    DeleteForce,
    Pause,
    Resume,
    Exec,
    Stop,
    Update,
    Restart,
    /// The final dump: CRIU stops the processes (then the container is
    /// destroyed, as runc does; `restore` brings it back).
    Checkpoint,
    /// `checkpoint --leave-running` and `--pre-dump`: the container runs on.
    CheckpointLeaveRunning,
}

impl Command {
    pub const ALL: [Command; 12] = [
        Command::Start,
        Command::Kill,
        Command::Delete,
        Command::DeleteForce,
        Command::Pause,
        Command::Resume,
        Command::Exec,
        Command::Stop,
        Command::Update,
        Command::Restart,
        Command::Checkpoint,
        Command::CheckpointLeaveRunning,
    ];

    pub fn verb(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Kill => "kill",
            Command::Delete => "delete",
            Command::DeleteForce => "delete --force",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Exec => "exec",
            Command::Stop => "stop",
            Command::Update => "update",
            Command::Restart => "restart",
            Command::Checkpoint => "checkpoint",
            Command::CheckpointLeaveRunning => "checkpoint --leave-running",
        }
    }
}

/// Why the table refused a command: its `Display` is the user's message
/// (engines match "container not running" on kill).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("container not running")]
    NotRunning,
    #[error("container {id:?} is {phase}: cannot {verb}{hint}")]
    Phase {
        id: String,
        phase: &'static str,
        verb: &'static str,
        hint: &'static str,
    },
}

impl Phase {
    pub const ALL: [Phase; 12] = [
        Phase::Creating,
        Phase::Created,
        Phase::Starting,
        Phase::Running,
        Phase::Paused,
        Phase::Stopping,
        Phase::Stopped,
        Phase::Dead,
        Phase::Restarting,
        Phase::Error,
        Phase::Removing,
        Phase::Removed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Creating => "creating",
            Phase::Created => "created",
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Paused => "paused",
            Phase::Stopping => "stopping",
            Phase::Stopped => "stopped",
            Phase::Dead => "dead",
            Phase::Restarting => "restarting",
            Phase::Error => "error",
            Phase::Removing => "removing",
            Phase::Removed => "removed",
        }
    }

    /// The OCI status reported for this phase (DESIGN.md §2, second column).
    pub fn oci_status(self) -> OciStatus {
        match self {
            Phase::Creating => OciStatus::Creating,
            Phase::Created | Phase::Starting => OciStatus::Created,
            Phase::Running | Phase::Stopping | Phase::Restarting => OciStatus::Running,
            Phase::Paused => OciStatus::Paused,
            Phase::Stopped | Phase::Dead | Phase::Error | Phase::Removing | Phase::Removed => {
                OciStatus::Stopped
            }
        }
    }

    /// Phases that may directly follow this one (DESIGN.md §2, last column).
    pub fn next(self) -> &'static [Phase] {
        use Phase::*;
        match self {
            // Running straight from creating: `restore` (CRIU resumes the
            // processes where the checkpoint left them).
            Creating => &[Created, Running, Error],
            Created => &[Starting, Stopping, Stopped, Restarting, Removing],
            Starting => &[Running, Stopping, Stopped, Error],
            Running => &[Paused, Stopping, Stopped, Dead, Restarting],
            // Stopped: a final checkpoint dumps the frozen tree and ends it.
            Paused => &[Running, Stopping, Stopped, Restarting, Removing],
            Stopping => &[Stopped, Dead],
            Stopped => &[Restarting, Removing, Starting],
            Dead => &[Restarting, Removing],
            Restarting => &[Starting, Stopping, Error],
            Error => &[Removing],
            Removing => &[Removed],
            Removed => &[],
        }
    }

    pub fn may_become(self, next: Phase) -> bool {
        self.next().contains(&next)
    }

    /// Is there (or may there be) a live init process in this phase?
    pub fn has_process(self) -> bool {
        matches!(
            self,
            Phase::Created | Phase::Starting | Phase::Running | Phase::Paused | Phase::Stopping
        )
    }

    /// Has the container finished (its process is gone for good)?
    pub fn is_finished(self) -> bool {
        matches!(self, Phase::Stopped | Phase::Dead | Phase::Error)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The table: may `cmd` act on a container in `phase`, and which phase does
/// the container enter when it does? `Ok(None)` means the phase is kept
/// (kill of a paused container, update).
pub fn check(id: &str, phase: Phase, cmd: Command) -> Result<Option<Phase>, Refusal> {
    use Command as C;
    use Phase as P;
    let refuse = |hint: &'static str| {
        Err(Refusal::Phase {
            id: id.to_string(),
            phase: phase.as_str(),
            verb: cmd.verb(),
            hint,
        })
    };
    match (cmd, phase) {
        (C::Start, P::Created) => Ok(Some(P::Starting)),
        (C::Start, P::Paused) => refuse("; resume it first"),
        (C::Start, P::Stopped | P::Dead | P::Error) => {
            refuse(": the container has stopped; delete it, or use restart")
        }
        (C::Start, _) => refuse(""),

        (C::Kill, P::Created | P::Running | P::Paused | P::Stopping | P::Starting) => Ok(None),
        (C::Kill, _) => Err(Refusal::NotRunning),

        // runc deletes a created container without --force (it was never started).
        (C::Delete, P::Created) => Ok(Some(P::Removing)),
        (C::Delete, P::Stopped | P::Dead | P::Error) => Ok(Some(P::Removing)),
        (C::Delete, P::Running | P::Stopping | P::Starting | P::Restarting) => {
            refuse(": it is not stopped; stop it first or use --force")
        }
        (C::Delete, P::Paused) => refuse(": it is not stopped; use --force"),
        (C::Delete, _) => refuse(""),

        (C::DeleteForce, P::Removed) => refuse(""),
        (C::DeleteForce, _) => Ok(Some(P::Removing)),

        (C::Pause, P::Running) => Ok(Some(P::Paused)),
        (C::Pause, P::Paused) => refuse(": it is already paused"),
        (C::Pause, _) => refuse(": it is not running"),

        (C::Resume, P::Paused) => Ok(Some(P::Running)),
        (C::Resume, _) => refuse(": it is not paused"),

        (C::Exec, P::Created | P::Running) => Ok(None),
        (C::Exec, P::Paused) => refuse("; resume it first"),
        (C::Exec, P::Stopped | P::Dead | P::Error) => refuse(": the container has stopped"),
        (C::Exec, _) => refuse(""),

        (C::Stop, P::Running | P::Created | P::Starting | P::Restarting) => Ok(Some(P::Stopping)),
        (C::Stop, P::Paused) => Ok(Some(P::Stopping)),
        (C::Stop, P::Stopping) => Ok(None),
        (C::Stop, _) => Err(Refusal::NotRunning),

        (C::Update, P::Created | P::Running | P::Paused | P::Stopping | P::Starting) => Ok(None),
        (C::Update, _) => Err(Refusal::NotRunning),

        (C::Restart, P::Running | P::Stopped | P::Dead | P::Created | P::Paused) => {
            Ok(Some(P::Restarting))
        }
        (C::Restart, _) => refuse(""),

        // runc refuses created and stopped containers; a paused one is
        // dumped frozen (CRIU finds the freezer already frozen).
        (C::Checkpoint, P::Running | P::Paused) => Ok(Some(P::Stopped)),
        (C::CheckpointLeaveRunning, P::Running | P::Paused) => Ok(None),
        (C::Checkpoint | C::CheckpointLeaveRunning, P::Created) => {
            refuse(": it has not started; start it first")
        }
        (C::Checkpoint | C::CheckpointLeaveRunning, _) => refuse(": it is not running"),
    }
}

/// What the kernel says about the recorded init process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Same pid, same start time, not a zombie.
    Alive,
    /// Gone, a zombie, or the pid now names another process.
    Gone,
}

/// The phase a command should act on: the stored phase, corrected by what
/// the kernel says about the init. A container whose process vanished while
/// nobody was watching is `stopped`; a create that died half-way is `error`.
pub fn refresh(stored: Phase, live: Liveness) -> Phase {
    match (stored, live) {
        (p, Liveness::Alive) => p,
        (Phase::Creating, Liveness::Gone) => Phase::Error,
        (Phase::Restarting, Liveness::Gone) => Phase::Restarting,
        (p, Liveness::Gone) if p.has_process() => Phase::Stopped,
        (p, Liveness::Gone) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Command as C;
    use Phase as P;

    /// The full table, written out: (command, phase) → Some(target) when allowed.
    fn expected(cmd: C, phase: P) -> Option<Option<P>> {
        let allowed: &[(C, P, Option<P>)] = &[
            (C::Start, P::Created, Some(P::Starting)),
            (C::Kill, P::Created, None),
            (C::Kill, P::Starting, None),
            (C::Kill, P::Running, None),
            (C::Kill, P::Paused, None),
            (C::Kill, P::Stopping, None),
            (C::Delete, P::Created, Some(P::Removing)),
            (C::Delete, P::Stopped, Some(P::Removing)),
            (C::Delete, P::Dead, Some(P::Removing)),
            (C::Delete, P::Error, Some(P::Removing)),
            (C::Pause, P::Running, Some(P::Paused)),
            (C::Resume, P::Paused, Some(P::Running)),
            (C::Exec, P::Created, None),
            (C::Exec, P::Running, None),
            (C::Stop, P::Created, Some(P::Stopping)),
            (C::Stop, P::Starting, Some(P::Stopping)),
            (C::Stop, P::Running, Some(P::Stopping)),
            (C::Stop, P::Paused, Some(P::Stopping)),
            (C::Stop, P::Restarting, Some(P::Stopping)),
            (C::Stop, P::Stopping, None),
            (C::Update, P::Created, None),
            (C::Update, P::Starting, None),
            (C::Update, P::Running, None),
            (C::Update, P::Paused, None),
            (C::Update, P::Stopping, None),
            (C::Restart, P::Created, Some(P::Restarting)),
            (C::Restart, P::Running, Some(P::Restarting)),
            (C::Restart, P::Paused, Some(P::Restarting)),
            (C::Restart, P::Stopped, Some(P::Restarting)),
            (C::Restart, P::Dead, Some(P::Restarting)),
            (C::Checkpoint, P::Running, Some(P::Stopped)),
            (C::Checkpoint, P::Paused, Some(P::Stopped)),
            (C::CheckpointLeaveRunning, P::Running, None),
            (C::CheckpointLeaveRunning, P::Paused, None),
        ];
        if cmd == C::DeleteForce {
            return (phase != P::Removed).then_some(Some(P::Removing));
        }
        allowed
            .iter()
            .find(|(c, p, _)| *c == cmd && *p == phase)
            .map(|(_, _, t)| *t)
    }

    #[test]
    fn every_command_in_every_phase_matches_the_table() {
        for cmd in C::ALL {
            for phase in P::ALL {
                let got = check("c1", phase, cmd);
                match expected(cmd, phase) {
                    Some(target) => assert_eq!(got, Ok(target), "{cmd:?} in {phase:?}"),
                    None => assert!(got.is_err(), "{cmd:?} in {phase:?} should be refused"),
                }
            }
        }
    }

    #[test]
    fn every_target_of_an_allowed_command_is_a_legal_next_phase() {
        for cmd in C::ALL {
            for phase in P::ALL {
                if let Ok(Some(target)) = check("c1", phase, cmd) {
                    // Removing from a running container goes through the kill that
                    // --force performs; everything else must follow the table.
                    if cmd == C::DeleteForce && !phase.may_become(P::Removing) {
                        continue;
                    }
                    assert!(
                        phase.may_become(target),
                        "{phase:?} -> {target:?} via {cmd:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn kill_of_a_stopped_container_says_not_running() {
        for phase in [P::Stopped, P::Dead, P::Error, P::Removing] {
            let err = check("web", phase, C::Kill).unwrap_err();
            assert_eq!(err.to_string(), "container not running");
        }
    }

    #[test]
    fn exec_refusal_names_phase_and_verb() {
        let err = check("web", P::Paused, C::Exec).unwrap_err();
        assert_eq!(
            err.to_string(),
            "container \"web\" is paused: cannot exec; resume it first"
        );
    }

    #[test]
    fn start_twice_is_refused() {
        assert!(check("web", P::Running, C::Start).is_err());
        let msg = check("web", P::Stopped, C::Start).unwrap_err().to_string();
        assert!(msg.contains("has stopped"), "{msg}");
    }

    #[test]
    fn checkpoint_needs_a_running_or_paused_container() {
        for phase in [P::Created, P::Stopped, P::Dead, P::Error, P::Creating] {
            for cmd in [C::Checkpoint, C::CheckpointLeaveRunning] {
                assert!(check("web", phase, cmd).is_err(), "{cmd:?} in {phase:?}");
            }
        }
        let msg = check("web", P::Created, C::Checkpoint)
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "container \"web\" is created: cannot checkpoint: it has not started; start it first"
        );
        let msg = check("web", P::Stopped, C::CheckpointLeaveRunning)
            .unwrap_err()
            .to_string();
        assert!(
            msg.ends_with("cannot checkpoint --leave-running: it is not running"),
            "{msg}"
        );
    }

    #[test]
    fn a_final_checkpoint_ends_the_container_and_leave_running_keeps_it() {
        assert_eq!(
            check("web", P::Running, C::Checkpoint),
            Ok(Some(P::Stopped))
        );
        assert_eq!(check("web", P::Paused, C::CheckpointLeaveRunning), Ok(None));
    }

    #[test]
    fn restore_goes_from_creating_straight_to_running() {
        assert!(P::Creating.may_become(P::Running));
        // …but nothing else skips `created` on its way to running.
        for p in P::ALL {
            if p != P::Creating && p != P::Paused && p != P::Starting {
                assert!(!p.may_become(P::Running), "{p:?} -> running");
            }
        }
    }

    #[test]
    fn oci_status_of_every_phase() {
        let want = [
            (P::Creating, "creating"),
            (P::Created, "created"),
            (P::Starting, "created"),
            (P::Running, "running"),
            (P::Paused, "paused"),
            (P::Stopping, "running"),
            (P::Stopped, "stopped"),
            (P::Dead, "stopped"),
            (P::Restarting, "running"),
            (P::Error, "stopped"),
            (P::Removing, "stopped"),
            (P::Removed, "stopped"),
        ];
        for (p, s) in want {
            assert_eq!(p.oci_status().as_str(), s, "{p:?}");
        }
    }

    #[test]
    fn refresh_marks_vanished_processes_stopped() {
        for p in [P::Created, P::Starting, P::Running, P::Paused, P::Stopping] {
            assert_eq!(refresh(p, Liveness::Gone), P::Stopped, "{p:?}");
            assert_eq!(refresh(p, Liveness::Alive), p);
        }
        assert_eq!(refresh(P::Creating, Liveness::Gone), P::Error);
        assert_eq!(refresh(P::Dead, Liveness::Gone), P::Dead);
        assert_eq!(refresh(P::Stopped, Liveness::Gone), P::Stopped);
    }

    #[test]
    fn removed_is_terminal() {
        assert!(P::Removed.next().is_empty());
        for p in P::ALL {
            assert!(
                !p.may_become(P::Creating),
                "{p:?} may not go back to creating"
            );
        }
    }
}
