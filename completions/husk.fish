# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_husk_global_optspecs
    string join \n v/version root= log= log-format= debug systemd-cgroup rootless= shim= h/help
end

function __fish_husk_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_husk_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_husk_using_subcommand
    set -l cmd (__fish_husk_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c husk -n "__fish_husk_needs_command" -l root -d 'Directory for container state (default /run/husk, or $XDG_RUNTIME_DIR/husk without root)' -r -F
complete -c husk -n "__fish_husk_needs_command" -l log -d 'Append log messages to FILE instead of stderr' -r -F
complete -c husk -n "__fish_husk_needs_command" -l log-format -d 'Log format' -r -f -a "text\t''
json\t''"
complete -c husk -n "__fish_husk_needs_command" -l rootless -d 'Accepted for runc compatibility (true, false or auto): husk detects rootless mode itself. `husk --rootless=true spec` is `husk spec --rootless`' -r
complete -c husk -n "__fish_husk_needs_command" -l shim -d 'Start a monitor (shim) for detached containers: auto = unless the caller is an engine that reaps its children (conmon, containerd-shim)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c husk -n "__fish_husk_needs_command" -s v -l version -d 'Print the version (runc\'s format: version, commit, spec)'
complete -c husk -n "__fish_husk_needs_command" -l debug -d 'Log debug messages'
complete -c husk -n "__fish_husk_needs_command" -l systemd-cgroup -d 'Use the systemd cgroup driver (not supported yet)'
complete -c husk -n "__fish_husk_needs_command" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_needs_command" -f -a "spec" -d 'Write a default config.json (a bundle\'s configuration) to the bundle directory'
complete -c husk -n "__fish_husk_needs_command" -f -a "create" -d 'Create a container from a bundle; its process waits for `start`'
complete -c husk -n "__fish_husk_needs_command" -f -a "start" -d 'Start the process of a created container'
complete -c husk -n "__fish_husk_needs_command" -f -a "run" -d 'Create and start a container, and wait for it in the foreground'
complete -c husk -n "__fish_husk_needs_command" -f -a "state" -d 'Print the state of a container as JSON'
complete -c husk -n "__fish_husk_needs_command" -f -a "list" -d 'List containers'
complete -c husk -n "__fish_husk_needs_command" -f -a "ls" -d 'List containers'
complete -c husk -n "__fish_husk_needs_command" -f -a "kill" -d 'Send a signal to a container\'s process (default TERM)'
complete -c husk -n "__fish_husk_needs_command" -f -a "delete" -d 'Delete containers and everything they hold'
complete -c husk -n "__fish_husk_needs_command" -f -a "rm" -d 'Delete containers and everything they hold'
complete -c husk -n "__fish_husk_needs_command" -f -a "ps" -d 'List the processes in a container'
complete -c husk -n "__fish_husk_needs_command" -f -a "top" -d 'List the processes in a container'
complete -c husk -n "__fish_husk_needs_command" -f -a "pause" -d 'Suspend every process in a container'
complete -c husk -n "__fish_husk_needs_command" -f -a "resume" -d 'Resume a paused container'
complete -c husk -n "__fish_husk_needs_command" -f -a "exec" -d 'Run a new process in a running container'
complete -c husk -n "__fish_husk_needs_command" -f -a "update" -d 'Change the resources of a running container'
complete -c husk -n "__fish_husk_needs_command" -f -a "events" -d 'Print a container\'s lifecycle events (or, with --stats/--interval, runc\'s stats stream)'
complete -c husk -n "__fish_husk_needs_command" -f -a "stop" -d 'Stop containers: the stop signal, then SIGKILL after the timeout'
complete -c husk -n "__fish_husk_needs_command" -f -a "restart" -d 'Stop a container and start it again with the same config and id'
complete -c husk -n "__fish_husk_needs_command" -f -a "wait" -d 'Wait until containers exit (or run, or are healthy)'
complete -c husk -n "__fish_husk_needs_command" -f -a "logs" -d 'Print the stdout and stderr of a detached container'
complete -c husk -n "__fish_husk_needs_command" -f -a "health" -d 'Run a container\'s health check once now; exit 0 when healthy'
complete -c husk -n "__fish_husk_needs_command" -f -a "stats" -d 'Show cpu, memory, network, block io and pids use of containers'
complete -c husk -n "__fish_husk_needs_command" -f -a "checkpoint" -d 'Checkpoint a running container with CRIU (it is then destroyed, unless --leave-running)'
complete -c husk -n "__fish_husk_needs_command" -f -a "restore" -d 'Restore a container from a CRIU checkpoint and run it'
complete -c husk -n "__fish_husk_needs_command" -f -a "features" -d 'Print what this runtime supports, as OCI features JSON'
complete -c husk -n "__fish_husk_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c husk -n "__fish_husk_using_subcommand spec" -s b -l bundle -d 'Directory to write config.json to' -r -F
complete -c husk -n "__fish_husk_using_subcommand spec" -l rootless -d 'Write a config for running without root (user namespace, no cgroup limits)'
complete -c husk -n "__fish_husk_using_subcommand spec" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand create" -s b -l bundle -d 'Bundle directory (config.json and rootfs)' -r -F
complete -c husk -n "__fish_husk_using_subcommand create" -l pid-file -d 'Write the container\'s host pid to FILE' -r -F
complete -c husk -n "__fish_husk_using_subcommand create" -l console-socket -d 'AF_UNIX socket that receives the pty master when process.terminal is true' -r -F
complete -c husk -n "__fish_husk_using_subcommand create" -l preserve-fds -d 'Pass N extra fds (3 .. 3+N-1) to the container process' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l restart -d 'Restart policy: no, on-failure[:N], always, unless-stopped' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l stop-signal -d 'Signal `stop` sends first (default TERM)' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l stop-timeout -d 'Time `stop` waits before SIGKILL (default 10s)' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l health-cmd -d 'Health check: a shell command run in the container; exit 0 = healthy' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l health-tcp -d 'Health check: a TCP port on 127.0.0.1 in the container\'s network namespace' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l health-http -d 'Health check: an http:// URL fetched in the container\'s network namespace; 2xx/3xx = healthy' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l health-file -d 'Health check: a path that must exist in the container' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l health-interval -d 'Time between health checks (default 30s)' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l health-timeout -d 'Time a health check may take (default 30s)' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l health-retries -d 'Consecutive failures that make the container unhealthy (default 3)' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l health-start-period -d 'Failures in this time after start do not count (default 0s)' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l log-max-size -d 'Rotate the container log at this size (default 10m)' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l log-max-files -d 'Rotated log files to keep (default 3)' -r
complete -c husk -n "__fish_husk_using_subcommand create" -l no-pivot -d 'Use chroot instead of pivot_root (for a rootfs on ramfs)'
complete -c husk -n "__fish_husk_using_subcommand create" -l no-new-keyring -d 'Do not give the container its own session keyring'
complete -c husk -n "__fish_husk_using_subcommand create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c husk -n "__fish_husk_using_subcommand start" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand run" -s b -l bundle -d 'Bundle directory (config.json and rootfs)' -r -F
complete -c husk -n "__fish_husk_using_subcommand run" -l pid-file -d 'Write the container\'s host pid to FILE' -r -F
complete -c husk -n "__fish_husk_using_subcommand run" -l console-socket -d 'AF_UNIX socket that receives the pty master when process.terminal is true' -r -F
complete -c husk -n "__fish_husk_using_subcommand run" -l preserve-fds -d 'Pass N extra fds (3 .. 3+N-1) to the container process' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l restart -d 'Restart policy: no, on-failure[:N], always, unless-stopped' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l stop-signal -d 'Signal `stop` sends first (default TERM)' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l stop-timeout -d 'Time `stop` waits before SIGKILL (default 10s)' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l health-cmd -d 'Health check: a shell command run in the container; exit 0 = healthy' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l health-tcp -d 'Health check: a TCP port on 127.0.0.1 in the container\'s network namespace' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l health-http -d 'Health check: an http:// URL fetched in the container\'s network namespace; 2xx/3xx = healthy' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l health-file -d 'Health check: a path that must exist in the container' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l health-interval -d 'Time between health checks (default 30s)' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l health-timeout -d 'Time a health check may take (default 30s)' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l health-retries -d 'Consecutive failures that make the container unhealthy (default 3)' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l health-start-period -d 'Failures in this time after start do not count (default 0s)' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l log-max-size -d 'Rotate the container log at this size (default 10m)' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l log-max-files -d 'Rotated log files to keep (default 3)' -r
complete -c husk -n "__fish_husk_using_subcommand run" -l no-pivot -d 'Use chroot instead of pivot_root (for a rootfs on ramfs)'
complete -c husk -n "__fish_husk_using_subcommand run" -l no-new-keyring -d 'Do not give the container its own session keyring'
complete -c husk -n "__fish_husk_using_subcommand run" -s d -l detach -d 'Return after starting the container instead of waiting for it'
complete -c husk -n "__fish_husk_using_subcommand run" -l keep -d 'Keep the container after it exits (default: delete it)'
complete -c husk -n "__fish_husk_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c husk -n "__fish_husk_using_subcommand state" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c husk -n "__fish_husk_using_subcommand list" -s f -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c husk -n "__fish_husk_using_subcommand list" -s q -l quiet -d 'Print only the container ids'
complete -c husk -n "__fish_husk_using_subcommand list" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand ls" -s f -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c husk -n "__fish_husk_using_subcommand ls" -s q -l quiet -d 'Print only the container ids'
complete -c husk -n "__fish_husk_using_subcommand ls" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand kill" -s a -l all -d 'Signal every process in the container, not only its init'
complete -c husk -n "__fish_husk_using_subcommand kill" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand delete" -s f -l force -d 'Kill a running container first; succeed when it does not exist'
complete -c husk -n "__fish_husk_using_subcommand delete" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand rm" -s f -l force -d 'Kill a running container first; succeed when it does not exist'
complete -c husk -n "__fish_husk_using_subcommand rm" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand ps" -s f -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c husk -n "__fish_husk_using_subcommand ps" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand top" -s f -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c husk -n "__fish_husk_using_subcommand top" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand pause" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand resume" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand exec" -s p -l process -d 'A process.json (OCI Process) describing the whole process; other process flags are then ignored' -r -F
complete -c husk -n "__fish_husk_using_subcommand exec" -l console-socket -d 'AF_UNIX socket that receives the pty master' -r -F
complete -c husk -n "__fish_husk_using_subcommand exec" -l pid-file -d 'Write the process\'s host pid to FILE' -r -F
complete -c husk -n "__fish_husk_using_subcommand exec" -l cwd -d 'Working directory in the container' -r -F
complete -c husk -n "__fish_husk_using_subcommand exec" -s e -l env -d 'Set an environment variable (KEY=VALUE); may be repeated' -r
complete -c husk -n "__fish_husk_using_subcommand exec" -s u -l user -d 'Run as UID[:GID] (numbers)' -r
complete -c husk -n "__fish_husk_using_subcommand exec" -s g -l additional-gids -d 'Additional group ids; may be repeated' -r
complete -c husk -n "__fish_husk_using_subcommand exec" -s c -l cap -d 'Add a capability (e.g. CAP_SYS_ADMIN) to every set; may be repeated' -r
complete -c husk -n "__fish_husk_using_subcommand exec" -l apparmor -d 'AppArmor profile for the process' -r
complete -c husk -n "__fish_husk_using_subcommand exec" -l process-label -d 'SELinux label for the process' -r
complete -c husk -n "__fish_husk_using_subcommand exec" -l preserve-fds -d 'Pass N extra fds (3 .. 3+N-1) to the process' -r
complete -c husk -n "__fish_husk_using_subcommand exec" -s t -l tty -d 'Allocate a pseudo-terminal'
complete -c husk -n "__fish_husk_using_subcommand exec" -s d -l detach -d 'Return once the process has started instead of waiting for it'
complete -c husk -n "__fish_husk_using_subcommand exec" -l no-new-privs -d 'Set no_new_privs for the process'
complete -c husk -n "__fish_husk_using_subcommand exec" -l ignore-paused -d 'Exec even into a paused container (the process starts frozen)'
complete -c husk -n "__fish_husk_using_subcommand exec" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand update" -s r -l resources -d 'OCI LinuxResources JSON from FILE, or "-" for stdin (zero values leave things as they are)' -r -F
complete -c husk -n "__fish_husk_using_subcommand update" -s m -l memory -d 'Memory limit (e.g. 64m, -1 for none)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l memory-swap -d 'Memory plus swap limit (e.g. 128m, -1 for none)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l memory-reservation -d 'Memory soft limit' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l kernel-memory-tcp -d 'Kernel TCP buffer memory limit (cgroup v1)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l cpu-shares -d 'CPU shares (relative weight)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l cpu-quota -d 'CPU CFS quota in microseconds per period (-1 for none)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l cpu-period -d 'CPU CFS period in microseconds' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l cpu-rt-period -d 'Realtime period in microseconds (cgroup v1)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l cpu-rt-runtime -d 'Realtime runtime in microseconds (cgroup v1)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l cpuset-cpus -d 'CPUs the container may use (e.g. 0-1)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l cpuset-mems -d 'Memory nodes the container may use' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l pids-limit -d 'Maximum number of processes (-1 or 0 for none)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -l blkio-weight -d 'Block IO weight (10-1000)' -r
complete -c husk -n "__fish_husk_using_subcommand update" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand events" -l interval -d 'runc\'s stream: stats every DURATION and oom events (e.g. 5s)' -r
complete -c husk -n "__fish_husk_using_subcommand events" -l since -d 'Only events after this time (RFC 3339) or this long ago (e.g. 10m)' -r
complete -c husk -n "__fish_husk_using_subcommand events" -l stats -d 'Print the container\'s stats once, in runc\'s form, and exit'
complete -c husk -n "__fish_husk_using_subcommand events" -s f -l follow -d 'Keep printing new events as they happen'
complete -c husk -n "__fish_husk_using_subcommand events" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand stop" -s t -l time -d 'Seconds (or a duration such as 500ms) to wait before SIGKILL (default: the container\'s stop timeout)' -r
complete -c husk -n "__fish_husk_using_subcommand stop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c husk -n "__fish_husk_using_subcommand restart" -s t -l time -d 'Seconds (or a duration) to wait before SIGKILL (default: the container\'s stop timeout)' -r
complete -c husk -n "__fish_husk_using_subcommand restart" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand wait" -l condition -d 'What to wait for' -r -f -a "exited\t''
running\t''
healthy\t''"
complete -c husk -n "__fish_husk_using_subcommand wait" -l timeout -d 'Give up after this long (e.g. 30s) with exit status 124' -r
complete -c husk -n "__fish_husk_using_subcommand wait" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c husk -n "__fish_husk_using_subcommand logs" -s n -l tail -d 'Only the last N lines' -r
complete -c husk -n "__fish_husk_using_subcommand logs" -s f -l follow -d 'Keep printing new output'
complete -c husk -n "__fish_husk_using_subcommand logs" -s t -l timestamps -d 'Prefix each line with its time (RFC 3339)'
complete -c husk -n "__fish_husk_using_subcommand logs" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c husk -n "__fish_husk_using_subcommand health" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c husk -n "__fish_husk_using_subcommand stats" -s f -l format -d 'Output format (json: one object per container and sample, one per line)' -r -f -a "table\t''
json\t''"
complete -c husk -n "__fish_husk_using_subcommand stats" -l interval -d 'Time between samples, e.g. 2s or 500ms (default 1s; with --no-stream 200ms)' -r
complete -c husk -n "__fish_husk_using_subcommand stats" -l no-stream -d 'Print one sample and exit instead of refreshing until interrupted'
complete -c husk -n "__fish_husk_using_subcommand stats" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l image-path -d 'Directory of the CRIU image files' -r -F
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l work-path -d 'Directory for CRIU\'s logs and scratch files (default: the image directory)' -r -F
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l manage-cgroups-mode -d 'How CRIU handles cgroups (default: CRIU\'s own, soft)' -r -f -a "soft\t''
full\t''
strict\t''
ignore\t''"
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l parent-path -d 'Directory of a previous (pre-)dump, relative to --image-path' -r -F
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l empty-ns -d 'Namespaces to recreate empty on restore (only "network", which always is)' -r
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l tcp-established -d 'Allow open TCP connections'
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l ext-unix-sk -d 'Allow external unix sockets'
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l shell-job -d 'Allow shell jobs (a process attached to a terminal from outside)'
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l file-locks -d 'Handle file locks'
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l leave-running -d 'Leave the container running after the checkpoint'
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -l pre-dump -d 'Dump the memory only, to be built on by a later dump (--parent-path); the container runs on'
complete -c husk -n "__fish_husk_using_subcommand checkpoint" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand restore" -l image-path -d 'Directory of the CRIU image files' -r -F
complete -c husk -n "__fish_husk_using_subcommand restore" -l work-path -d 'Directory for CRIU\'s logs and scratch files (default: the image directory)' -r -F
complete -c husk -n "__fish_husk_using_subcommand restore" -l manage-cgroups-mode -d 'How CRIU handles cgroups (default: CRIU\'s own, soft)' -r -f -a "soft\t''
full\t''
strict\t''
ignore\t''"
complete -c husk -n "__fish_husk_using_subcommand restore" -s b -l bundle -d 'Bundle directory (default: the bundle the checkpoint was taken from)' -r -F
complete -c husk -n "__fish_husk_using_subcommand restore" -l pid-file -d 'Write the container\'s host pid to FILE' -r -F
complete -c husk -n "__fish_husk_using_subcommand restore" -l console-socket -d 'AF_UNIX socket for the pty master (containers with a terminal cannot be restored yet)' -r -F
complete -c husk -n "__fish_husk_using_subcommand restore" -l restart -d 'Restart policy: no, on-failure[:N], always, unless-stopped' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l stop-signal -d 'Signal `stop` sends first (default TERM)' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l stop-timeout -d 'Time `stop` waits before SIGKILL (default 10s)' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l health-cmd -d 'Health check: a shell command run in the container; exit 0 = healthy' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l health-tcp -d 'Health check: a TCP port on 127.0.0.1 in the container\'s network namespace' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l health-http -d 'Health check: an http:// URL fetched in the container\'s network namespace; 2xx/3xx = healthy' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l health-file -d 'Health check: a path that must exist in the container' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l health-interval -d 'Time between health checks (default 30s)' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l health-timeout -d 'Time a health check may take (default 30s)' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l health-retries -d 'Consecutive failures that make the container unhealthy (default 3)' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l health-start-period -d 'Failures in this time after start do not count (default 0s)' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l log-max-size -d 'Rotate the container log at this size (default 10m)' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l log-max-files -d 'Rotated log files to keep (default 3)' -r
complete -c husk -n "__fish_husk_using_subcommand restore" -l tcp-established -d 'Allow open TCP connections'
complete -c husk -n "__fish_husk_using_subcommand restore" -l ext-unix-sk -d 'Allow external unix sockets'
complete -c husk -n "__fish_husk_using_subcommand restore" -l shell-job -d 'Allow shell jobs (a process attached to a terminal from outside)'
complete -c husk -n "__fish_husk_using_subcommand restore" -l file-locks -d 'Handle file locks'
complete -c husk -n "__fish_husk_using_subcommand restore" -s d -l detach -d 'Return once the container runs instead of waiting for it'
complete -c husk -n "__fish_husk_using_subcommand restore" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand features" -s h -l help -d 'Print help'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "spec" -d 'Write a default config.json (a bundle\'s configuration) to the bundle directory'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "create" -d 'Create a container from a bundle; its process waits for `start`'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "start" -d 'Start the process of a created container'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "run" -d 'Create and start a container, and wait for it in the foreground'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "state" -d 'Print the state of a container as JSON'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "list" -d 'List containers'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "kill" -d 'Send a signal to a container\'s process (default TERM)'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "delete" -d 'Delete containers and everything they hold'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "ps" -d 'List the processes in a container'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "pause" -d 'Suspend every process in a container'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "resume" -d 'Resume a paused container'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "exec" -d 'Run a new process in a running container'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "update" -d 'Change the resources of a running container'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "events" -d 'Print a container\'s lifecycle events (or, with --stats/--interval, runc\'s stats stream)'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "stop" -d 'Stop containers: the stop signal, then SIGKILL after the timeout'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "restart" -d 'Stop a container and start it again with the same config and id'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "wait" -d 'Wait until containers exit (or run, or are healthy)'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "logs" -d 'Print the stdout and stderr of a detached container'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "health" -d 'Run a container\'s health check once now; exit 0 when healthy'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "stats" -d 'Show cpu, memory, network, block io and pids use of containers'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "checkpoint" -d 'Checkpoint a running container with CRIU (it is then destroyed, unless --leave-running)'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "restore" -d 'Restore a container from a CRIU checkpoint and run it'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "features" -d 'Print what this runtime supports, as OCI features JSON'
complete -c husk -n "__fish_husk_using_subcommand help; and not __fish_seen_subcommand_from spec create start run state list kill delete ps pause resume exec update events stop restart wait logs health stats checkpoint restore features help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
