"""infergate-loadgen (bench/loadgen) against real infergate-sim replicas,
sped up with --time-scale so each run takes well under a second: the CSV
has one row per request, streams are read to the end (output_tokens =
max_tokens), round-robin alternates targets, the JSON summary agrees
with the CSV, closed loop keeps the concurrency, a wrong model gives 404
rows, the window route sends identical prompts to one replica, and the
request has the shape the simulator and the proxy expect. Counts, never
times."""

import csv
import http.server
import json
import os
import subprocess
import threading

from harness import MODEL, Sim, run, tmp_path

LOADGEN = os.environ.get("INFERGATE_LOADGEN", "build/bench/infergate-loadgen")
SCALE = "20"

sims = []
_runs = [0]


def setup():
    for name in ("sim-a", "sim-b"):
        sims.append(Sim(name, "--time-scale", SCALE))


def loadgen(*args, check=True):
    """One run; returns (rows sorted by id, summary dict, stderr)."""
    _runs[0] += 1
    out_csv = tmp_path(f"loadgen-{_runs[0]}.csv")
    out_json = tmp_path(f"loadgen-{_runs[0]}.json")
    p = subprocess.run([LOADGEN, "--time-scale", SCALE, "--timeout", "20", *args,
                        "--csv", out_csv, "--summary", out_json],
                       capture_output=True, text=True, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    with open(out_json) as f:
        summary = json.load(f)
    assert [int(r["id"]) for r in rows] == list(range(len(rows))), "ids 0..n-1 in order"
    return rows, summary, p.stderr


def targets(*which):
    out = []
    for s in which:
        out += ["--target", f"http://{s.address}"]
    return out


def numpy_percentile(values, p):
    v = sorted(values)
    if not v:
        return None
    rank = p / 100 * (len(v) - 1)
    lo = int(rank)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (rank - lo)


def check_summary_matches(rows, summary):
    """The summary's overall figures recomputed from the CSV."""
    o = summary["overall"]
    assert o["count"] == len(rows), (o["count"], len(rows))
    ok = [r for r in rows if r["status"] == "200" and not r["error"]]
    assert o["ok"] == len(ok)
    statuses = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    assert o["statuses"] == statuses, (o["statuses"], statuses)
    replicas = {}
    for r in rows:
        if r["replica"]:
            replicas[r["replica"]] = replicas.get(r["replica"], 0) + 1
    assert o["replicas"] == replicas, (o["replicas"], replicas)
    assert o["output_tokens"] == sum(int(r["output_tokens"]) for r in ok)
    for name, col in (("ttft_ms", "ttft_ms"), ("e2e_ms", "e2e_ms"), ("itl_ms", "itl_mean_ms")):
        vals = [float(r[col]) for r in ok if r[col]]
        for p in (50, 90, 99):
            want = numpy_percentile(vals, p)
            got = o[name][f"p{p}"]
            if want is None:
                assert got is None
            else:
                assert abs(got - want) <= 0.01 + 1e-4 * abs(want), (name, p, got, want)
    assert abs(o["output_tokens_per_s"] * o["wall_seconds"] - o["output_tokens"]) <= 1e-3 * o["output_tokens"] + 1e-6
    assert summary["time_scale"] == float(SCALE)
    assert summary["cpu_seconds"] > 0
    assert summary["involuntary_context_switches"] >= 0
    assert summary["wall_seconds"] > 0
    lags = [float(r["lag_ms"]) for r in rows]
    assert abs(summary["lag_ms"]["max"] - max(lags)) <= 0.01


def test_open_loop_round_robin():
    args = [*targets(*sims), "--schedule", "10:5,20:5", "--seed", "7", "--groups", "3",
            "--prompts-per-group", "4", "--system-tokens", "300", "--question-tokens", "40",
            "--output-tokens", "16"]
    before = [s.stats()["requests"] for s in sims]
    rows, summary, err = loadgen(*args)
    assert 60 <= len(rows) <= 240, len(rows)  # 150 expected
    assert "simulated" in err, err
    for r in rows:
        assert r["status"] == "200" and r["error"] == "", r
        assert int(r["output_tokens"]) == 16, r
        assert int(r["prompt_tokens"]) == 340, r
        assert r["class"] == "default"
        assert float(r["e2e_ms"]) >= float(r["ttft_ms"]) > 0, r
        assert r["itl_mean_ms"] != "", r
    # Round-robin per request, in send order.
    names = [r["replica"] for r in rows]
    assert set(names) == {"sim-a", "sim-b"}
    assert all(names[i] == names[i % 2] for i in range(len(names))), names[:10]
    after = [s.stats()["requests"] for s in sims]
    assert sum(after) - sum(before) == len(rows)
    # Stages: every row's stage matches its scheduled time.
    for r in rows:
        assert r["stage"] == ("0" if float(r["scheduled_s"]) < 5 else "1"), r
    assert [s["summary"]["count"] for s in summary["stages"]] == [
        sum(1 for r in rows if r["stage"] == "0"), sum(1 for r in rows if r["stage"] == "1")]
    assert summary["mode"] == "open"
    check_summary_matches(rows, summary)
    # Seeded: the same command gives the same arrivals.
    again, _, _ = loadgen(*args)
    assert [r["scheduled_s"] for r in again] == [r["scheduled_s"] for r in rows]


def test_closed_loop_concurrency():
    rows, summary, _ = loadgen(*targets(*sims), "--concurrency", "4", "--requests", "30",
                               "--workload", "random", "--prompt-tokens", "2000", "--output-tokens", "8")
    assert len(rows) == 30
    for r in rows:
        assert r["status"] == "200" and r["error"] == "", r
        assert int(r["output_tokens"]) == 8 and int(r["prompt_tokens"]) == 2000, r
        assert float(r["lag_ms"]) == 0
    # At most 4 requests overlap in time, and the first 4 do.
    spans = sorted((float(r["scheduled_s"]), float(r["scheduled_s"]) + float(r["e2e_ms"]) / 1000) for r in rows)
    peak = max(sum(1 for s, e in spans if s <= t < e - 1e-3) for t, _ in spans)
    assert 2 <= peak <= 4, peak
    assert summary["mode"] == "closed"
    check_summary_matches(rows, summary)


def test_wrong_model_gives_404_rows():
    other = Sim("sim-other", "--time-scale", SCALE, "--model", "other-model")
    rows, summary, _ = loadgen(*targets(other), "--concurrency", "2", "--requests", "6",
                               "--system-tokens", "10", "--question-tokens", "5")
    assert len(rows) == 6
    for r in rows:
        assert r["status"] == "404", r
        assert r["error"] == "" and r["ttft_ms"] == "" and r["output_tokens"] == "0", r
        assert r["replica"] == "sim-other", r
    assert summary["overall"]["statuses"] == {"404": 6}
    assert summary["overall"]["ok"] == 0 and summary["overall"]["success_rate"] == 0
    check_summary_matches(rows, summary)
    other.kill()


def test_connection_refused_is_status_0():
    other = Sim("sim-gone", "--time-scale", SCALE)
    address = other.address
    other.kill()
    rows, summary, _ = loadgen("--target", f"http://{address}", "--concurrency", "1", "--requests", "2")
    assert len(rows) == 2
    for r in rows:
        assert r["status"] == "0" and r["error"].startswith("connect:"), r
    assert summary["overall"]["errors"] == 2


def test_window_route_colocates_identical_prompts():
    burst = ["--workload", "burst", "--burst", "8", "--burst-window-ms", "0", "--system-tokens", "200",
             "--question-tokens", "0", "--output-tokens", "4"]
    rows, summary, _ = loadgen(*targets(*sims), *burst, "--route", "window:1000")
    assert len(rows) == 8
    assert all(r["status"] == "200" and r["class"] == "burst" for r in rows), rows
    assert len({r["replica"] for r in rows}) == 1, [r["replica"] for r in rows]
    assert summary["mode"] == "burst"
    check_summary_matches(rows, summary)
    # The same burst round-robin uses both replicas (the check above can fail).
    rows, _, _ = loadgen(*targets(*sims), *burst, "--seed", "2")
    assert len({r["replica"] for r in rows}) == 2


def test_burst_on_top_of_schedule_and_mix():
    rows, summary, _ = loadgen(*targets(*sims), "--schedule", "10:4", "--burst", "5", "--burst-delay", "2",
                               "--burst-window-ms", "5", "--system-tokens", "50", "--question-tokens", "10",
                               "--output-tokens", "4", "--mix", "gold=1,bronze=1", "--seed", "3")
    classes = {}
    for r in rows:
        classes[r["class"]] = classes.get(r["class"], 0) + 1
        assert r["status"] == "200", r
    assert classes.get("burst") == 5, classes
    assert classes.get("gold", 0) > 0 and classes.get("bronze", 0) > 0, classes
    bursts = [float(r["scheduled_s"]) for r in rows if r["class"] == "burst"]
    assert all(2 <= t < 2 + 0.005 * float(SCALE) for t in bursts), bursts
    assert set(summary["classes"]) == set(classes)
    for name, n in classes.items():
        assert summary["classes"][name]["count"] == n


class Recorder:
    """An upstream that records each request and answers a 2-event SSE
    stream (one token each) with usage and [DONE], chunked."""

    def __init__(self):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                seen.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                             json.loads(self.rfile.read(n))))
                events = [{"choices": [{"index": 0, "text": "one"}]},
                          {"choices": [{"index": 0, "text": " two"}]},
                          {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}]
                body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("x-gateway-destination-endpoint-served", "10.1.2.3:8000")
                self.end_headers()
                for i in range(0, len(body), 50):
                    part = body[i:i + 50].encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_request_shape_and_headers():
    rec = Recorder()
    rows, _, _ = loadgen("--target", f"http://127.0.0.1:{rec.port}/v1/completions", "--concurrency", "1",
                         "--requests", "3", "--system-tokens", "25", "--question-tokens", "5",
                         "--output-tokens", "2", "--mix", "critical=1", "--class-header",
                         "x-gateway-inference-objective", "--header", "x-bench: yes")
    assert len(rec.seen) == 3
    for path, headers, body in rec.seen:
        assert path == "/v1/completions"
        assert headers["x-gateway-inference-objective"] == "critical"
        assert headers["x-bench"] == "yes"
        assert headers["content-type"] == "application/json"
        assert body["model"] == MODEL and body["stream"] is True and body["ignore_eos"] is True
        assert body["stream_options"] == {"include_usage": True}
        assert body["max_tokens"] == 2
        assert len(body["prompt"]) == 30 * 4
    for r in rows:
        assert r["status"] == "200" and r["error"] == "", r
        assert r["replica"] == "10.1.2.3:8000"
        assert r["output_tokens"] == "2" and r["prompt_tokens"] == "3"
    rec.server.shutdown()


def test_bad_flags_exit_2():
    p = subprocess.run([LOADGEN, "--target", "http://127.0.0.1:1", "--schedule", "3"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--schedule" in p.stderr, p.stderr


if __name__ == "__main__":
    setup()
    run([test_open_loop_round_robin, test_closed_loop_concurrency, test_wrong_model_gives_404_rows,
         test_connection_refused_is_status_0, test_window_route_colocates_identical_prompts,
         test_burst_on_top_of_schedule_and_mix, test_request_shape_and_headers, test_bad_flags_exit_2])
