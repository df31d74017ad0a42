"""The Python `mcp` package's Streamable HTTP client against sluice's /mcp:
python3 mcp_client.py BASE_URL GATEWAY_KEY SECRET EMAIL

Lists the tools (prefixed by server id), calls one, and checks that a
secret in a tool's result and an e-mail address in its progress messages
arrive redacted; exits non-zero otherwise."""

import asyncio
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(base: str, key: str, secret: str, email: str) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http:
        async with streamable_http_client(f"{base}/mcp", http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = sorted(t.name for t in (await session.list_tools()).tools)
                assert "alpha__echo" in tools and "alpha__secret" in tools, tools
                echoed = await session.call_tool("alpha__echo", {"text": "from python"})
                assert "alpha: from python" in echoed.content[0].text, echoed
                leaked = await session.call_tool("alpha__secret", {})
                text = leaked.content[0].text
                assert secret not in text and "GITHUB_TOKEN=" in text, text
                # progress notifications come through, their messages checked
                messages = []

                async def on_progress(progress, total, message):
                    messages.append(message)

                done = await session.call_tool("alpha__progress", {}, progress_callback=on_progress)
                assert done.content[0].text == "done", done
                assert messages, "a progress notification came through"
                assert all(email not in (m or "") for m in messages), messages
                assert any("halfway" in (m or "") for m in messages), messages
                print("ok", len(tools), "tools")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
