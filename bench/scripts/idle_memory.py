#!/usr/bin/env python3
"""Memory per idle keep-alive connection of a proxy (infergate, nginx,
HAProxy...).

Measures the resident memory (VmRSS from /proc/PID/status, summed over the
given processes) of a running proxy:

  base  after a warm-up (WINDOW connections, one request each, closed: the
        proxy's pools, upstream connections and code paths touched);
  new   after opening N connections (accepted, parked, never used);
  used  after one small request on each of them, every response read (each
        connection used once and parked idle again: the state every idle
        keep-alive connection is in).

Per connection: (new - base) / N and (used - base) / N. The client keeps at
most WINDOW connects or requests in flight (non-blocking sockets, one
selector), so the proxy's upstream concurrency is the warm-up's and the
delta holds the downstream connections only. A connection the proxy closes
is an error. Every wait is bounded (--timeout, whole run).

usage:
  bench/scripts/idle_memory.py --port PORT --pid PID[,PID...] [--connections N]
      [--path /p] [--window W] [--timeout S] [--json]
  bench/scripts/idle_memory.py [--connections N] [--build DIR]
      (standalone: starts infergate with one worker and an infergate-sim
      behind it, and measures infergate)
--pid: the processes whose RSS is summed; their open descriptors are counted
to see the N connections accepted (nginx: master and worker). Prints one
summary line, or one JSON object with --json; no pass/fail (figures, not
tests).
"""

import argparse
import json
import os
import resource
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import time


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            total += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return total


def fd_count(pids):
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        left = self.end - time.monotonic()
        if left <= 0:
            sys.exit("idle_memory: timed out")
        return left


def response_done(buf):
    """True once buf holds one whole response (Content-Length or chunked);
    exits on a status other than 200."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    head = buf[:head_end].decode("latin-1").lower()
    if not head.startswith("http/1.1 200"):
        sys.exit(f"idle_memory: unexpected response {head.splitlines()[0]!r}")
    body = len(buf) - head_end - 4
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip() == "content-length":
            return body >= int(value)
    return buf.endswith(b"0\r\n\r\n")  # chunked


def settle(pids, deadline):
    """RSS once it stops moving (two reads 200 ms apart within 16 KiB), at
    most 3 s: the proxy has finished the work the last events gave it."""
    end = min(time.monotonic() + 3, deadline.end)
    last = rss_kib(pids)
    while time.monotonic() < end:
        time.sleep(0.2)
        now = rss_kib(pids)
        if abs(now - last) <= 16:
            return now
        last = now
    return last


def stable_fd_count(pids, deadline):
    """The descriptor count once the proxy has closed the warm-up's
    connections: unchanged over 200 ms, at most 2 s."""
    end = min(time.monotonic() + 2, deadline.end)
    last = fd_count(pids)
    while time.monotonic() < end:
        time.sleep(0.1)
        now = fd_count(pids)
        if now == last:
            return now
        last = now
    return last


def connect_all(port, n, window, deadline):
    """Opens n connections, at most window connects in flight."""
    sel = selectors.DefaultSelector()
    done, started, active = [], 0, 0
    while len(done) < n:
        while started < n and active < window:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            sel.register(s, selectors.EVENT_WRITE)
            started += 1
            active += 1
        for key, _ in sel.select(timeout=deadline.left()):
            s = key.fileobj
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                sys.exit(f"idle_memory: connect: {os.strerror(err)}")
            sel.unregister(s)
            done.append(s)
            active -= 1
    sel.close()
    return done


def request_each(socks, request, window, deadline):
    """Sends request on each socket and reads its response, at most window
    requests in flight."""
    sel = selectors.DefaultSelector()
    pending = iter(socks)
    active, finished = 0, 0
    while finished < len(socks):
        while active < window:
            s = next(pending, None)
            if s is None:
                break
            if s.send(request) != len(request):  # a fresh socket's buffer takes it whole
                sys.exit("idle_memory: short send")
            sel.register(s, selectors.EVENT_READ, bytearray())
            active += 1
        for key, _ in sel.select(timeout=deadline.left()):
            s, buf = key.fileobj, key.data
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("idle_memory: the proxy closed a connection before answering")
            buf += chunk
            if response_done(bytes(buf)):
                sel.unregister(s)
                active -= 1
                finished += 1
    sel.close()


def closed_count(socks):
    """Connections that became readable while idle (the proxy closed them)."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    n = len(sel.select(timeout=0))
    sel.close()
    return n


