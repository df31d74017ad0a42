"""The official `openai` Python package's Responses API against sluice (in front
of the mock upstream, with the pii guardrail).

Usage: python3 responses_client.py BASE_URL GATEWAY_KEY
Exits non-zero with a message on the first mismatch.
"""
import json
import sys

import openai

base, key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)

for model in ["@oa/echo-last", "@an/echo-last"]:
    # Whole answers, on a Chat Completions and on a Messages target: the
    # request is redacted upstream, the answer comes back typed.
    response = client.responses.create(
        model=model,
        instructions="Be brief.",
        input="mail jane.doe@example.com",
    )
    assert response.status == "completed", response
    assert response.output_text == "you said: mail [EMAIL_1]", (model, response)
    assert response.usage.total_tokens == 15, response.usage

# Streamed: an address split across deltas arrives redacted; the last event
# is response.completed with the usage.
for model in ["@oa/leak-email", "@an/leak-email"]:
    stream = client.responses.create(model=model, input="hi", stream=True)
    text, completed, kinds = "", None, []
    for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            completed = event.response
    assert text == "Sure. You can reach me at [EMAIL_1] any time.", (model, text)
    assert kinds[0] == "response.created", kinds
    assert completed is not None and completed.usage.total_tokens == 15, (model, kinds)
    assert completed.output_text == text, completed

# Function tools: a call comes back as a function_call item, its arguments
# redacted; its output goes back as a function_call_output item.
tools = [{
    "type": "function",
    "name": "send_mail",
    "description": "Send an e-mail",
    "parameters": {"type": "object", "properties": {"to": {"type": "string"}}},
}]
response = client.responses.create(model="@oa/tool-call", input="mail bob", tools=tools)
calls = [item for item in response.output if item.type == "function_call"]
assert len(calls) == 1 and calls[0].name == "send_mail", response.output
arguments = json.loads(calls[0].arguments)
assert arguments["to"] == "[EMAIL_1]", arguments
stream = client.responses.create(model="@oa/tool-call", input="mail bob", tools=tools, stream=True)
streamed = ""
for event in stream:
    if event.type == "response.function_call_arguments.delta":
        streamed += event.delta
assert json.loads(streamed)["to"] == "[EMAIL_1]", streamed
followup = client.responses.create(
    model="@an/echo-last",
    tools=tools,
    input=[
        {"role": "user", "content": "mail bob"},
        {"type": "function_call", "call_id": calls[0].call_id, "name": "send_mail",
         "arguments": calls[0].arguments},
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "sent"},
    ],
)
assert followup.status == "completed", followup

# A built-in tool runs at OpenAI: passed through there, streamed and not,
# with its item and the answer's citation intact.
searched = client.responses.create(
    model="@oa/web-search", input="search it", tools=[{"type": "web_search"}]
)
assert searched.output[0].type == "web_search_call", searched
assert searched.output_text == "Found it (example.org).", searched
events = list(
    client.responses.create(
        model="@oa/web-search", input="search it", tools=[{"type": "web_search"}], stream=True
    )
)
assert any(e.type == "response.web_search_call.completed" for e in events), events
assert events[-1].response.output[1].content[0].annotations[0].url == "https://example.org/"

# ... and is a clear 400 on a target that cannot run it.
try:
    client.responses.create(model="@an/echo-last", input="hi", tools=[{"type": "web_search"}])
    raise SystemExit("web_search was accepted")
except openai.BadRequestError as e:
    assert "web_search" in str(e), e

print("ok")
