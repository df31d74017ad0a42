"""The official `openai` Python package on Azure OpenAI deployments through
sluice (in front of the fake Azure resource): the plain `OpenAI` class, the
gateway key; the gateway holds the Azure key, the deployments and the
`api-version`.

Usage: python3 azure_client.py BASE_URL GATEWAY_KEY
Exits non-zero with a message on the first mismatch.
"""
import json
import sys

import openai

base, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"input": {"type": "string"}}}}}]

for model in ["@azure/gpt-4o-tool", "@azure-dep/gpt-4o-tool"]:
    # A tool round trip: the model calls the tool with the (redacted) text...
    first = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "find jane.doe@example.com"}],
        tools=tools,
    )
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls", first
    assert json.loads(call.function.arguments) == {"input": "find [EMAIL_1]"}, call
    # ...and answers the tool's result, streamed, with usage.
    stream = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "user", "content": "find jane.doe@example.com"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "found bob@corp.io"},
        ],
        tools=tools,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text.startswith("tool said: found [EMAIL_"), text
    assert "bob@corp.io" not in text, text
    assert usage is not None and usage.total_tokens == 17, usage

# A leaking deployment: the address is redacted on the way out.
leak = client.chat.completions.create(
    model="@azure/gpt-4o-leak", messages=[{"role": "user", "content": "hi"}])
assert "leak.person@corp-mail.com" not in leak.choices[0].message.content, leak
assert "[EMAIL_" in leak.choices[0].message.content, leak

# Throttling reaches the SDK as its own typed error, with the retry hint.
try:
    client.chat.completions.create(model="@azure/throttled", messages=[{"role": "user", "content": "x"}])
    raise SystemExit("expected a RateLimitError")
except openai.RateLimitError as error:
    assert error.status_code == 429
    assert error.response.headers.get("retry-after") == "6", error.response.headers

print("ok")