def close_all(socks):
    # RST instead of FIN: no TIME_WAIT left on the loopback ports for the
    # next run.
    linger = struct.pack("ii", 1, 0)
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        s.close()


def measure(port, pids, n, path, window, timeout):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + window + 64
    if soft < want:
        if hard < want:
            sys.exit(f"idle_memory: {n} connections need {want} descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    deadline = Deadline(timeout)
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    t0 = time.monotonic()
    warm = connect_all(port, window, window, deadline)
    request_each(warm, request, window, deadline)
    close_all(warm)
    fds_base = stable_fd_count(pids, deadline)
    base = settle(pids, deadline)
    socks = connect_all(port, n, window, deadline)
    try:
        # Accepted by the proxy, not only by the kernel: its descriptors
        # (less window: upstream connections it may have closed meanwhile).
        while fd_count(pids) < fds_base + n - window:
            deadline.left()
            time.sleep(0.02)
        new = settle(pids, deadline)
        request_each(socks, request, window, deadline)
        used = settle(pids, deadline)
        closed = closed_count(socks)
    finally:
        close_all(socks)
    return {"connections": n, "window": window, "base_kib": base, "new_kib": new, "used_kib": used,
            "new_bytes_per_conn": (new - base) * 1024 / n, "used_bytes_per_conn": (used - base) * 1024 / n,
            "closed_by_proxy": closed, "seconds": round(time.monotonic() - t0, 2)}


def wait_file(path, proc, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"process exited with {proc.returncode}")
        try:
            with open(path) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.02)
    sys.exit(f"timed out waiting for {path}")


def standalone(args):
    """infergate (one worker) in front of an infergate-sim, measured."""
    n = args.connections
    tmp = tempfile.mkdtemp(prefix="idle-mem-")
    sim = subprocess.Popen([os.path.join(args.build, "bench", "infergate-sim"), "--port", "0",
                            "--ready-file", f"{tmp}/sim.json"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    procs = [sim]
    try:
        port = wait_file(f"{tmp}/sim.json", sim)["port"]
        with open(f"{tmp}/ig.yaml", "w") as f:
            f.write(f"""workers: 1
listeners:
  - name: main
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
access_log:
  path: "off"
limits:
  max_connections_per_worker: {n + 1024}
timeouts:
  header_read: 10m
  keepalive_idle: 10m
routes:
  - name: all
    backends:
      - pool: p
pools:
  - name: p
    endpoints:
      - address: 127.0.0.1:{port}
""")
        want = n + 2048
        ig = subprocess.Popen(
            ["prlimit", f"--nofile={want}:{want}", os.path.join(args.build, "infergate"),
             "--config", f"{tmp}/ig.yaml", "--ready-file", f"{tmp}/ig.json"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ig)
        pport = wait_file(f"{tmp}/ig.json", ig)["listeners"]["main"]
        return measure(pport, [ig.pid], n, args.path or "/v1/models", args.window, args.timeout)
    finally:
        for p in procs:
            p.kill()
            p.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--port", type=int, help="measure the proxy listening there (with --pid)")
    ap.add_argument("--pid", help="comma-separated PIDs whose RSS is summed")
    ap.add_argument("--path", help="request path (default /v1/completions; standalone /v1/models)")
    ap.add_argument("--window", type=int, default=64, help="connects or requests in flight")
    ap.add_argument("--timeout", type=float, default=60, help="seconds for the whole measurement")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "..", "build"))
    args = ap.parse_args()
    if args.port:
        if not args.pid:
            ap.error("--port needs --pid")
        r = measure(args.port, [int(p) for p in args.pid.split(",")], args.connections,
                    args.path or "/v1/completions", args.window, args.timeout)
        who = f"port {args.port}"
    else:
        r = standalone(args)
        who = "infergate"
    if args.json:
        print(json.dumps(r))
    else:
        print(f"idle_memory: {r['connections']} connections, {who} RSS base {r['base_kib']} KiB; "
              f"parked-new {r['new_bytes_per_conn']:.0f} B/conn; "
              f"idle after one request {r['used_bytes_per_conn']:.0f} B/conn; "
              f"closed by the proxy {r['closed_by_proxy']}")


if __name__ == "__main__":
    main()
