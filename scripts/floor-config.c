/*
 * floor-config: the kernel work that the bench's config asks of any runtime,
 * done with nothing else around it.
 *
 * shared/bench/floor measures clone with every namespace, pivot_root and exec.
 * A runtime that honours `husk spec`'s default config (runc's) must also:
 *   - make the container's cgroup in every hierarchy the host mounts (ten on
 *     a hybrid host, one on cgroup v2), with its cpuset and devices set up,
 *     move the init into it, and remove it after the container has exited;
 *   - keep the container's state on disk (a directory with one record);
 *   - mount /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and
 *     /sys/fs/cgroup, make the device nodes and their links, mask ten paths
 *     and make five read-only, and the root;
 *   - set the hostname, an rlimit, the capability sets and no_new_privs.
 * This program does exactly that, in the cheapest order we know (husk's:
 * the child is born in its cgroup2 directory, makes its netns while the
 * parent makes the v1 cgroups, then moves itself into those), with no
 * parsing of the config, no error reporting beyond a message and no record
 * of anything but the minimum. husk's run ÷ this is what husk adds.
 *
 * usage: floor-config ROOTFS ID STATE_DIR [CMD [ARG...]]   (CMD: /bin/true)
 *        as root; the cgroups are made under the caller's own, where a
 *        relative cgroupsPath puts them
 * build: cc -O2 -static -o floor-config floor-config.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_H 16
struct hier {
    char mnt[256];   /* where the host mounts it */
    char dir[512];   /* the container's cgroup in it */
    char name[64];   /* the last component of mnt: the name under /sys/fs/cgroup */
    int v2;
};
static struct hier h[MAX_H];
static int nh;
static const char *rootfs;
static char **cmd;
static char *default_cmd[] = {"/bin/true", NULL};
static int go[2];

static void die(const char *what)
{
    fprintf(stderr, "floor-config: %s: %s\n", what, strerror(errno));
    _exit(125);
}

static void put(const char *path, const char *val)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, val, strlen(val)) < 0)
        die(path);
    close(fd);
}

static void get(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r = fd < 0 ? -1 : read(fd, buf, n - 1);
    if (r < 0)
        die(path);
    buf[r] = 0;
    close(fd);
}

/* Whether every comma-separated word of want is one of the words of opts. */
static int has_all(const char *opts, const char *want, size_t n)
{
    while (n > 0) {
        size_t w = strcspn(want, ","), o;
        if (w > n)
            w = n;
        const char *x = opts;
        for (;;) {
            o = strcspn(x, ",");
            if (o == w && strncmp(x, want, w) == 0)
                break;
            if (!x[o])
                return 0;
            x += o + 1;
        }
        want += w + 1;
        n = n > w ? n - w - 1 : 0;
    }
    return 1;
}

/* The cgroup mounts of the host and the caller's place in each. */
static void find_hierarchies(const char *id)
{
    static char cg[4096], mi[16384];
    get("/proc/self/cgroup", cg, sizeof cg);
    get("/proc/self/mountinfo", mi, sizeof mi);
    for (char *l = strtok(mi, "\n"); l && nh < MAX_H; l = strtok(NULL, "\n")) {
        char mnt[256], fstype[32], opts[512];
        char *sep = strstr(l, " - ");
        if (!sep || sscanf(l, "%*s %*s %*s %*s %255s", mnt) != 1 ||
            sscanf(sep + 3, "%31s %*s %511s", fstype, opts) != 2)
            continue;
        int v2 = strcmp(fstype, "cgroup2") == 0;
        if (!v2 && strcmp(fstype, "cgroup") != 0)
            continue;
        /* The line of /proc/self/cgroup for this hierarchy: "0::" for v2,
         * else the one whose controller list the mount options contain. */
        char *own = NULL;
        for (char *c = cg; c && *c; c = strchr(c, '\n') ? strchr(c, '\n') + 1 : NULL) {
            char *ctl = strchr(c, ':') + 1, *path = strchr(ctl, ':') + 1;
            size_t n = path - 1 - ctl;
            if (v2 ? n == 0 : n > 0 && has_all(opts, ctl, n)) {
                own = strndupa(path, strcspn(path, "\n"));
                break;
            }
        }
        if (!own)
            continue;
        struct hier *x = &h[nh++];
        snprintf(x->mnt, sizeof x->mnt, "%s", mnt);
        snprintf(x->dir, sizeof x->dir, "%s%s/%s", mnt, strcmp(own, "/") ? own : "", id);
        snprintf(x->name, sizeof x->name, "%s", strrchr(mnt, '/') + 1);
        x->v2 = v2;
    }
}

