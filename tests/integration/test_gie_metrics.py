"""GIE-compatible metrics through infergate to infergate-sim: request and
token counts on the admin /metrics after non-streaming and streaming
requests; a stream whose client did not ask for usage does not see the
usage chunk infergate asked for (even with a chunked request body), one
that asked does; a model name the config does not declare is labelled
`other`; a routed alias keeps its own model_name with the rewritten
target_model_name; errors carry the reference's error_code."""

import json
import re
import socket
import time

from harness import MODEL, Proxy, Sim, base_config, read_http_request, request, run, wait_for

UNLISTED = "unlisted-model"  # served by the sim, absent from the config
ALIAS = "team-alias"         # routed and rewritten to MODEL by the config
RAW_CLOSE = "raw-close"    # routed to an upstream that ends its stream by closing
RAW_LENGTH = "raw-length"  # routed to one that sends its stream with Content-Length
MESSAGES = [{"role": "user", "content": "Tell me about the observability of gateways"}]

sim = None
proxy = None
raw = {}


class RawSseUpstream:
    """Answers every POST with a fixed event stream ending in a usage-only
    chunk, framed by closing the connection or by Content-Length (what a
    plain server may do), and records whether the request asked for usage.
    GETs (/metrics) get a minimal vLLM page."""

    EVENTS = (b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\r\n\r\n'
              b'data: {"choices":[],"usage":{"prompt_tokens":21,"completion_tokens":2}}\r\n\r\n'
              b"data: [DONE]\r\n\r\n")

    def __init__(self, framing):
        import threading
        self.framing = framing
        self.asked_usage = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
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
        c.settimeout(30)
        buf = b""
        try:
            while True:
                got = read_http_request(c, buf)
                if got is None:
                    return
                head, req_body, buf = got
                if not head.startswith(b"POST"):
                    page = b"vllm:num_requests_waiting 0\nvllm:num_requests_running 0\nvllm:kv_cache_usage_perc 0\n"
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(page) + page)
                    continue
                req = json.loads(req_body)
                self.asked_usage.append(req.get("stream_options", {}).get("include_usage"))
                h = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                if self.framing == "close":
                    # Two writes, so the proxy reads the body in pieces.
                    c.sendall(h + b"Connection: close\r\n\r\n" + self.EVENTS[:40])
                    time.sleep(0.05)
                    c.sendall(self.EVENTS[40:])
                    return
                c.sendall(h + b"Content-Length: %d\r\n\r\n" % len(self.EVENTS) + self.EVENTS)
        finally:
            c.close()


def setup():
    global sim, proxy
    sim = Sim("g1", "--model", f"{MODEL},{UNLISTED}", "--time-scale", "100")
    raw["close"] = RawSseUpstream("close")
    raw["length"] = RawSseUpstream("length")
    routes = f"""  - name: raw-close
    match:
      path_prefix: /v1/
      model: {RAW_CLOSE}
    backends:
      - pool: rawclose
  - name: raw-length
    match:
      path_prefix: /v1/
      model: {RAW_LENGTH}
    backends:
      - pool: rawlength
  - name: alias
    match:
      path_prefix: /v1/
      model: {ALIAS}
    backends:
      - pool: p
        model_rewrite: {MODEL}
  - name: all
    match:
      path_prefix: /
    backends:
      - pool: p
"""
    proxy = Proxy(base_config([("p", [sim], ""), ("rawclose", [raw["close"]], ""),
                               ("rawlength", [raw["length"]], "")], routes=routes))
    proxy.wait_fresh(3)


# --- reading /metrics ----------------------------------------------------------

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# Requests this file has had answered. infergate counts a request when it
# finishes, just after the last byte is written, so a client can read its
# whole answer before the count moves: scrape() waits (bounded) until
# infergate has finished as many requests as the client saw answered.
ANSWERED = [0]


def scrape():
    """{(name, frozenset(labels)): value} of the admin /metrics page, once
    every request answered so far is counted."""
    wait_for(lambda: sum(v for (n, _), v in _scrape().items() if n == "infergate_requests_total") >= ANSWERED[0],
             what="infergate to count every answered request")
    return _scrape()


def _scrape():
    st, _, body = proxy.admin("/metrics")
    assert st == 200, body
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, line
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, metric, **labels):
    """The sample `metric` whose labels include `labels` (0 if none)."""
    want = set(labels.items())
    hits = [v for (n, ls), v in samples.items() if n == metric and want <= set(ls)
            and ("le" in labels or not any(k == "le" for k, _ in ls))]
    assert len(hits) <= 1, (metric, labels, hits)
    return hits[0] if hits else 0.0


