"""Test fixtures: a real credsd process, a stand-in OAuth token endpoint, a webhook receiver, a stand-in
provider API, and tiny Unix socket servers that misbehave on purpose."""

import base64
import hashlib
import json
import logging
import os
import queue
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_ROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(CLIENT_ROOT))
CREDSD_BIN = os.environ.get("CREDSD_BIN") or os.path.join(REPO, ".build", "debug", "credsd")
ERRORS_MD = os.path.join(REPO, "proto", "errors.md")


def wait_for(condition, timeout=20.0, interval=0.01, what="condition"):
    """Polls ``condition`` until it returns something true; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def strings_reachable(root):
    """Every string (and bytes) reachable from ``root`` through the attributes of credsd's own objects and the
    dicts, lists, tuples, sets and queues they hold; not through a ``credsd._model.Secret``, whose job it is to
    hold one. For checks that a client or watch keeps a grant nowhere else."""
    from credsd._model import Secret

    found, seen, stack = [], set(), [root]
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, (bytes, bytearray)):
            found.append(bytes(value).decode("latin-1"))
        elif isinstance(value, Secret):
            continue
        elif isinstance(value, dict):
            stack += list(value.keys()) + list(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack += list(value)
        elif isinstance(value, queue.Queue):
            stack += list(value.queue)
        elif type(value).__module__.split(".")[0] == "credsd":
            stack += list(getattr(value, "__dict__", {}).values())
            for cls in type(value).__mro__:
                slots = getattr(cls, "__slots__", ())
                for name in (slots,) if isinstance(slots, str) else slots:
                    if hasattr(value, name):
                        stack.append(getattr(value, name))
    return found


def write_secret(directory, name, text):
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def raw_call(path, method, params=None, timeout=2.0):
    """One call on a fresh connection, without the library (for readiness checks)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(path)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}).encode()
        s.sendall(struct.pack(">I", len(body)) + body)
        data = b""
        while len(data) < 4:
            chunk = s.recv(4 - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        (length,) = struct.unpack(">I", data)
        data = b""
        while len(data) < length:
            chunk = s.recv(length - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return json.loads(data)
    finally:
        s.close()


class Daemon:
    """``credsd serve`` in a temporary directory: keygen, config, serve, wait until both sockets answer."""

    def __init__(self, *, key=True, require_grant=True, builtin=None, extra="", limits=""):
        self.dir = tempfile.mkdtemp(prefix="credsd-py-")
        self.resolve_socket = os.path.join(self.dir, "resolve.sock")
        self.admin_socket = os.path.join(self.dir, "admin.sock")
        self.data_dir = os.path.join(self.dir, "data")
        self.config = os.path.join(self.dir, "credsd.toml")
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.secrets = []
        self.process = None
        self.key_files = []
        if key:
            self.key_files.append(self.keygen("master.key"))
        self.builtin_lines = ""
        for provider, value in sorted((builtin or {}).items()):
            path = write_secret(self.dir, f"builtin-{provider}.key", value + "\n")
            self.secrets.append(value)
            self.builtin_lines += f'{provider} = "{path}"\n'
        self.require_grant = require_grant
        self.extra = extra
        self.limits = limits
        self.write_config()
        self.start()

    def keygen(self, name):
        path = os.path.join(self.dir, name)
        binary = wait_for(lambda: os.path.exists(CREDSD_BIN) and CREDSD_BIN, timeout=90, interval=0.5,
                          what=f"{CREDSD_BIN} to exist (set CREDSD_BIN)")
        subprocess.run([binary, "keygen", "--out", path], check=True, capture_output=True, timeout=30)
        with open(path) as f:
            self.secrets.append(f.read().strip())
        return path

    def write_config(self, key_files=None):
        keys = ", ".join(f'"{k}"' for k in (self.key_files if key_files is None else key_files))
        text = f"""dataDir = "{self.data_dir}"

[sockets]
resolve = "{self.resolve_socket}"
admin = "{self.admin_socket}"

[encryption]
keyFiles = [{keys}]

[resolve]
requireGrant = {"true" if self.require_grant else "false"}

[limits]
{self.limits}

[builtin]
{self.builtin_lines}

{self.extra}
"""
        with open(self.config, "w") as f:
            f.write(text)

    def start(self, timeout=30.0):
        env = dict(os.environ)
        env.pop("CREDENTIALS_DIRECTORY", None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([CREDSD_BIN, "serve", "--config", self.config, "--log-level", "info"],
                                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"credsd exited ({self.process.returncode}):\n{self.log()}")
            try:
                raw_call(self.admin_socket, "health")
                raw_call(self.resolve_socket, "health")
                return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"credsd did not start:\n{self.log()}")
            time.sleep(0.02)

    def stop(self, kill=False, timeout=30.0):
        """SIGTERM (drain, exit 0) or SIGKILL; waits for the process."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def restart(self, kill=False):
        self.stop(kill=kill)
        self.start()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        self.stop(kill=True)
        shutil.rmtree(self.dir, ignore_errors=True)


# -- HTTP stand-ins ---------------------------------------------------------------------------------------------


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 with a handler class made from ``handle(handler, method)``."""

    def __init__(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                owner.handle(self, "GET")

            def do_POST(self):
                owner.handle(self, "POST")

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a peer that went away (a daemon stopped mid-request) is not news

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def body(handler):
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    @staticmethod
    def answer(handler, status, payload=None, headers=None):
        data = json.dumps(payload if payload is not None else {}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeTokenEndpoint(_Server):
    """Google's token endpoint as credsd uses it: the authorization-code exchange with PKCE (S256) and the
    refresh grant; ``behaviour`` ``normal``, ``invalid_grant`` (refreshes refused) or ``server_error`` (500)."""

    client_id = "py-test-client.apps.example"
    client_secret = "py-google-client-secret-9d2e"
    redirect_uri = "https://app.example/oauth/callback"

    def __init__(self):
        self.lock = threading.Lock()
        self.codes = {}
        self.refresh_tokens = set()
        self.behaviour = "normal"
        self.issued = 0
        self.problems = []
        self.scope = "https://www.googleapis.com/auth/drive.file https://www.googleapis.com/auth/spreadsheets"
        super().__init__()

    def config_section(self, directory):
        secret = write_secret(directory, "google-client-secret", self.client_secret + "\n")
        return f"""[oauth.google-workspace]
clientId = "{self.client_id}"
clientSecretFile = "{secret}"
authorizeUrl = "{self.base_url}/o/oauth2/v2/auth"
tokenUrl = "{self.base_url}/token"
"""

    @staticmethod
    def s256(verifier):
        return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")

    def issue(self, refresh):
        self.issued += 1
        body = {"access_token": f"ya29.py-access-{self.issued}", "expires_in": 3600, "scope": self.scope,
                "token_type": "Bearer"}
        if refresh:
            token = f"1//py-refresh-{self.issued}"
            self.refresh_tokens.add(token)
            body["refresh_token"] = token
        return body

    def handle(self, handler, method):
        form = dict(urllib.parse.parse_qsl(self.body(handler).decode()))
        path = handler.path
        with self.lock:
            if method != "POST" or path != "/token":
                return self.answer(handler, 404, {"error": "not_found"})
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                self.problems.append("client credentials")
                return self.answer(handler, 400, {"error": "invalid_client"})
            if form.get("grant_type") == "authorization_code":
                challenge = self.codes.pop(form.get("code"), None)
                if challenge is None:
                    return self.answer(handler, 400, {"error": "invalid_grant"})
                if self.s256(form.get("code_verifier", "")) != challenge:
                    self.problems.append("PKCE")
                    return self.answer(handler, 400, {"error": "invalid_grant"})
                if form.get("redirect_uri") != self.redirect_uri:
                    self.problems.append("redirect_uri")
                    return self.answer(handler, 400, {"error": "invalid_request"})
                return self.answer(handler, 200, self.issue(refresh=True))
            if form.get("grant_type") == "refresh_token":
                if self.behaviour == "invalid_grant":
                    return self.answer(handler, 400, {"error": "invalid_grant"})
                if self.behaviour == "server_error":
                    return self.answer(handler, 500, {"error": "backend_error"})
                if form.get("refresh_token") not in self.refresh_tokens:
                    return self.answer(handler, 400, {"error": "invalid_grant"})
                return self.answer(handler, 200, self.issue(refresh=False))
            return self.answer(handler, 400, {"error": "unsupported_grant_type"})


class WebhookReceiver(_Server):
    """Collects the webhooks credsd POSTs: (headers as a dict, raw body)."""

    def __init__(self):
        self.received = []
        self.condition = threading.Condition()
        super().__init__()

    def handle(self, handler, method):
        body = self.body(handler)
        with self.condition:
            self.received.append((dict(handler.headers.items()), body))
            self.condition.notify_all()
        self.answer(handler, 200, {})

    def wait_for(self, predicate, timeout=20.0):
        """The first (headers, body) for which ``predicate(event)`` is true."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while True:
                for headers, body in self.received:
                    try:
                        event = json.loads(body)
                    except ValueError:
                        continue
                    if predicate(event):
                        return headers, body
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no matching webhook arrived")
                self.condition.wait(remaining)


class FakeProvider(_Server):
    """A provider's API for the executor example: answers ``status`` (with ``headers``) and records requests."""

    def __init__(self):
        self.status = 200
        self.headers = {}
        self.requests = []
        super().__init__()

    def handle(self, handler, method):
        self.requests.append((method, handler.path, dict(handler.headers.items())))
        self.answer(handler, self.status, {"ok": self.status < 300}, self.headers)


# -- misbehaving Unix socket servers ------------------------------------------------------------------------------


def read_frame(conn):
    """One frame from ``conn`` as a dict, or None at end of stream."""
    header = b""
    while len(header) < 4:
        chunk = conn.recv(4 - len(header))
        if not chunk:
            return None
        header += chunk
    (length,) = struct.unpack(">I", header)
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return json.loads(body)


def frame(message):
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


class UnixServer:
    """A Unix socket server in a temporary directory; every accepted connection runs ``handler(conn)`` in a
    thread of its own."""

    def __init__(self, handler):
        self.dir = tempfile.mkdtemp(prefix="credsd-fake-")
        self.path = os.path.join(self.dir, "fake.sock")
        self.handler = handler
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        self.sock.listen(64)
        self.accepted = 0
        self.connections = []
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for conn in self.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


class LogCapture(logging.Handler):
    """Every record of the ``credsd`` logger, formatted, for leak checks."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        text = self.format(record)
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)

    def __enter__(self):
        logger = logging.getLogger("credsd")
        self._level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc_info):
        logger = logging.getLogger("credsd")
        logger.removeHandler(self)
        logger.setLevel(self._level)
