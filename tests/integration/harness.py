"""Integration-test harness: real infergate and infergate-sim processes on
loopback, each listening on port 0 and reporting its bound ports in a ready
file. Every wait is bounded in time; every process is killed at exit.

Binaries come from the environment (set by meson):
  INFERGATE      path to build/infergate
  INFERGATE_SIM  path to build/bench/infergate-sim
"""

import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

INFERGATE = os.environ.get("INFERGATE", "build/infergate")
SIM = os.environ.get("INFERGATE_SIM", "build/bench/infergate-sim")
MODEL = "meta-llama/Llama-3.1-8B-Instruct"

_procs = []
_tmp = tempfile.TemporaryDirectory(prefix="infergate-it-")


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_cleanup)


def tmp_path(name):
    return os.path.join(_tmp.name, name)


def wait_for(cond, timeout=10.0, interval=0.01, what="condition"):
    """Polls cond() until truthy; bounded by timeout. Returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _read_ready(path, proc, timeout=15.0):
    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"process exited early with {proc.returncode}")
        try:
            with open(path) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    return wait_for(ready, timeout=timeout, what=f"ready file {path}")


class Sim:
    """One infergate-sim replica. With ssl_context (an ssl.SSLContext that
    trusts the sim's CA, holding a client certificate if the sim asks for
    one) the sim is started with TLS flags in args and post()/stats() go
    over HTTPS."""

    def __init__(self, name, *args, ssl_context=None):
        self.name = name
        self.ssl_context = ssl_context
        ready = tmp_path(f"sim-{name}-{len(_procs)}.json")
        self.log = open(tmp_path(f"sim-{name}.log"), "w")
        self.proc = subprocess.Popen(
            [SIM, "--port", "0", "--ready-file", ready, "--name", name, *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        _procs.append(self.proc)
        self.port = _read_ready(ready, self.proc)["port"]
        self.address = f"127.0.0.1:{self.port}"

    def post(self, path, obj):
        return request("127.0.0.1", self.port, "POST", path, json.dumps(obj),
                       ssl_context=self.ssl_context)

    def stats(self):
        st, _, body = request("127.0.0.1", self.port, "GET", "/sim/stats",
                              ssl_context=self.ssl_context)
        assert st == 200, body
        return json.loads(body)

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=5)


class Proxy:
    """One infergate process with a config written from `config_text`."""

    def __init__(self, config_text, name="proxy", wrapper=()):
        self.config_path = tmp_path(f"{name}.yaml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.ready = tmp_path(f"{name}-ready.json")
        self.log_path = tmp_path(f"{name}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [*wrapper, INFERGATE, "--config", self.config_path, "--ready-file", self.ready],
            stdout=self.log, stderr=subprocess.STDOUT)
        _procs.append(self.proc)
        info = _read_ready(self.ready, self.proc)
        self.port = info["listeners"]["main"]
        self.admin_port = info["admin"]

    def rewrite_config(self, config_text):
        with open(self.config_path, "w") as f:
            f.write(config_text)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def admin(self, path):
        return request("127.0.0.1", self.admin_port, "GET", path)

    def metric(self, name, **labels):
        """Sum of the samples of metric `name` whose labels include `labels`."""
        st, _, body = self.admin("/metrics")
        assert st == 200, body
        total = 0.0
        for line in body.splitlines():
            if not (line.startswith(name + "{") or line.startswith(name + " ")):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def debug_endpoints(self):
        st, _, body = self.admin("/debug/endpoints")
        assert st == 200, body
        return json.loads(body)

    def wait_fresh(self, n, timeout=10.0):
        """Waits until n endpoints have fresh metrics."""
        def fresh():
            eps = [e for p in self.debug_endpoints()["pools"] for e in p["endpoints"]]
            return sum(1 for e in eps if e["fresh"]) >= n
        wait_for(fresh, timeout=timeout, what=f"{n} endpoints with fresh metrics")

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


class HTTPSTo(http.client.HTTPSConnection):
    """HTTPS to `host` (an address) with `server_name` as SNI, Host and the
    name verified: a test name without DNS."""

    def __init__(self, host, port, ssl_context, server_name, timeout=10):
        super().__init__(server_name, port, context=ssl_context, timeout=timeout)
        self._address = host

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def request(host, port, method, path, body=None, headers=None, timeout=10, ssl_context=None, server_name=None):
    """One request on a fresh connection: (status, headers dict, body str).
    HTTPS when ssl_context (an ssl.SSLContext) is given, with server_name
    as SNI when given."""
    if ssl_context is None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    else:
        conn = HTTPSTo(host, port, ssl_context, server_name or host, timeout=timeout)
    try:
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read().decode()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def chat_body(content="Hello there", stream=False, max_tokens=8, model=MODEL):
    return json.dumps({
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "stream": stream,
        "max_tokens": max_tokens,
    })


def raw_exchange(port, data, timeout=5.0):
    """Sends raw bytes; returns the first response (complete by its
    Content-Length), or everything until close or timeout otherwise."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            head, sep, body = out.partition(b"\r\n\r\n")
            if sep and data.count(b"HTTP/1.1\r\n") <= 1:
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length" and len(body) >= int(value):
                        return out
        return out
    finally:
        s.close()