def delta(before, after, metric, **labels):
    return value(after, metric, **labels) - value(before, metric, **labels)


def pair(model, target=None):
    return {"model_name": model, "target_model_name": target or model}


# --- clients ----------------------------------------------------------------------

def body(model=MODEL, stream=False, max_tokens=6, include_usage=None):
    b = {"model": model, "messages": MESSAGES, "stream": stream, "max_tokens": max_tokens}
    if include_usage is not None:
        b["stream_options"] = {"include_usage": include_usage}
    return json.dumps(b)


def post(b):
    st, h, text = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions", b)
    ANSWERED[0] += 1
    return st, h, text


def read_chunked(f):
    """Decodes a chunked body from a file-like object."""
    out = b""
    while True:
        size = int(f.readline().split(b";")[0], 16)
        if size == 0:
            f.readline()
            return out
        out += f.read(size)
        f.readline()


def stream_raw(b, chunked_request=False):
    """POSTs `b` (str) on a raw socket, optionally as a chunked request
    body split in small pieces; returns (status, head bytes, decoded body)."""
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    try:
        data = b.encode()
        head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        if chunked_request:
            s.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
            for i in range(0, len(data), 7):
                piece = data[i:i + 7]
                s.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        else:
            s.sendall((head + f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
        f = s.makefile("rb")
        status_line = f.readline()
        headers = b""
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            headers += line
        assert b"transfer-encoding: chunked" in headers.lower(), headers
        out = int(status_line.split()[1]), headers, read_chunked(f)
        ANSWERED[0] += 1
        return out
    finally:
        s.close()


def events(raw):
    """The data payloads of an SSE body, in order."""
    return [e[len("data: "):] for e in raw.decode().split("\n\n") if e.startswith("data: ")]


# --- tests ------------------------------------------------------------------------

def test_non_streaming_tokens_and_counts():
    before = scrape()
    prompt = completion = 0
    for _ in range(3):
        st, _, text = post(body(max_tokens=5))
        assert st == 200, text
        usage = json.loads(text)["usage"]
        prompt += usage["prompt_tokens"]
        completion += usage["completion_tokens"]
    assert completion == 15
    after = scrape()
    lp = pair(MODEL)
    assert delta(before, after, "inference_objective_request_total", priority="0", **lp) == 3
    assert delta(before, after, "inference_objective_input_tokens_count", **lp) == 3
    assert delta(before, after, "inference_objective_input_tokens_sum", **lp) == prompt
    assert delta(before, after, "inference_objective_output_tokens_sum", **lp) == completion
    assert delta(before, after, "inference_objective_output_tokens_bucket", le="8", **lp) == 3
    assert delta(before, after, "inference_objective_request_duration_seconds_count", **lp) == 3
    assert delta(before, after, "inference_objective_request_ttft_seconds_count", **lp) == 3
    assert delta(before, after,
                 "inference_objective_normalized_time_per_output_token_seconds_count", **lp) == 3
    assert value(after, "inference_objective_running_requests", model_name=MODEL) == 0


def test_stream_client_asked_for_usage_sees_it():
    before = scrape()
    st, _, raw = stream_raw(body(stream=True, max_tokens=6, include_usage=True))
    assert st == 200
    evs = events(raw)
    assert evs[-1] == "[DONE]", evs
    usage_chunk = json.loads(evs[-2])
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["completion_tokens"] == 6, usage_chunk
    after = scrape()
    lp = pair(MODEL)
    assert delta(before, after, "inference_objective_output_tokens_sum", **lp) == 6
    assert delta(before, after, "inference_objective_input_tokens_sum", **lp) == \
        usage_chunk["usage"]["prompt_tokens"]
    assert delta(before, after, "inference_objective_request_total", **lp) == 1


def test_stream_client_did_not_ask_sees_no_usage_chunk():
    # The prompt's token count, from a request that reports it.
    _, _, text = post(body(max_tokens=1))
    prompt = json.loads(text)["usage"]["prompt_tokens"]
    for chunked, asked in ((False, None), (True, None), (False, False)):
        before = scrape()
        st, headers, raw = stream_raw(body(stream=True, max_tokens=7, include_usage=asked),
                                      chunked_request=chunked)
        assert st == 200
        evs = events(raw)
        assert evs[-1] == "[DONE]", evs
        chunks = [json.loads(e) for e in evs[:-1]]
        assert chunks and all(c["choices"] for c in chunks), evs
        assert not any("usage" in c for c in chunks), evs
        assert b'"usage"' not in raw
        after = scrape()
        lp = pair(MODEL)
        assert delta(before, after, "inference_objective_output_tokens_sum", **lp) == 7, chunked
        assert delta(before, after, "inference_objective_input_tokens_sum", **lp) == prompt, chunked
        assert delta(before, after, "inference_objective_request_error_total", **lp) == 0


def test_stripping_reframes_close_delimited_and_sized_streams():
    """The usage event goes, whatever the upstream's framing; the client
    gets a well-formed chunked stream with every other byte once."""
    for model, framing in ((RAW_CLOSE, "close"), (RAW_LENGTH, "length")):
        before = scrape()
        st, headers, got = stream_raw(body(model=model, stream=True))
        assert st == 200
        assert b"content-length" not in headers.lower(), headers
        events = RawSseUpstream.EVENTS.split(b"\r\n\r\n")
        assert got == events[0] + b"\r\n\r\n" + events[2] + b"\r\n\r\n", (framing, got)
        assert raw[framing].asked_usage[-1] is True
        after = scrape()
        assert delta(before, after, "inference_objective_output_tokens_sum", **pair(model)) == 2
        assert delta(before, after, "inference_objective_input_tokens_sum", **pair(model)) == 21


def test_unknown_model_is_labelled_other():
    before = scrape()
    st, _, text = post(body(model=UNLISTED, max_tokens=2))
    assert st == 200, text
    assert json.loads(text)["model"] == UNLISTED
    after = scrape()
    assert delta(before, after, "inference_objective_request_total", **pair("other")) == 1
    assert delta(before, after, "inference_objective_output_tokens_sum", **pair("other")) == 2
    assert not any(UNLISTED in v for (_, ls) in after for _, v in ls)


def test_alias_keeps_its_name_and_target_is_the_rewrite():
    before = scrape()
    st, _, text = post(body(model=ALIAS, max_tokens=3))
    assert st == 200, text
    assert json.loads(text)["model"] == MODEL
    after = scrape()
    assert delta(before, after, "inference_objective_request_total", **pair(ALIAS, MODEL)) == 1
    assert delta(before, after, "inference_objective_output_tokens_sum", **pair(ALIAS, MODEL)) == 3


def test_errors_carry_the_reference_error_code():
    before = scrape()
    st, _, _ = post(body(model="nobody-serves-this"))  # the sim answers 404
    assert st == 404
    st, _, _ = post("{not json")
    assert st == 400
    after = scrape()
    assert delta(before, after, "inference_objective_request_error_total",
                 error_code="ModelServerError", **pair("other")) == 1
    assert delta(before, after, "inference_objective_request_error_total",
                 error_code="BadRequest", **pair("")) == 1
    # Dispatched requests count; the unparseable one never was.
    assert delta(before, after, "inference_objective_request_total", **pair("other")) == 1
    assert delta(before, after, "inference_objective_request_total", **pair("")) == 0


def test_pool_and_scheduler_families():
    s = scrape()
    assert value(s, "inference_pool_ready_pods", name="p") == 1
    assert 0 <= value(s, "inference_pool_average_kv_cache_utilization", name="p") <= 1
    assert ("inference_pool_average_queue_size", frozenset({("name", "p")})) in s
    n = value(s, "inference_extension_scheduler_e2e_duration_seconds_count")
    assert n >= value(s, "inference_objective_request_total", priority="0", **pair(MODEL))
    assert value(s, "inference_extension_scheduler_e2e_duration_seconds_bucket", le="+Inf") == n
    # infergate's own families are still there, alongside.
    assert any(name == "infergate_requests_total" for name, _ in s)


def test_pool_gauges_drop_when_metrics_go_stale():
    sim.kill()
    wait_for(lambda: value(scrape(), "inference_pool_ready_pods", name="p") == 0,
             timeout=10, what="ready_pods to reach 0")
    s = scrape()
    assert ("inference_pool_average_kv_cache_utilization", frozenset({("name", "p")})) not in s


if __name__ == "__main__":
    setup()
    run([
        test_non_streaming_tokens_and_counts,
        test_stream_client_asked_for_usage_sees_it,
        test_stream_client_did_not_ask_sees_no_usage_chunk,
        test_stripping_reframes_close_delimited_and_sized_streams,
        test_unknown_model_is_labelled_other,
        test_alias_keeps_its_name_and_target_is_the_rewrite,
        test_errors_carry_the_reference_error_code,
        test_pool_and_scheduler_families,
        test_pool_gauges_drop_when_metrics_go_stale,
    ])
