#!/usr/bin/env python3
"""How many FUSE requests each fsbench workload costs, per target, counted by the kernel.

usage (as root):
  bench/requests.py [--fs ext4|tmpfs|here] [--targets bindfs,mergerfs,project] [--only a,b]
                    [--project-mount 'CMD'] [--json OUT]

Runs the metadata and small-file workloads of the shared benchmark (../shared/bench/fsbench.py,
whose tree, file systems and mount commands it reuses) once on each target, and counts the
requests the kernel sends to each FUSE connection while the timed part of a workload runs, from
the kernel's `fuse:fuse_request_send` tracepoint (Linux 6.15+, tracefs). Nothing is timed: the
numbers are exact counts, the same on a slow machine as on a fast one. Each workload's count is
given per unit (a file for the tree walks, a create+write+close+unlink cycle for create_unlink,
a directory entry for readdir_10k) and split by request kind, so a change to the view shows as
requests added or removed.

The native file system and the kernel bind mount need no request at all; what a FUSE view
cannot avoid is argued per workload in the README (Performance).
"""
import argparse, collections, contextlib, fcntl, importlib.util, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TRACEFS = "/sys/kernel/tracing"
EVENT = f"{TRACEFS}/events/fuse/fuse_request_send"


def load_fsbench():
    path = os.path.join(REPO, "..", "shared", "bench", "fsbench.py")
    if not os.path.exists(path):
        sys.exit(f"requests.py: {path} not found (the shared material)")
    spec = importlib.util.spec_from_file_location("fsbench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class Tracer:
    """The fuse_request_send tracepoint: cleared and switched on around each counted region."""

    def __init__(self):
        if not os.path.isdir(f"{TRACEFS}/events"):
            os.makedirs(TRACEFS, exist_ok=True)
            os.system(f"mount -t tracefs nodev {TRACEFS} 2>/dev/null")
        if not os.path.isdir(EVENT):
            sys.exit("requests.py: no fuse:fuse_request_send tracepoint (Linux 6.15+ with tracefs needed)")
        write(f"{TRACEFS}/tracing_on", "0")
        # 64 MiB per CPU: a tree walk of bindfs sends some 60 000 requests, about 100 bytes each.
        write(f"{TRACEFS}/buffer_size_kb", "65536")
        write(f"{EVENT}/enable", "1")

    def close(self):
        write(f"{EVENT}/enable", "0")
        write(f"{TRACEFS}/tracing_on", "0")
        write(f"{TRACEFS}/trace", "")
        write(f"{TRACEFS}/buffer_size_kb", "1408")

    @contextlib.contextmanager
    def counting(self, out):
        """Counts the requests sent while the block runs into `out`: {connection: Counter(op)}."""
        write(f"{TRACEFS}/trace", "")
        write(f"{TRACEFS}/tracing_on", "1")
        try:
            yield
        finally:
            write(f"{TRACEFS}/tracing_on", "0")
            self._collect(out)

    def _collect(self, out):
        for cpu in os.listdir(f"{TRACEFS}/per_cpu"):
            with open(f"{TRACEFS}/per_cpu/{cpu}/stats") as f:
                for line in f:
                    if line.startswith("overrun:") and int(line.split()[1]) != 0:
                        sys.exit("requests.py: the trace buffer overran; counts would be short")
        with open(f"{TRACEFS}/trace") as f:
            for line in f:
                if "fuse_request_send:" not in line:
                    continue
                words = line.split()
                conn = int(words[words.index("connection") + 1])
                op = words[words.index("opcode") + 2].strip("()").removeprefix("FUSE_")
                out.setdefault(conn, collections.Counter())[op] += 1


def kernel_dev(path):
    """A mount's device number as the kernel stores it in a FUSE connection (MKDEV)."""
    dev = os.stat(path).st_dev
    return (os.major(dev) << 20) | os.minor(dev)


def workloads(fb):
    """(name, units, run): `run(d, count)` repeats fsbench's workload on directory d, with only
    the part fsbench times inside `count()`."""
    back = fb.BACK

    def files(d):
        for root, _, names in os.walk(f"{d}/tree"):
            for name in names:
                yield os.path.join(root, name)

    def stat_tree(d, count):
        fb.drop_caches()
        with count():
            for p in files(d):
                os.lstat(p)

    def restat_warm(d, count):
        for p in files(d):
            os.lstat(p)
        with count():
            for p in files(d):
                os.lstat(p)

    def readdir_10k(d, count):
        fb.drop_caches()
        with count():
            for _ in range(3):
                with os.scandir(f"{d}/big") as it:
                    sum(1 for _ in it)

    def read_small(d, count):
        fb.drop_caches()
        with count():
            for p in files(d):
                with open(p, "rb") as f:
                    f.read()

    def grep_tree(d, count):
        fb.drop_caches()
        with count():
            fb.sh(f"grep -rq zzzz-not-there {d}/tree", check=False)

    def read_small_warm(d, count):
        for p in files(d):
            with open(p, "rb") as f:
                f.read()
        with count():
            for p in files(d):
                with open(p, "rb") as f:
                    f.read()

    def create_unlink(d, count):
        s = f"{d}/scratch/cu"
        os.makedirs(s, exist_ok=True)
        blob = b"x" * 4096
        with count():
            for i in range(2000):
                with open(f"{s}/n{i}", "wb") as f:
                    f.write(blob)
            for i in range(2000):
                os.unlink(f"{s}/n{i}")
        os.rmdir(s)

    nfiles = sum(len(n) for _, _, n in os.walk(f"{back}/tree"))
    nbig = len(os.listdir(f"{back}/big"))
    return [
        ("stat_tree", ("file", nfiles), stat_tree),
        ("restat_warm", ("file", nfiles), restat_warm),
        ("readdir_10k", ("entry", 3 * nbig), readdir_10k),
        ("read_small", ("file", nfiles), read_small),
        ("read_small_warm", ("file", nfiles), read_small_warm),
        ("grep_tree", ("file", nfiles), grep_tree),
        ("create_unlink", ("cycle", 2000), create_unlink),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fs", default="ext4", help="ext4 (default), tmpfs or here: fsbench's --fs")
    ap.add_argument("--targets", default="bindfs,mergerfs,project")
    ap.add_argument("--only", default="")
    ap.add_argument("--project-mount", default=os.environ.get("PROJECT_MOUNT") or
                    f"{REPO}/target/release/bindfs-rs mount {{mnt}} --link {{mnt}}={{backing}}")
    ap.add_argument("--json")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("requests.py: must run as root (mounts, drop_caches, tracefs)")
    fb = load_fsbench()
    # fsbench rebuilds /tmp/fsbench as it likes: share its lock with bench/view.sh.
    lock = open("/tmp/fsbench.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit("requests.py: another benchmark run holds /tmp/fsbench.lock")
    undo = fb.mount_backing(a.fs)
    tracer = Tracer()
    targets = [t for t in a.targets.split(",") if t]
    specs = fb.target_specs(a.project_mount)
    try:
        fb.make_tree(False)
        paths, errors = fb.mount_all(specs, targets)
        for t, e in errors.items():
            print(f"{t}: {e}", file=sys.stderr)
        try:
            results = run(fb, tracer, paths, set(filter(None, a.only.split(","))))
        finally:
            fb.unmount_all(specs, targets)
    finally:
        tracer.close()
        if undo:
            fb.sh(undo, check=False)
    report(results, [t for t in targets if t in paths])
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


def run(fb, tracer, paths, only):
    results = {}
    for name, (unit, n), fn in workloads(fb):
        if only and name not in only:
            continue
        for t, path in paths.items():
            counts = {}
            fn(path, lambda: tracer.counting(counts))
            ops = counts.get(kernel_dev(path), collections.Counter())
            results.setdefault(name, {})[t] = {"unit": unit, "units": n, "ops": dict(ops)}
    return results


def report(results, targets):
    print("requests per unit, by kind (the kernel's count; native and kernel bind: none)")
    for name, per in results.items():
        for t in targets:
            r = per.get(t)
            if r is None:
                continue
            total = sum(r["ops"].values())
            kinds = ", ".join(f"{op} {c / r['units']:.3g}" for op, c in sorted(r["ops"].items(), key=lambda x: -x[1]))
            print(f"{name:16} {t:9} {total / r['units']:7.3g} per {r['unit']}: {kinds}")


if __name__ == "__main__":
    main()
