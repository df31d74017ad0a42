"""Routing configs as the official `openai` and `anthropic` packages see them.

Usage: python3 routing_client.py BASE_URL GATEWAY_KEY
The gateway's configs (tests/integration/sdk.rs, ROUTING) put failing targets of
the fault-injecting mock upstream before working ones. Exits non-zero on the
first mismatch.
"""
import sys

import anthropic
import openai

base, key = sys.argv[1], sys.argv[2]
oa = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
hi = [{"role": "user", "content": "hi"}]


def config(name):
    return {"x-sluice-config": name}


# Fallback past a 500: the SDK sees only the answer; headers say what happened.
raw = oa.chat.completions.with_raw_response.create(model="any", messages=hi, extra_headers=config("on-500"))
assert raw.headers["x-sluice-fallback"] == "true", raw.headers
assert raw.headers["x-sluice-target"] == "@an/echo-last", raw.headers
assert raw.parse().choices[0].message.content == "you said: hi"

# Fallback past a timeout.
raw = oa.chat.completions.with_raw_response.create(model="any", messages=hi, extra_headers=config("on-timeout"))
assert raw.headers["x-sluice-target"] == "@an/echo-last", raw.headers

# A stream past a body that is not JSON and a stream that dies before its first byte.
stream = oa.chat.completions.create(model="any", messages=hi, stream=True, extra_headers=config("on-malformed"))
text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
assert text == "you said: hi", text

# Retries: the flaky target fails twice, then answers.
raw = oa.chat.completions.with_raw_response.create(model="any", messages=hi, extra_headers=config("retry-flaky"))
assert raw.headers["x-sluice-retries"] == "2", raw.headers
assert raw.parse().choices[0].message.content == "you said: hi"

# Load balancing: both targets serve.
targets = set()
for _ in range(30):
    raw = oa.chat.completions.with_raw_response.create(model="any", messages=hi, extra_headers=config("split"))
    targets.add(raw.headers["x-sluice-target"])
assert targets == {"@oa/echo-last", "@an/echo-last"}, targets

# Conditions on a request parameter.
raw = oa.chat.completions.with_raw_response.create(
    model="any", messages=hi, temperature=0.9, extra_headers=config("by-temperature")
)
assert raw.headers["x-sluice-target"] == "@oa/echo-last", raw.headers

# The Anthropic SDK, streaming, past two failing OpenAI targets (translated).
claude = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
with claude.messages.stream(
    model="any", max_tokens=50, messages=hi, extra_headers=config("on-malformed")
) as stream:
    text = "".join(stream.text_stream)
assert text == "you said: hi", text

print("ok")
