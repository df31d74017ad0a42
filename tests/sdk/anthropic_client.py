"""The official `anthropic` Python package against sluice (in front of the mock upstream).

Usage: python3 anthropic_client.py BASE_URL GATEWAY_KEY
Exits non-zero with a message on the first mismatch.
"""
import sys

import anthropic

base, key = sys.argv[1], sys.argv[2]
client = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)

# Non-streaming, with a system prompt and a tool.
message = client.messages.create(
    model="claude-test",
    max_tokens=64,
    system="You help ops@example.org",
    messages=[{"role": "user", "content": "ask bob@example.com"}],
)
assert message.content[0].type == "text"
assert message.content[0].text == "you said: ask [EMAIL_2]", message

message = client.messages.create(
    model="@an/tool-call",
    max_tokens=64,
    tools=[{"name": "send_mail", "description": "send", "input_schema": {"type": "object"}}],
    messages=[{"role": "user", "content": "send it"}],
)
tool = [b for b in message.content if b.type == "tool_use"][0]
assert tool.input == {"to": "[EMAIL_1]", "subject": "hi"}, tool.input

# Streaming: thinking, text and tool input, all events understood by the SDK.
with client.messages.stream(
    model="@an/tool-call",
    max_tokens=64,
    messages=[{"role": "user", "content": "write to a@example.com"}],
) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
assert text == "you said: write to [EMAIL_1]", text
kinds = [b.type for b in final.content]
assert kinds == ["thinking", "text", "tool_use"], kinds
assert final.content[0].thinking == "Let me think."
assert final.content[2].input == {"to": "[EMAIL_2]", "subject": "hi"}, final.content[2].input
assert final.stop_reason == "tool_use"

# A leak split across chunks arrives redacted.
with client.messages.stream(
    model="@an/leak-email", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
) as stream:
    text = "".join(stream.text_stream)
assert text == "Sure. You can reach me at [EMAIL_1] any time.", text

count = client.messages.count_tokens(model="claude-test", messages=[{"role": "user", "content": "hi"}])
assert count.input_tokens == 42, count

try:
    client.messages.create(model="@nope/x", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    raise AssertionError("expected BadRequestError")
except anthropic.BadRequestError as e:
    assert "unknown provider" in str(e), e
try:
    anthropic.Anthropic(base_url=base, api_key="wrong", max_retries=0).messages.create(
        model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    raise AssertionError("expected AuthenticationError")
except anthropic.AuthenticationError:
    pass

# An OpenAI model, translated both ways, streaming with tools.
with client.messages.stream(
    model="@oa/tool-call",
    max_tokens=64,
    tools=[{"name": "send_mail", "description": "send", "input_schema": {"type": "object"}}],
    messages=[{"role": "user", "content": "send it"}],
) as stream:
    final = stream.get_final_message()
assert [b.type for b in final.content] == ["tool_use"], final.content
assert final.content[0].input == {"to": "[EMAIL_1]", "subject": "hi"}, final.content[0].input
assert final.stop_reason == "tool_use", final.stop_reason

print("anthropic sdk: ok")