/* Makes the container's cgroup in the cgroup2 hierarchy (v2: before the
 * clone, which places the child in it) or in the v1 ones (after it). */
static void make_cgroups(int v2)
{
    char p[600], v[256];
    for (int i = 0; i < nh; i++) {
        if (h[i].v2 != v2)
            continue;
        if (mkdir(h[i].dir, 0755) < 0)
            die(h[i].dir);
        if (strcmp(h[i].name, "cpuset") == 0) {
            snprintf(p, sizeof p, "%s/../cpuset.cpus", h[i].dir), get(p, v, sizeof v);
            snprintf(p, sizeof p, "%s/cpuset.cpus", h[i].dir), put(p, v);
            snprintf(p, sizeof p, "%s/../cpuset.mems", h[i].dir), get(p, v, sizeof v);
            snprintf(p, sizeof p, "%s/cpuset.mems", h[i].dir), put(p, v);
        }
        if (strcmp(h[i].name, "devices") == 0) {
            /* The config's deny-all, then the devices every runtime allows. */
            static const char *allow[] = {"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",
                "c 10:200 rwm"};
            snprintf(p, sizeof p, "%s/devices.deny", h[i].dir), put(p, "a");
            snprintf(p, sizeof p, "%s/devices.allow", h[i].dir);
            for (size_t a = 0; a < sizeof allow / sizeof *allow; a++)
                put(p, allow[a]);
        }
    }
}

/* Runs in: the child. Moves itself into each v1 hierarchy: a thread
 * writing 0 to `tasks` needs none of the global lock that a move by pid
 * takes (which waits for an RCU grace period when none passed lately). */
static void join_v1(void)
{
    char p[600];
    for (int i = 0; i < nh; i++)
        if (!h[i].v2)
            snprintf(p, sizeof p, "%s/tasks", h[i].dir), put(p, "0");
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long fl, const char *data)
{
    char p[512];
    snprintf(p, sizeof p, "%s%s", rootfs, dst);
    mkdir(p, 0755);
    if (mount(src, p, type, fl, data) < 0)
        die(dst);
}

