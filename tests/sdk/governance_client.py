"""Budgets and rate limits as the official `openai` and `anthropic` packages see them.

Usage: python3 governance_client.py BASE_URL GATEWAY_KEY
The gateway allows the key 3 requests a day, and the tag project=capped 15 tokens
a day (one request of the mock upstream). Exits non-zero on the first mismatch.
"""
import json
import sys

import anthropic
import openai

base, key = sys.argv[1], sys.argv[2]
oa = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
ask = dict(model="@oa/echo-last", messages=[{"role": "user", "content": "hi"}])
capped = {"x-sluice-metadata": json.dumps({"project": "capped"})}

# 1st request: the rate-limit headers say what is left.
raw = oa.chat.completions.with_raw_response.create(**ask)
assert raw.headers["x-ratelimit-limit-requests"] == "3", raw.headers
assert raw.headers["x-ratelimit-remaining-requests"] == "2", raw.headers
assert raw.parse().choices[0].message.content == "you said: hi"

# 2nd: spends the tag's 15-token budget; the next one on that tag is refused
# with 402, which the SDK does not retry (even with its default retries).
oa.chat.completions.create(**ask, extra_headers=capped)
try:
    openai.OpenAI(base_url=f"{base}/v1", api_key=key).chat.completions.create(
        **ask, extra_headers=capped
    )
    raise SystemExit("the spent budget let a request through")
except openai.APIStatusError as e:
    assert e.status_code == 402, e
    assert e.body["code"] == "budget_exceeded", e.body
    assert "budget `capped-tokens` for tag project=capped is used up" in e.message, e.message

# 3rd admitted request; the 4th is over the rate limit: RateLimitError, with
# Retry-After.
oa.chat.completions.create(**ask)
try:
    oa.chat.completions.create(**ask)
    raise SystemExit("the rate limit let a 4th request through")
except openai.RateLimitError as e:
    assert int(e.response.headers["retry-after"]) > 0, e.response.headers
    assert e.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert "rate limit `daily` for key team-a reached" in e.message, e.message

# The Anthropic SDK sees the same limit in its own format.
claude = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
try:
    claude.messages.create(
        model="@an/echo-last", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    raise SystemExit("the rate limit let an Anthropic request through")
except anthropic.RateLimitError as e:
    assert e.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert e.body["error"]["type"] == "rate_limit_error", e.body

print("ok")
