"""infergate-sim's SSE batching (--tokens-per-event N): the first token goes
out in an event of its own, the rest in events of N tokens (the last one
shorter), for completions and chat; with N = 1 every event carries one
token. Benchmarks batch events to load the client less, and a first event
of one token keeps time to first token exact."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import MODEL, Sim, run  # noqa: E402


def token_counts(sim, path, body):
    """Tokens per content event of one streamed response (words: the sim's
    tokens are whitespace-separated words)."""
    status, headers, text = sim.post(path, body)
    assert status == 200, text
    assert headers["content-type"].startswith("text/event-stream"), headers
    events = [e[len("data: "):] for e in text.split("\n\n") if e.startswith("data: ")]
    assert events[-1] == "[DONE]", events[-3:]
    counts = []
    for e in events[:-1]:
        obj = json.loads(e)
        if not obj["choices"]:
            continue  # the usage chunk
        choice = obj["choices"][0]
        content = choice["text"] if "text" in choice else choice["delta"].get("content", "")
        if content:
            counts.append(len(content.split()))
    return counts


def test_completion_events():
    cases = [  # (tokens per event, max_tokens, want tokens per event)
        (1, 4, [1, 1, 1, 1]),
        (5, 11, [1, 5, 5]),
        (5, 13, [1, 5, 5, 2]),
        (20, 1, [1]),
        (20, 7, [1, 6]),
    ]
    for per_event, max_tokens, want in cases:
        sim = Sim(f"ev{per_event}-{max_tokens}", "--time-scale", "100", "--tokens-per-event", str(per_event))
        got = token_counts(sim, "/v1/completions",
                           {"model": MODEL, "prompt": "hello " * 40, "max_tokens": max_tokens, "stream": True,
                            "stream_options": {"include_usage": True}})
        assert got == want, (per_event, max_tokens, got, want)
        sim.kill()


def test_chat_events():
    sim = Sim("chat-ev", "--time-scale", "100", "--tokens-per-event", "4")
    got = token_counts(sim, "/v1/chat/completions",
                       {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9,
                        "stream": True})
    assert got == [1, 4, 4], got


if __name__ == "__main__":
    run([
        test_completion_events,
        test_chat_events,
    ])
