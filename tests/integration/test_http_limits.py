"""Malformed and oversized requests each get their status with an
OpenAI-style JSON error, and neither the connection's neighbours nor the
process are harmed."""

import json
import socket

from harness import (MODEL, Proxy, Sim, base_config, chat_body, raw_exchange, request,
                     run, status_of)

proxy = None


def setup():
    global proxy
    sim = Sim("a", "--time-scale", "100")
    extra = """limits:
  max_body_bytes: 4096
"""
    proxy = Proxy(base_config([("main", [sim], "")], extra=extra))
    proxy.wait_fresh(1)


def healthy():
    st, _, body = request("127.0.0.1", proxy.port, "POST", "/v1/chat/completions",
                          chat_body(max_tokens=1))
    assert st == 200, body


def expect(raw, status, closes=True):
    out = raw_exchange(proxy.port, raw, timeout=5)
    assert status_of(out) == status, out[:300]
    head, _, body = out.partition(b"\r\n\r\n")
    err = json.loads(body.decode())["error"]
    assert err["code"] == status and err["message"], err
    if closes:
        assert b"connection: close" in head.lower(), head
    healthy()
    return out


def post(body, extra=b""):
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + extra +
            b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
            b"\r\n\r\n" + body)


def test_malformed_request_line():
    expect(b"GET /\tHTTP/1.1\r\nHost: x\r\n\r\n", 400)
    expect(b"GET / HTTP/1.1 junk\r\nHost: x\r\n\r\n", 400)


def test_unknown_method_501():
    expect(b"FROB / HTTP/1.1\r\nHost: x\r\n\r\n", 501)


def test_http_version_505():
    expect(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505)


def test_duplicate_content_length():
    expect(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400)


def test_content_length_and_transfer_encoding():
    expect(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400)


def test_unknown_transfer_coding_501():
    expect(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501)


def test_obs_fold():
    expect(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n", 400)


def test_missing_and_repeated_host():
    expect(b"GET /v1/models HTTP/1.1\r\n\r\n", 400)
    expect(b"GET /v1/models HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)


def test_headers_too_large_431():
    expect(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431)
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
    expect(b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n", 431)


def test_uri_too_long_414():
    expect(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)


def test_body_too_large_413():
    expect(post(b"{" + b" " * 5000 + b"}"), 413)
    # Chunked: the limit applies as the body streams in.
    chunk = b" " * 3000
    expect(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           + b"%x\r\n" % len(chunk) + chunk + b"\r\n" + b"%x\r\n" % len(chunk) + chunk + b"\r\n0\r\n\r\n",
           413)


def test_invalid_json_400_keeps_connection():
    out = expect(post(b'{"model": "x", '), 400, closes=False)
    assert b"not valid JSON" in out


def test_model_errors_400():
    expect(post(b'{"messages": []}'), 400, closes=False)
    expect(post(b'{"model": 5}'), 400, closes=False)
    expect(post(b'{"model": "a", "model": "b"}'), 400, closes=False)
    expect(post(b'[1, 2]'), 400, closes=False)


def test_chunked_request_body_is_forwarded():
    body = chat_body(max_tokens=1).encode()
    raw = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    out = raw_exchange(proxy.port, raw)
    assert status_of(out) == 200, out[:300]


def test_pipelined_requests_answered_in_order():
    reqs = b"".join(
        b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Request-Id: r%d\r\n\r\n" % i for i in range(3))
    reqs += b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Request-Id: r3\r\nConnection: close\r\n\r\n"
    out = raw_exchange(proxy.port, reqs)
    ids = [l.split(b": ", 1)[1] for l in out.split(b"\r\n") if l.lower().startswith(b"x-request-id")]
    assert ids == [b"r0", b"r1", b"r2", b"r3"], out


def test_413_reaches_a_client_still_sending():
    """The answer to an oversized body goes out while the client is still
    sending the rest. Closing with those bytes unread would make the kernel
    reset the connection, and the client would get ECONNRESET instead of
    the 413; infergate drains them first (lingering close)."""
    s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    try:
        total = 200 * 1024  # under the 256 KiB infergate drains
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(total).encode() + b"\r\n\r\n")
        chunk = b" " * 8192
        for _ in range(total // len(chunk)):  # bounded: 25 sends
            s.sendall(chunk)  # raises if infergate reset the connection
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.find(b"\r\n\r\n") + 4:
            c = s.recv(65536)
            if not c:
                break
            data += c
            if len(data) > 65536:
                break
        assert status_of(data) == 413, data[:300]
    finally:
        s.close()
    healthy()


def test_process_still_serves():
    healthy()
    st, _, _ = proxy.admin("/healthz")
    assert st == 200


if __name__ == "__main__":
    run([setup, test_malformed_request_line, test_unknown_method_501, test_http_version_505,
         test_duplicate_content_length, test_content_length_and_transfer_encoding,
         test_unknown_transfer_coding_501, test_obs_fold, test_missing_and_repeated_host,
         test_headers_too_large_431, test_uri_too_long_414, test_body_too_large_413,
         test_invalid_json_400_keeps_connection, test_model_errors_400,
         test_chunked_request_body_is_forwarded, test_pipelined_requests_answered_in_order,
         test_413_reaches_a_client_still_sending, test_process_still_serves])
