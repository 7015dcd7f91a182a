#!/usr/bin/env python3
"""make cluster-demo: a PostgreSQL under .dev/cluster/pg (initdb, Unix socket only) and three credsd following it,
each with its own sockets and data directory under .dev/cluster/host-N and one shared master key.

It walks through cluster mode once (write on host 1, resolve on host 3, stop the database, keep resolving, start
it again), then leaves everything running for you to try the README's walkthrough. Ctrl-C stops the three
daemons and the database. `CLUSTER_DEMO_EXIT=1` stops after the walkthrough instead (a check that it works).
"""
import json, os, signal, socket, struct, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from pgserver import PostgresServer  # noqa: E402

BIN = os.path.join(ROOT, ".build", "release")
DEMO = os.path.join(ROOT, ".dev", "cluster")


def call(path, method, params=None):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}).encode()
    s.sendall(struct.pack(">I", len(body)) + body)
    data = b""
    while len(data) < 4 or len(data) < 4 + struct.unpack(">I", data[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return json.loads(data[4:])


def step(text):
    print(f"\n== {text}", flush=True)


def show(label, answer):
    if "error" in answer:
        print(f"   {label}: error {answer['error']['data']['reason']}: {answer['error']['message']}")
    else:
        result = answer["result"]
        summary = {k: result[k] for k in ("source", "connectionId", "status") if k in result}
        if "cluster" in result:
            summary["cluster"] = result["cluster"]
        print(f"   {label}: {json.dumps(summary)}")


def main():
    os.makedirs(DEMO, exist_ok=True)
    if os.geteuid() == 0:
        os.chmod(os.path.join(ROOT, ".dev"), 0o711)
        os.chmod(DEMO, 0o711)  # the postgres user must reach its directory inside
    pg = PostgresServer(os.path.join(DEMO, "pg"))
    if os.path.exists(pg.data):
        pg.start()
    else:
        pg.create()
    key = os.path.join(DEMO, "master.key")
    if not os.path.exists(key):
        subprocess.run([os.path.join(BIN, "credsd"), "keygen", "--out", key], check=True, capture_output=True)
    init = os.path.join(DEMO, "init.toml")
    with open(init, "w") as f:
        f.write(pg.cluster_section("init"))
    print(subprocess.run([os.path.join(BIN, "credsd"), "cluster", "init", "--config", init], check=True,
                         capture_output=True, text=True).stdout.strip())
    hosts = []
    for n in (1, 2, 3):
        directory = os.path.join(DEMO, f"host-{n}")
        os.makedirs(directory, exist_ok=True)
        config = os.path.join(directory, "credsd.toml")
        with open(config, "w") as f:
            f.write(f'dataDir = "{directory}/data"\n[sockets]\nresolve = "{directory}/resolve.sock"\n'
                    f'admin = "{directory}/admin.sock"\n[encryption]\nkeyFiles = ["{key}"]\n'
                    + pg.cluster_section(f"host-{n}"))
        log = open(os.path.join(directory, "log"), "a")
        level = os.environ.get("CLUSTER_DEMO_LOG_LEVEL", "info")
        proc = subprocess.Popen([os.path.join(BIN, "credsd"), "serve", "--config", config, "--log-level", level],
                                stderr=log, stdout=log)
        hosts.append({"n": n, "dir": directory, "proc": proc, "admin": f"{directory}/admin.sock",
                      "resolve": f"{directory}/resolve.sock"})
    for h in hosts:
        for _ in range(3000):
            try:
                call(h["admin"], "health")
                break
            except OSError:
                time.sleep(0.01)

    def stop(*_):
        # Once: a second Ctrl-C (or the terminal's signal to the whole process group) must not cut it short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for h in hosts:
            h["proc"].terminate()
        for h in hosts:
            h["proc"].wait()
        try:
            pg.stop("fast")
        except subprocess.CalledProcessError:
            pass
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    one, three = hosts[0], hosts[2]

    step("write on host 1: a member, a Fal.ai key, a grant")
    show("members.set", call(one["admin"], "members.set", {"workspaceId": "ws1", "principal": "alice", "role": "write"}))
    show("connections.upsert", call(one["admin"], "connections.upsert", {
        "workspaceId": "ws1", "provider": "fal", "displayName": "Team Fal", "actor": "alice",
        "credentialPayload": {"apiKey": "6f1c2a3b-1111-4222-8333-944455556666:0123456789abcdef0123456789abcdef"}}))
    grant = call(one["admin"], "grants.issue", {"workspaceId": "ws1", "ttlSeconds": 86400})["result"]["grant"]
    grant_file = os.path.join(DEMO, "grant")
    if os.path.exists(grant_file):
        os.unlink(grant_file)
    with os.fdopen(os.open(grant_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(grant + "\n")
    print(f"   grants.issue: written to {DEMO}/grant")

    step("resolve on host 3 (the write arrived through PostgreSQL's change feed)")
    params = {"workspaceId": "ws1", "provider": "fal", "grant": grant}
    for _ in range(200):
        answer = call(three["resolve"], "resolve", params)
        if "result" in answer:
            break
        time.sleep(0.01)
    show("resolve on host 3", answer)

    step("stop the database (pg_ctl stop -m fast)")
    pg.stop("fast")
    time.sleep(1.5)
    show("resolve on host 3", call(three["resolve"], "resolve", params))
    show("health on host 3", call(three["admin"], "health"))
    show("a write on host 2", call(hosts[1]["admin"], "policy.set",
                                   {"workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "alice"}))

    step("start it again: every host reconnects and catches up")
    pg.start()
    for _ in range(600):
        if all(call(h["admin"], "health")["result"]["status"] == "ok" for h in hosts):
            break
        time.sleep(0.1)
    show("a write on host 2", call(hosts[1]["admin"], "policy.set",
                                   {"workspaceId": "ws1", "provider": "fal", "mode": "byo", "actor": "alice"}))
    show("health on host 1", call(one["admin"], "health"))

    if os.environ.get("CLUSTER_DEMO_EXIT"):
        stop()
    print(f"""
The cluster keeps running. In another shell (README, "Cluster mode: the demo"):
  export CREDSD_ACTOR=alice
  alias credsctl=$PWD/.build/release/credsctl
  credsctl connections list --socket {hosts[0]['admin']} --workspace ws1
  credsctl resolve --socket {hosts[2]['resolve']} --workspace ws1 --provider fal --grant-file {DEMO}/grant
Logs: {DEMO}/host-N/log. Ctrl-C stops the three daemons and the database.""", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
