"""A stdio MCP server that misbehaves on request: the hub's fault tests start it.

faulty_server.py serve            a working server (tools: echo, crash, hang, env, spawn_child)
faulty_server.py exit-at-start    writes to stderr and exits 3 before answering
faulty_server.py hang-at-start    never answers
faulty_server.py garbage          answers every line with text that is not JSON
faulty_server.py big-line         answers the first line with a 20 MB line
faulty_server.py list-changed     a working server that sends notifications/tools/list_changed just
                                  after the client has read its tool list (as server-everything
                                  does after connecting); the list then has one more tool
"""

import os
import subprocess
import sys
import time


def list_changed() -> None:
    """JSON-RPC by hand, so that the notification's timing is exact."""
    import json
    import threading

    tools = [{"name": "first", "inputSchema": {"type": "object"}}]
    lock = threading.Lock()

    def send(message: dict) -> None:
        with lock:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    def change() -> None:
        time.sleep(0.3)
        tools.append({"name": "second", "inputSchema": {"type": "object"}})
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})

    changed = False
    for line in sys.stdin:
        message = json.loads(line)
        method, ident = message.get("method"), message.get("id")
        if ident is None:
            continue
        if method == "initialize":
            version = message.get("params", {}).get("protocolVersion", "2025-06-18")
            result = {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": True}},
                "serverInfo": {"name": "list-changed", "version": "1"},
            }
            send({"jsonrpc": "2.0", "id": ident, "result": result})
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": ident, "result": {"tools": list(tools)}})
            if not changed:
                changed = True
                threading.Thread(target=change, daemon=True).start()
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": ident, "result": {}})
        else:
            send({"jsonrpc": "2.0", "id": ident, "error": {"code": -32601, "message": f"no {method}"}})


def raw(mode: str) -> None:
    if mode == "list-changed":
        list_changed()
        return
    if mode == "exit-at-start":
        sys.stderr.write("faulty: cannot open database /nowhere/db.sqlite\n")
        sys.stderr.flush()
        sys.exit(3)
    if mode == "hang-at-start":
        sys.stderr.write("faulty: hanging\n")
        sys.stderr.flush()
        time.sleep(3600)
    for _line in sys.stdin:
        if mode == "garbage":
            sys.stdout.write("this is not json {\n")
        else:
            sys.stdout.write('{"jsonrpc": "2.0", "id": 0, "result": "' + "x" * (20 * 1024 * 1024) + '"}\n')
        sys.stdout.flush()


def serve() -> None:
    from mcp.server.mcpserver import Context, MCPServer

    server = MCPServer("faulty")

    @server.tool()
    def echo(message: str) -> str:
        """Echo."""
        return message

    @server.tool()
    def crash() -> str:
        """Die in the middle of the call."""
        sys.stderr.write("faulty: crashing now\n")
        sys.stderr.flush()
        os._exit(7)

    @server.tool()
    async def hang() -> str:
        """Never return."""
        import anyio

        await anyio.sleep(3600)
        return "never"

    @server.tool()
    def env(name: str) -> str:
        """The value of an environment variable, or <unset>."""
        return os.environ.get(name, "<unset>")

    @server.tool()
    def spawn_child() -> int:
        """Start a long-lived grandchild process; returns its pid."""
        child = subprocess.Popen(["sleep", "300"])
        return child.pid

    @server.tool()
    async def grow(ctx: Context) -> str:
        """Add a tool named extra_N and tell the client its tool list changed."""
        name = f"extra_{len(server._tool_manager.list_tools())}"

        def extra() -> str:
            return name

        server.add_tool(extra, name=name, description="added at run time")
        await ctx.session.send_tool_list_changed()
        return name

    @server.tool()
    def pid() -> int:
        """This process's pid."""
        return os.getpid()

    server.run()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "serve"
    serve() if mode == "serve" else raw(mode)
