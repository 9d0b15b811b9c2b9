#!/usr/bin/env python3
"""Memory per idle keep-alive connection in infergate.

Starts infergate with one worker (a simulator behind it, unused), opens N
connections, and reads infergate's RSS (/proc/PID/status VmRSS) before, after
connecting (parked, never used), and after one request on each (parked again
between requests: the state every idle keep-alive connection is in).

usage: bench/scripts/idle_memory.py [--connections N] [--build DIR]
Prints one summary line; no pass/fail (figures, not tests).
"""

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "..", "build"))
    args = ap.parse_args()
    n = args.connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 1024
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want, soft), hard), hard))
    tmp = tempfile.mkdtemp(prefix="idle-mem-")
    sim = subprocess.Popen([os.path.join(args.build, "bench", "infergate-sim"), "--port", "0",
                            "--ready-file", f"{tmp}/sim.json"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    procs = [sim]
    try:
        port = wait_file(f"{tmp}/sim.json", sim)["port"]
        cfg = f"""workers: 1
listeners:
  - name: main
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
access_log:
  path: "off"
limits:
  max_connections_per_worker: {n + 100}
timeouts:
  keepalive_idle: 10m
routes:
  - name: all
    backends:
      - pool: p
pools:
  - name: p
    endpoints:
      - address: 127.0.0.1:{port}
"""
        with open(f"{tmp}/ig.yaml", "w") as f:
            f.write(cfg)
        ig = subprocess.Popen(
            ["prlimit", f"--nofile={want}:{want}", os.path.join(args.build, "infergate"),
             "--config", f"{tmp}/ig.yaml", "--ready-file", f"{tmp}/ig.json"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(ig)
        info = wait_file(f"{tmp}/ig.json", ig)
        pport = info["listeners"]["main"]
        # Warm up allocator pools and code paths with a few requests.
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", pport))
            s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
            s.close()
        time.sleep(0.2)
        base = rss_kib(ig.pid)
        socks = []
        for _ in range(n):
            socks.append(socket.create_connection(("127.0.0.1", pport)))
        time.sleep(0.5)
        parked = rss_kib(ig.pid)
        req = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"
        for s in socks:
            s.sendall(req)
        for s in socks:
            buf = b""
            while b"\r\n\r\n" not in buf or not buf.endswith(b"]}"):
                c = s.recv(65536)
                if not c:
                    sys.exit("connection closed")
                buf += c
        time.sleep(0.5)
        after = rss_kib(ig.pid)
        print(f"idle_memory: {n} connections, infergate RSS base {base} KiB; "
              f"parked-new {(parked - base) * 1024 / n:.0f} B/conn; "
              f"idle after one request {(after - base) * 1024 / n:.0f} B/conn")
        for s in socks:
            s.close()
    finally:
        for p in procs:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
