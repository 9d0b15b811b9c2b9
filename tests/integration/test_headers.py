"""What infergate forwards: hop-by-hop fields removed both ways (including
those named by Connection), X-Forwarded-For replaced for untrusted peers
and appended to for trusted ones, X-Forwarded-Proto and X-Request-Id set,
traceparent passed through, the body's model rewritten when asked."""

import json

from harness import MODEL, EchoUpstream, Proxy, base_config, chat_body, request, run

echo = None
untrusted = trusted = None


def setup():
    global echo, untrusted, trusted
    echo = EchoUpstream()
    pools = [("echo", [echo], "")]
    untrusted = Proxy(base_config(pools), name="untrusted")
    trusted = Proxy(base_config(pools, extra="trusted_proxies: [127.0.0.0/8]\n"), name="trusted")
    untrusted.wait_fresh(1)
    trusted.wait_fresh(1)


def forwarded(proxy, headers):
    st, h, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                          chat_body(max_tokens=1), headers=headers)
    assert st == 200, body
    doc = json.loads(body)
    return h, doc["headers"], doc["body"]


def values(hs, name):
    return [v for k, v in hs if k == name]


def test_hop_by_hop_removed_upstream():
    _, hs, _ = forwarded(untrusted, {"Connection": "keep-alive, X-Secret", "X-Secret": "1",
                                     "Keep-Alive": "timeout=9", "TE": "trailers",
                                     "Proxy-Connection": "keep-alive", "X-Kept": "yes"})
    names = {k for k, _ in hs}
    for n in ("x-secret", "keep-alive", "te", "proxy-connection", "connection"):
        assert n not in names, (n, hs)
    assert values(hs, "x-kept") == ["yes"]


def test_hop_by_hop_removed_downstream():
    h, _, _ = forwarded(untrusted, {})
    assert "x-upstream-hop" not in h and "keep-alive" not in h, h
    assert h["x-gateway-destination-endpoint-served"] == echo.address


def test_forwarded_headers_untrusted_peer():
    _, hs, _ = forwarded(untrusted, {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https",
                                     "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    assert values(hs, "x-forwarded-for") == ["127.0.0.1"], hs
    assert values(hs, "x-forwarded-proto") == ["http"]
    assert values(hs, "traceparent") == ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
    assert len(values(hs, "x-request-id")) == 1


def test_forwarded_for_appended_from_trusted_peer():
    _, hs, _ = forwarded(trusted, {"X-Forwarded-For": "203.0.113.7"})
    assert values(hs, "x-forwarded-for") == ["203.0.113.7, 127.0.0.1"], hs


def test_request_id_matches_response():
    h, hs, _ = forwarded(untrusted, {})
    assert values(hs, "x-request-id") == [h["x-request-id"]]


def test_model_rewrite_in_body():
    routes = """  - name: all
    match:
      path_prefix: /
    backends:
      - pool: echo
        model_rewrite: "other \\"model\\""
"""
    p = Proxy(base_config([("echo", [echo], "")], routes=routes), name="rewrite")
    p.wait_fresh(1)
    st, _, body = request("127.0.0.1", p.port, "POST", "/v1/chat/completions",
                          chat_body(max_tokens=1))
    assert st == 200, body
    sent = json.loads(json.loads(body)["body"])
    assert sent["model"] == 'other "model"'
    assert sent["messages"] == json.loads(chat_body(max_tokens=1))["messages"]
    p.stop()


if __name__ == "__main__":
    run([setup, test_hop_by_hop_removed_upstream, test_hop_by_hop_removed_downstream,
         test_forwarded_headers_untrusted_peer, test_forwarded_for_appended_from_trusted_peer,
         test_request_id_matches_response, test_model_rewrite_in_body])
