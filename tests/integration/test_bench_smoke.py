"""Smoke test of the benchmark entry point (not a speed test): `bench/run.sh
--quick proxy` against this build runs wrk through infergate, nginx and
HAProxy and writes a report with a row per proxy and request kind. Nothing
here asserts a figure; it asserts the benchmark still runs and reports."""

import os
import re
import subprocess
import sys
import tempfile

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
INFERGATE = os.environ.get("INFERGATE", "build/infergate")


def main():
    build = os.path.dirname(os.path.abspath(INFERGATE))
    with tempfile.TemporaryDirectory(prefix="infergate-bench-smoke-") as out:
        p = subprocess.run([os.path.join(SRC, "bench", "run.sh"), "--quick", "--build-dir", build, "--out", out, "proxy"],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        assert re.search(r"^proxy: GET infergate CPU/req [\d.]+x HAProxy", p.stdout, re.M), p.stdout
        report = open(os.path.join(out, "report.md")).read()
        assert "## 1. Raw proxy cost" in report
        for kind in ("GET", "POST"):
            for proxy in ("infergate", "haproxy", "nginx"):
                row = re.search(rf"^\| {kind} \| {proxy} \| ([\d.]+) \| (\d+) \|", report, re.M)
                assert row and float(row.group(1)) > 0 and int(row.group(2)) > 0, (kind, proxy, report)
    print("ok   bench/run.sh --quick proxy writes its report")


if __name__ == "__main__":
    try:
        main()
    except Exception:
        import traceback
        traceback.print_exc()
        sys.exit(1)
