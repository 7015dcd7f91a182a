#!/usr/bin/env python3
"""make profile: `perf record` of credsd under the resolve load of `make bench` (64 connections, grant, API-key
connection), then `perf report` by symbol (self time) into .build/bench/profile.txt.

PROFILE_SECONDS (default 5) sets the recorded part; PROFILE_CONNECTIONS (default 64) the load; PROFILE_PERF=0 runs
the same load without perf (the figures alone: perf's sampling costs the daemon CPU of its own) and prints CPU per
request by thread. PROFILE_MALLOCS=1 counts malloc calls per resolve instead (a uprobe on libc's malloc: root), a
figure that does not move with the machine's load.
"""
import json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SECONDS = float(os.environ.get("PROFILE_SECONDS", "5"))
CONNECTIONS = int(os.environ.get("PROFILE_CONNECTIONS", "64"))
PERF = os.environ.get("PROFILE_PERF", "1") != "0"
MALLOCS = os.environ.get("PROFILE_MALLOCS") == "1"
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def count_mallocs(pid, socket, payload, requests=50_000):
    """malloc calls in the daemon per request over `requests` resolves on 8 connections."""
    subprocess.run(["perf", "probe", "-q", "-x", LIBC, "malloc"], capture_output=True)
    out = subprocess.run(["perf", "stat", "-x", ",", "-e", "probe_libc:malloc", "-p", str(pid), "--",
                          os.path.join(bench.OUT, "loadgen"), "--socket", socket, "--connections", "8",
                          "--payload", payload, "--requests", str(requests), "--expect", '"credential"'],
                         capture_output=True, text=True)
    for line in out.stderr.splitlines():
        if "probe_libc:malloc" in line:
            return int(line.split(",")[0]) / requests
    raise RuntimeError(f"perf stat gave no count: {out.stderr.strip()}")


def thread_cpu(pid):
    """CPU nanoseconds by thread name (summed over threads of the same name), from /proc/PID/task/*/schedstat."""
    totals = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except OSError:
            continue
        name = "event loops" if name.startswith("NIO-ELT") else ("store writer" if "writer" in name else name)
        totals[name] = totals.get(name, 0) + ns
    return totals


def main():
    bench.build_tools()
    tmp = tempfile.mkdtemp(prefix="credsd-profile-")
    daemon = bench.Daemon(tmp)
    daemon.start()
    bench.call(daemon.admin, "members.set", {"workspaceId": "ws1", "principal": "bench", "role": "write"})
    bench.call(daemon.admin, "connections.upsert", {"workspaceId": "ws1", "provider": "fal", "displayName": "bench",
                                                   "credentialPayload": {"apiKey": "6f1c2a3b-1111-4222-8333-944455556666:0123"},
                                                   "actor": "bench"})
    grant, _ = bench.call(daemon.admin, "grants.issue", {"workspaceId": "ws1", "ttlSeconds": 86400})
    payload = os.path.join(tmp, "resolve.json")
    with open(payload, "w") as f:
        json.dump({"jsonrpc": "2.0", "id": 1, "method": "resolve",
                   "params": {"workspaceId": "ws1", "provider": "fal", "grant": grant["grant"]}}, f)
    if MALLOCS:
        bench.loadgen(daemon.resolve, payload, 8, requests=20_000)
        print(f"mallocs per resolve: {count_mallocs(daemon.proc.pid, daemon.resolve, payload):.1f}")
        daemon.stop()
        return
    data = os.path.join(bench.OUT, "perf.data")
    load = subprocess.Popen([os.path.join(bench.OUT, "loadgen"), "--socket", daemon.resolve, "--connections",
                             str(CONNECTIONS), "--payload", payload, "--seconds", str(SECONDS + 2),
                             "--server-pid", str(daemon.proc.pid), "--expect", '"credential"'],
                            stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    before = thread_cpu(daemon.proc.pid)
    if not PERF:
        out, _ = load.communicate()
        after = thread_cpu(daemon.proc.pid)
        daemon.stop()
        print(out.strip())
        requests = int(dict(kv.split("=") for kv in out.split())["requests"])
        # The load ran SECONDS + 2 s with 1 s before `before`: scale the requests to the part measured here.
        print("cpu us per request by thread: " + ", ".join(
            f"{name} {(after.get(name, 0) - ns) / 1000 / requests * (SECONDS + 2) / (SECONDS + 1):.2f}"
            for name, ns in sorted(before.items()) if after.get(name, 0) - ns > 0))
        return
    subprocess.run(["perf", "record", "-q", "-g", "-o", data, "-p", str(daemon.proc.pid), "--", "sleep", str(SECONDS)],
                   check=True)
    out, _ = load.communicate()
    daemon.stop()
    print(out.strip())
    report = os.path.join(bench.OUT, "profile.txt")
    with open(report, "w") as f:
        subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "comm,symbol", "--stdio",
                        "-g", "none", "--percent-limit", "0.5"], stdout=f, stderr=subprocess.DEVNULL, check=True)
    print(f"profile: {report}")


if __name__ == "__main__":
    main()