static int child(void *arg)
{
    (void)arg;
    char c, p[512];
    if (unshare(CLONE_NEWNET) < 0)
        die("unshare net");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private");
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        die("bind rootfs");
    mnt("proc", "/proc", "proc", 0, NULL);
    mnt("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
    mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    mnt("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k");
    mnt("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
    mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, NULL);
    /* The cgroup mounts and the device nodes wait for the v1 cgroups. */
    if (read(go[0], &c, 1) != 1)
        _exit(125);
    join_v1();
    if (nh == 1 && h[0].v2) {
        mnt(h[0].dir, "/sys/fs/cgroup", NULL, MS_BIND | MS_REC, NULL);
        mnt(NULL, "/sys/fs/cgroup", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
    } else {
        mnt("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=755");
        for (int i = 0; i < nh; i++) {
            if (h[i].v2) /* a hybrid host's cgroup2 is joined, not shown */
                continue;
            snprintf(p, sizeof p, "/sys/fs/cgroup/%s", h[i].name);
            mnt(h[i].dir, p, NULL, MS_BIND | MS_REC, NULL);
            mnt(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);
        }
        mnt(NULL, "/sys/fs/cgroup", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=755");
    }
    static const struct { const char *name; int maj, min; } dev[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) {
        snprintf(p, sizeof p, "%s/dev/%s", rootfs, dev[i].name);
        if (mknod(p, S_IFCHR | 0666, makedev(dev[i].maj, dev[i].min)) < 0)
            die(p);
    }
    static const char *link[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}};
    for (size_t i = 0; i < sizeof link / sizeof *link; i++) {
        snprintf(p, sizeof p, "%s/dev/%s", rootfs, link[i][1]);
        if (symlink(link[i][0], p) < 0)
            die(p);
    }
    if (chdir(rootfs) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        die("pivot_root");
    static const char *masked[] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
        "/sys/firmware", "/proc/scsi"};
    for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
        struct stat st;
        if (stat(masked[i], &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) ? mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, NULL) < 0
                                : mount("/dev/null", masked[i], NULL, MS_BIND, NULL) < 0)
            die(masked[i]);
    }
    static const char *ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
    for (size_t i = 0; i < sizeof ro / sizeof *ro; i++)
        if (access(ro[i], F_OK) == 0 && (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0 ||
                                         mount(NULL, ro[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0))
            die(ro[i]);
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        die("read-only root");
    if (sethostname("husk", 4) < 0)
        die("sethostname");
    struct rlimit rl = {1024, 1024};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        die("setrlimit");
    const unsigned keep = 1u << CAP_AUDIT_WRITE | 1u << CAP_KILL | 1u << CAP_NET_BIND_SERVICE;
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap) >= 0; cap++)
        if (cap >= 32 || !(keep >> cap & 1))
            if (prctl(PR_CAPBSET_DROP, cap) < 0)
                die("drop bounding cap");
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{keep, keep, keep}, {0, 0, 0}};
    if (syscall(SYS_capset, &hdr, data) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("capabilities");
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", NULL};
    execve(cmd[0], cmd, envp);
    die("execve");
    return 125;
}

int main(int argc, char **argv)
{
    char dir[512], rec[600], tmp[600];
    int status, fd;
    if (argc < 4) {
        fprintf(stderr, "usage: floor-config ROOTFS ID STATE_DIR [CMD [ARG...]]\n");
        return 2;
    }
    rootfs = argv[1];
    cmd = argc > 4 ? &argv[4] : default_cmd;
    find_hierarchies(argv[2]);
    snprintf(dir, sizeof dir, "%s/%s", argv[3], argv[2]);
    snprintf(rec, sizeof rec, "%s/state.json", dir);
    snprintf(tmp, sizeof tmp, "%s/state.json.tmp", dir);
    if (mkdir(dir, 0711) < 0 || (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
        write(fd, "{\"status\":\"creating\"}", 21) < 0 || close(fd) < 0 || rename(tmp, rec) < 0)
        die("state");
    if (pipe2(go, O_CLOEXEC) < 0)
        die("pipe");
    /* Born in its cgroup2 directory (clone3 CLONE_INTO_CGROUP, 5.7+). */
    make_cgroups(1);
    struct clone_args ca = {.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC,
                            .exit_signal = SIGCHLD};
    for (int i = 0; i < nh; i++)
        if (h[i].v2) {
            if ((fd = open(h[i].dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                die(h[i].dir);
            ca.flags |= CLONE_INTO_CGROUP;
            ca.cgroup = fd;
        }
    pid_t pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0)
        die("clone3");
    if (pid == 0)
        _exit(child(NULL));
    make_cgroups(0);
    if (write(go[1], "", 1) != 1)
        die("go");
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid");
    for (int i = nh - 1; i >= 0; i--)
        if (rmdir(h[i].dir) < 0)
            die(h[i].dir);
    if (unlink(rec) < 0 || rmdir(dir) < 0)
        die("remove state");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
