"""The official `openai` Python package against sluice (in front of the mock upstream).

Usage: python3 openai_client.py BASE_URL GATEWAY_KEY
Exits non-zero with a message on the first mismatch.
"""
import json
import sys

import openai

base, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)

# Non-streaming: the request is redacted upstream, the answer comes back typed.
completion = client.chat.completions.create(
    model="@oa/echo-last",
    messages=[{"role": "user", "content": "mail jane.doe@example.com"}],
)
assert completion.choices[0].message.content == "you said: mail [EMAIL_1]", completion
assert completion.usage.total_tokens == 15, completion.usage

# Streaming with usage: an address split across chunks arrives redacted.
stream = client.chat.completions.create(
    model="@oa/leak-email",
    messages=[{"role": "user", "content": "hi"}],
    stream=True,
    stream_options={"include_usage": True},
)
text, usage = "", None
for chunk in stream:
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
    if chunk.usage:
        usage = chunk.usage
assert text == "Sure. You can reach me at [EMAIL_1] any time.", text
assert usage is not None and usage.total_tokens == 15, usage

# Tools, streaming: argument deltas reassemble into redacted JSON.
stream = client.chat.completions.create(
    model="@oa/tool-call",
    messages=[{"role": "user", "content": "send it"}],
    tools=[{"type": "function", "function": {"name": "send_mail", "parameters": {"type": "object"}}}],
    stream=True,
)
arguments = ""
for chunk in stream:
    for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
        arguments += call.function.arguments or ""
assert json.loads(arguments) == {"to": "[EMAIL_1]", "subject": "hi"}, arguments

# Multi-part content through the echo provider shows what went upstream.
echo = client.chat.completions.create(
    model="@echo/echo",
    messages=[{"role": "user", "content": [{"type": "text", "text": "hi bob@corp.io"}]}],
)
assert json.loads(echo.choices[0].message.content)["messages"][0]["content"][0]["text"] == "hi [EMAIL_1]"

# Errors are raised as the SDK's typed exceptions.
try:
    client.chat.completions.create(model="@nope/x", messages=[{"role": "user", "content": "x"}])
    raise AssertionError("expected BadRequestError")
except openai.BadRequestError as e:
    assert "unknown provider" in e.message, e.message
try:
    openai.OpenAI(base_url=f"{base}/v1", api_key="wrong", max_retries=0).chat.completions.create(
        model="@oa/x", messages=[{"role": "user", "content": "x"}]
    )
    raise AssertionError("expected AuthenticationError")
except openai.AuthenticationError:
    pass

models = client.models.list()
assert any(m.id == "claude-test" for m in models.data), models

# An Anthropic model, translated both ways, streaming with tools.
stream = client.chat.completions.create(
    model="@an/tool-call",
    messages=[{"role": "user", "content": "write to a@example.com"}],
    tools=[{"type": "function", "function": {"name": "send_mail", "parameters": {"type": "object"}}}],
    stream=True,
)
text, arguments, finish = "", "", None
for chunk in stream:
    if chunk.choices:
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            arguments += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
assert text == "you said: write to [EMAIL_1]", text
assert json.loads(arguments) == {"to": "[EMAIL_2]", "subject": "hi"}, arguments
assert finish == "tool_calls", finish

print("openai sdk: ok")
