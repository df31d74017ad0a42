"""A stdio MCP server (the Python `mcp` package's) that sluice starts,
supervises and restarts: `pid` tells which process answered, `echo` echoes,
`exit` ends the process (as a crash would)."""

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("sluice-stdio-test")


@server.tool()
def pid() -> str:
    """The server process's id."""
    return str(os.getpid())


@server.tool()
def echo(text: str) -> str:
    """Returns its text."""
    return f"stdio: {text}"


if __name__ == "__main__":
    server.run("stdio")
