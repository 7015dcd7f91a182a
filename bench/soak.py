#!/usr/bin/env python3
"""make soak: credsd under steady mixed load, watching for errors and memory growth.

64 connections for SOAK_SECONDS (default 600): 56 resolve without pause over the resolve socket (with a
grant, as a workflow executor would), 8 admin clients each keep updating their own connection with
connections.upsert (durable writes; every resolve also appends an audit entry, so the store keeps writing).
Prints requests, errors and RSS at start (after a warm-up) and end; the bar is 0 errors and RSS growth < 5%.
Exits 1 when the bar is missed.
"""
import json, os, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import OUT, Daemon, build_tools, call  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
WARMUP = min(60.0, max(2.0, SECONDS / 10))
RESOLVERS, WRITERS = 56, 8
# Every resolve appends an audit entry; retention keeps the newest AUDIT_ENTRIES, so the store reaches its
# steady size during the warm-up and what grows after that is memory the daemon holds, not audit history.
AUDIT_ENTRIES = int(os.environ.get("SOAK_AUDIT_ENTRIES", "100000"))


def memory_kb(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0])
    return fields


def run_loadgen(args, results, index):
    out = subprocess.run([os.path.join(OUT, "loadgen")] + args, capture_output=True, text=True)
    results[index] = (out.returncode, out.stdout, out.stderr)


def main():
    build_tools()
    tmp = tempfile.mkdtemp(prefix="credsd-soak-")
    daemon = Daemon(tmp, f"[audit]\nmaxEntries = {AUDIT_ENTRIES}\n")
    daemon.start()
    pid = daemon.proc.pid
    call(daemon.admin, "members.set", {"workspaceId": "soak", "principal": "soak", "role": "write"})
    key = "6f1c2a3b-1111-4222-8333-944455556666:0123456789abcdef0123456789abcdef"
    call(daemon.admin, "connections.upsert", {"workspaceId": "soak", "provider": "fal", "displayName": "soak",
                                             "credentialPayload": {"apiKey": key}, "actor": "soak"})
    grant, _ = call(daemon.admin, "grants.issue", {"workspaceId": "soak", "ttlSeconds": 86400})
    payloads = []
    resolve = os.path.join(tmp, "resolve.json")
    with open(resolve, "w") as f:
        json.dump({"jsonrpc": "2.0", "id": 1, "method": "resolve",
                   "params": {"workspaceId": "soak", "provider": "fal", "grant": grant["grant"]}}, f)
    for i in range(WRITERS):
        connection, _ = call(daemon.admin, "connections.upsert", {
            "workspaceId": "soak", "provider": "elevenlabs", "displayName": f"writer {i}",
            "credentialPayload": {"apiKey": f"sk_soak_writer_{i}_0"}, "actor": "soak"})
        path = os.path.join(tmp, f"upsert-{i}.json")
        with open(path, "w") as f:
            json.dump({"jsonrpc": "2.0", "id": 1, "method": "connections.upsert",
                       "params": {"workspaceId": "soak", "provider": "elevenlabs", "displayName": f"writer {i}",
                                  "connectionId": connection["connection"]["id"],
                                  "credentialPayload": {"apiKey": f"sk_soak_writer_{i}_1"}, "actor": "soak"}}, f)
        payloads.append(path)

    total = WARMUP + SECONDS
    jobs = [(["--socket", daemon.resolve, "--connections", str(RESOLVERS), "--payload", resolve,
              "--seconds", str(total), "--warmup", "0", "--expect", '"credential"'])]
    jobs += [(["--socket", daemon.admin, "--connections", "1", "--payload", p, "--seconds", str(total),
               "--warmup", "0", "--expect", '"connection"']) for p in payloads]
    results = [None] * len(jobs)
    threads = [threading.Thread(target=run_loadgen, args=(args, results, i)) for i, args in enumerate(jobs)]
    print(f"soak: {SECONDS:g} s after {WARMUP:g} s of warm-up, {RESOLVERS} resolve + {WRITERS} upsert connections, "
          f"{os.cpu_count()} cores, audit retention {AUDIT_ENTRIES} entries")
    started = time.time()
    for t in threads:
        t.start()
    time.sleep(WARMUP)
    start = memory_kb(pid)
    print(f"  t={time.time() - started:5.0f}s  RSS {start['VmRSS'] / 1024:7.1f} MB "
          f"(anon {start['RssAnon'] / 1024:.1f}, file {start['RssFile'] / 1024:.1f})  <- start")
    interval = float(os.environ.get("SOAK_REPORT_SECONDS", "60"))
    next_report = time.time() + interval
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        if time.time() >= next_report and daemon.proc.poll() is None:
            now = memory_kb(pid)
            print(f"  t={time.time() - started:5.0f}s  RSS {now['VmRSS'] / 1024:7.1f} MB "
                  f"(anon {now['RssAnon'] / 1024:.1f}, file {now['RssFile'] / 1024:.1f})", flush=True)
            next_report += interval
    alive = daemon.proc.poll() is None
    end = memory_kb(pid) if alive else {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    for t in threads:
        t.join()

    requests = errors = 0
    by_kind = {"resolve": [0, 0], "upsert": [0, 0]}
    latency = {}
    for i, (code, out, err) in enumerate(results):
        if code not in (0, 1) or not out:
            print(f"loadgen {i} failed ({code}): {err.strip()}")
            errors += 1
            continue
        fields = dict(kv.split("=") for kv in out.split())
        kind = "resolve" if i == 0 else "upsert"
        by_kind[kind][0] += int(fields["requests"])
        latency.setdefault(kind, []).append(int(fields["p99_us"]))
        by_kind[kind][1] += int(fields["errors"])
        requests += int(fields["requests"])
        errors += int(fields["errors"])
    verified = call(daemon.admin, "audit.verify")[0] if alive else {"ok": False}
    if alive:
        daemon.stop()
    growth = (end["VmRSS"] - start["VmRSS"]) / start["VmRSS"] * 100
    print(f"requests {requests} ({by_kind['resolve'][0]} resolve, {by_kind['upsert'][0]} upsert; "
          f"{requests / total:.0f}/s), errors {errors} ({by_kind['resolve'][1]} resolve, {by_kind['upsert'][1]} upsert)")
    print(f"p99 latency: resolve {max(latency.get('resolve', [0])) / 1000:.1f} ms, "
          f"upsert {max(latency.get('upsert', [0])) / 1000:.1f} ms (worst of the {WRITERS} writers)")
    print(f"RSS start {start['VmRSS'] / 1024:.1f} MB, end {end['VmRSS'] / 1024:.1f} MB, growth {growth:+.1f}% "
          f"(anon {start['RssAnon'] / 1024:.1f} -> {end['RssAnon'] / 1024:.1f} MB, "
          f"file-backed LMDB map {start['RssFile'] / 1024:.1f} -> {end['RssFile'] / 1024:.1f} MB)")
    print(f"daemon alive at the end: {alive}; audit chain verified: {verified.get('ok')}")
    passed = alive and errors == 0 and growth < 5 and verified.get("ok")
    print("soak: PASS (0 errors, RSS growth < 5%)" if passed else "soak: FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