def status_of(raw):
    line = raw.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = line.split(" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def pool_yaml(name, sims, extra=""):
    eps = "\n".join(f"      - address: {s.address}" for s in sims)
    return f"""  - name: {name}
    engine: vllm
    scrape_interval: 50ms
    metrics_staleness: 500ms
{extra}    endpoints:
{eps}
"""


def base_config(pools, routes=None, extra="", workers=2):
    """A config with listener 'main' and admin on port 0."""
    if routes is None:
        first = pools[0][0]
        routes = f"""  - name: all
    match:
      path_prefix: /
    backends:
      - pool: {first}
"""
    pools_text = "".join(pool_yaml(n, s, x) for n, s, x in pools)
    return f"""workers: {workers}
listeners:
  - name: main
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
access_log:
  path: stdout
{extra}routes:
{routes}pools:
{pools_text}"""


def run(tests):
    """Runs test functions in order; exits non-zero on the first failure."""
    for t in tests:
        started = time.monotonic()
        try:
            t()
        except Exception:
            import traceback
            traceback.print_exc()
            print(f"FAIL {t.__name__}", flush=True)
            _cleanup()
            sys.exit(1)
        print(f"ok   {t.__name__} ({time.monotonic() - started:.2f}s)", flush=True)
    _cleanup()


class EchoUpstream:
    """A plain Python HTTP/1.1 upstream on loopback that answers every POST
    with the request's headers as JSON (to check what infergate forwards),
    and /metrics with a minimal vLLM page."""

    def __init__(self):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                body = (b"vllm:num_requests_waiting 0\nvllm:num_requests_running 0\n"
                        b"vllm:kv_cache_usage_perc 0\n")
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                req = self.rfile.read(n)
                out = json.dumps({"headers": [[k.lower(), v] for k, v in self.headers.items()],
                                  "body": req.decode()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.send_header("Connection", "keep-alive, X-Upstream-Hop")
                self.send_header("X-Upstream-Hop", "secret")
                self.send_header("Keep-Alive", "timeout=5")
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def read_http_request(c, buf):
    """One Content-Length-framed request from socket `c`, `buf` holding
    bytes already read: (head, body, leftover bytes), or None when the peer
    closes first. Each recv blocks at most the socket's timeout."""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return None
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        d = c.recv(65536)
        if not d:
            return None
        rest += d
    return head, rest[:length], rest[length:]


class FlakyKeepAliveUpstream:
    """An upstream that answers the first POST on each connection with
    keep-alive, then closes the connection when a second POST arrives on
    it, without answering: a pooled connection that dies under the
    proxy's next request. GETs (/metrics) are always answered."""

    def __init__(self):
        import threading
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.posts_answered = 0
        self.posts_dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        buf = b""
        posts = 0
        c.settimeout(30)
        try:
            while True:
                got = read_http_request(c, buf)
                if got is None:
                    return
                head, _, buf = got
                if head.startswith(b"POST"):
                    posts += 1
                    if posts > 1:
                        self.posts_dropped += 1
                        return
                    self.posts_answered += 1
                    body = b'{"ok":true}'
                else:
                    body = b"vllm:num_requests_waiting 0\nvllm:num_requests_running 0\nvllm:kv_cache_usage_perc 0\n"
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        finally:
            c.close()


def send_raw_post(port, body, path="/v1/chat/completions", timeout=10):
    """Opens a connection and sends one POST with `body` (bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return s


def open_stream(port, max_tokens):
    """Starts a streamed chat completion on a raw socket and reads until the
    first content event is in. Returns (socket, bytes received so far)."""
    s = send_raw_post(port, chat_body(stream=True, max_tokens=max_tokens).encode())
    data = b""
    while b"\r\n\r\n" not in data or b'"content"' not in data.split(b"\r\n\r\n", 1)[1]:
        c = s.recv(65536)
        if not c:
            raise AssertionError(f"closed before the first event: {data!r}")
        data += c
    return s, data
