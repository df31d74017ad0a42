"""A gateway key that sluice refuses, seen through both official SDKs.

Usage: python3 key_errors.py BASE_URL GATEWAY_KEY STATUS SAYS MODEL
Each SDK must raise its typed exception for STATUS (401: AuthenticationError,
403: PermissionDeniedError) with SAYS in its message, and never the key itself.
"""
import sys

import anthropic
import openai

base, key, status, says, model = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
expected = {
    401: (openai.AuthenticationError, anthropic.AuthenticationError),
    403: (openai.PermissionDeniedError, anthropic.PermissionDeniedError),
}[status]


def check(sdk, error):
    assert error.status_code == status, (sdk, error.status_code)
    assert says in str(error), (sdk, str(error))
    assert key not in str(error) and key not in str(error.body), (sdk, "the key was echoed")


try:
    openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    raise AssertionError("openai: the call went through")
except expected[0] as error:
    assert error.body["type"] == ("authentication_error" if status == 401 else "permission_error"), error.body
    check("openai", error)

try:
    anthropic.Anthropic(base_url=base, api_key=key, max_retries=0).messages.create(
        model=model, max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    raise AssertionError("anthropic: the call went through")
except expected[1] as error:
    assert error.body["type"] == "error", error.body
    check("anthropic", error)

print("key errors: ok")
