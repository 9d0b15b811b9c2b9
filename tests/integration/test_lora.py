"""LoRA affinity end to end: two simulated vLLM replicas serve the same
adapters; once one of them is running an adapter (as its scraped
vllm:lora_requests_info says), requests for that adapter go to it, and
requests for another adapter go to the replica with room to load it."""

from harness import MODEL, Proxy, Sim, base_config, chat_body, request, run, send_raw_post, wait_for

sims = {}
proxy = None

SCHEDULER = """    scheduler:
      plugins:
        - type: lora-affinity-scorer
        - type: max-score-picker
"""


def setup():
    global proxy
    for n in ("a", "b"):
        sims[n] = Sim(n, "--lora", "sql-lora,chat-lora", "--max-loras", "1")
    proxy = Proxy(base_config([("main", list(sims.values()), SCHEDULER)]))
    proxy.wait_fresh(2)


def endpoint(addr):
    eps = [e for p in proxy.debug_endpoints()["pools"] for e in p["endpoints"]]
    return next(e for e in eps if e["address"] == addr)


def served_by(model, n=20):
    out = []
    for _ in range(n):
        st, h, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                              chat_body(max_tokens=1, model=model))
        assert st == 200, body
        out.append(h["x-gateway-destination-endpoint-served"])
    return out


def test_adapter_requests_follow_the_running_adapter():
    a, b = sims["a"], sims["b"]
    # A long request for sql-lora straight to b keeps the adapter running there.
    sock = send_raw_post(b.port, chat_body(stream=True, max_tokens=50000, model="sql-lora").encode())
    try:
        data = b""
        while b'"content"' not in data:
            c = sock.recv(65536)
            assert c, f"closed before the first event: {data!r}"
            data += c
        assert b" 200 " in data.split(b"\r\n", 1)[0], data
        # running >= 1 comes from the same scrape that lists sql-lora as running.
        wait_for(lambda: endpoint(b.address)["running"] >= 1, what="a scrape of b running sql-lora")
        assert set(served_by("sql-lora")) == {b.address}
        # b is at max_lora (1 adapter running) and does not run chat-lora: 0;
        # a has room: 0.8. The same holds for the base model.
        assert set(served_by("chat-lora")) == {a.address}
        # Once a scrape of a shows nothing in flight (so no chat-lora), a
        # has room again; b is still full. The base model goes to a too.
        wait_for(lambda: endpoint(a.address)["running"] == 0 and endpoint(a.address)["waiting"] == 0,
                 what="a scrape of an idle a")
        assert set(served_by(MODEL, 5)) == {a.address}
    finally:
        sock.close()
    wait_for(lambda: b.stats()["running"] == 0, what="the long request to be aborted")


def test_unknown_model_is_404_from_the_sim():
    st, _, body = request("127.0.0.1", sims["a"].port, "POST", "/v1/chat/completions",
                          chat_body(max_tokens=1, model="no-such-lora"))
    assert st == 404, body


if __name__ == "__main__":
    run([setup, test_adapter_requests_follow_the_running_adapter, test_unknown_model_is_404_from_the_sim])
