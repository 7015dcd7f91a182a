#!/usr/bin/env python3
"""make bench (issue 15): the cost of budgets on the resolve path.

One daemon with a platform Fal key; a workspace without a key of its own, so every resolve is built-in and goes
through the budget's admission. Runs alternate between no budget (off) and a budget whose limits are never
reached (on: month, maxResolves and perMinute far away), three of each per connection count, and print the
medians of latency and of the daemon's CPU per resolve, with on / off ratios. Target: on within 10 % of off.
"""
import os, statistics, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Daemon, SECONDS, build_tools, call, loadgen  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_BUDGET_ROUNDS", "3"))


def main():
    build_tools()
    tmp = tempfile.mkdtemp(prefix="credsd-bench-budgets-")
    key = os.path.join(tmp, "fal.key")
    with open(key, "w") as f:
        f.write("platform-fal-bench-key\n")
    os.chmod(key, 0o600)
    daemon = Daemon(tmp, extra_config=f'[builtin]\nfal = "{key}"\n')
    daemon.start()
    call(daemon.admin, "members.set", {"workspaceId": "wb", "principal": "bench", "role": "write"})
    grant, _ = call(daemon.admin, "grants.issue", {"workspaceId": "wb", "ttlSeconds": 86400})
    payload = os.path.join(tmp, "resolve.json")
    with open(payload, "w") as f:
        import json
        json.dump({"jsonrpc": "2.0", "id": 1, "method": "resolve",
                   "params": {"workspaceId": "wb", "provider": "fal", "grant": grant["grant"]}}, f)

    def budget(on):
        params = {"workspaceId": "wb", "provider": "fal", "period": "month", "actor": "bench"}
        if on:
            params.update({"maxResolves": 10 ** 15, "perMinute": 10 ** 15})
        call(daemon.admin, "budgets.set", params)

    loadgen(daemon.resolve, payload, 16, 1, expect='"credential"')  # warm-up
    print()
    print(f"budgets on the resolve path (built-in resolves; {ROUNDS} alternating runs of {SECONDS:g} s each, medians)")
    print(f"{'':<22}{'p50 µs':>8} {'p99 µs':>8} {'req/s':>9} {'cpu µs':>7}")
    worst = 0.0
    for n in (1, 64):
        runs = {False: [], True: []}
        for _ in range(ROUNDS):
            for on in (False, True):
                budget(on)
                result = loadgen(daemon.resolve, payload, n, SECONDS, expect='"credential"', server_pid=daemon.proc.pid)
                if result["errors"] != "0":
                    raise RuntimeError(f"errors with budgets {'on' if on else 'off'}: {result}")
                runs[on].append(result)
        medians = {}
        for on in (False, True):
            m = {k: statistics.median(float(r[k]) for r in runs[on]) for k in ("p50_us", "p99_us", "rps", "server_cpu_us_per_req")}
            medians[on] = m
            print(f"{('budget on ' if on else 'budget off') + f' {n:>2} conn':<22}{m['p50_us']:>8.0f} {m['p99_us']:>8.0f} "
                  f"{m['rps']:>9.0f} {m['server_cpu_us_per_req']:>7.1f}")
        cpu = medians[True]["server_cpu_us_per_req"] / medians[False]["server_cpu_us_per_req"]
        p50 = medians[True]["p50_us"] / max(medians[False]["p50_us"], 1)
        worst = max(worst, cpu)
        print(f"  on / off at {n} conn: cpu per resolve {cpu:.2f}x, p50 {p50:.2f}x, throughput "
              f"{medians[True]['rps'] / medians[False]['rps']:.2f}x")
    used, _ = call(daemon.admin, "budgets.get", {"workspaceId": "wb", "provider": "fal", "actor": "bench"})
    print(f"target: budgets on within 10 % of off (cpu per resolve): worst {worst:.2f}x; "
          f"{used['used']['resolves']} built-in resolves counted this month")
    daemon.stop()


if __name__ == "__main__":
    sys.exit(main())
