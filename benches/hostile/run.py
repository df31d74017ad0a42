#!/usr/bin/env python3
"""Memory and CPU of a release `sluice serve` under hostile input (issue 16).

Runs, each against a fresh gateway process, and prints one table:

1. 5 upstream answers of 1 GiB each (the provider never stops sending):
   the gateway answers 502 past `[server] max_answer_mb`.
2. 40 concurrent 31 MiB request bodies without a gateway key: 401 from
   the headers alone, the bodies never buffered.
3. One upstream stream event of 17 MiB with no event boundary, sent in
   1 KiB pieces: the stream ends with an error past `max_stream_event_mb`,
   and the parser's CPU time stays linear.

Peak memory is the process's VmHWM (/proc/PID/status), CPU time its
utime + stime. Usage: `cargo build --release -p sluice && python3
benches/hostile/run.py` (Linux; only Python's standard library).
"""
import http.server
import json
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, "target", "release", "sluice")
KEY = "gw-key-bench-hostile-000000"
MIB = 1 << 20


class Upstream(http.server.BaseHTTPRequestHandler):
    """A provider that answers far too much."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        try:
            if body.get("stream"):
                self.huge_event()
            else:
                self.huge_answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the gateway hung up, as it should

    def huge_answer(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        piece = b"x" * MIB
        self.chunk(b'{"choices": [{"message": {"content": "')
        for _ in range(1024):  # 1 GiB
            self.chunk(piece)
        self.chunk(b'"}}]}')
        self.chunk(b"")

    def huge_event(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.chunk(b"data: ")
        piece = b"y" * 1024
        for _ in range(17 * 1024):  # 17 MiB, no boundary
            self.chunk(piece)
        self.chunk(b"\n\n")
        self.chunk(b"")

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


class ThreadedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stats(pid):
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return int(status["VmHWM"].split()[0]) // 1024, int(status["VmRSS"].split()[0]) // 1024, cpu


def start_gateway(upstream_port, workdir):
    port = free_port()
    config = os.path.join(workdir, "sluice.toml")
    with open(config, "w") as f:
        f.write(f"""
[server]
listen = "127.0.0.1:{port}"
[state]
path = "{workdir}/state.db"
[audit]
path = "{workdir}/audit.db"
[sandbox]
cache_dir = "{workdir}/cache"
[[providers]]
slug = "up"
kind = "openai"
base_url = "http://127.0.0.1:{upstream_port}/v1"
[[keys]]
id = "bench"
key = "{KEY}"
""")
    child = subprocess.Popen([BINARY, "serve", "--config", config],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            return child, base, port
        except OSError:
            time.sleep(0.1)
    child.kill()
    sys.exit("the gateway did not start")


def chat(base, stream):
    body = json.dumps({"model": "@up/m", "stream": stream,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(base + "/v1/chat/completions", data=body, headers={
        "authorization": f"Bearer {KEY}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def keyless_body(port, size):
    """Sends `size` bytes of body without a key; returns the status line."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                  b"content-type: application/json\r\n"
                  b"content-length: %d\r\n\r\n" % size)
        piece = b"z" * MIB
        sent = 0
        try:
            while sent < size:
                s.sendall(piece[: min(MIB, size - sent)])
                sent += MIB
        except OSError:
            pass  # refused before the whole body was sent
        try:
            return s.recv(64).split(b"\r\n")[0].decode()
        except OSError:
            return "(reset)"


def run(name, scenario):
    upstream = ThreadedServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as workdir:
        child, base, port = start_gateway(upstream.server_address[1], workdir)
        try:
            peak0, _, cpu0 = proc_stats(child.pid)
            started = time.time()
            outcome = scenario(base, port)
            seconds = time.time() - started
            time.sleep(0.5)
            peak, rss, cpu = proc_stats(child.pid)
        finally:
            child.kill()
            upstream.shutdown()
    print(f"| {name} | {outcome} | {peak0} | {peak} | {rss} | {cpu - cpu0:.2f} | {seconds:.1f} |")


def huge_answers(base, port):
    statuses = [chat(base, False)[0] for _ in range(5)]
    return "statuses " + ",".join(map(str, statuses))


def keyless_bodies(base, port):
    results = []
    threads = [threading.Thread(target=lambda: results.append(keyless_body(port, 31 * MIB)))
               for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = sum("401" in r for r in results)
    return f"{answered} of 40 answered 401"


def huge_event(base, port):
    status, body = chat(base, True)
    ended = b"larger than" in body
    return f"status {status}, {len(body)} bytes out, ended with an error: {ended}"


if __name__ == "__main__":
    if not os.path.exists(BINARY):
        sys.exit(f"build it first: cargo build --release -p sluice ({BINARY} is missing)")
    print("| scenario | outcome | peak MiB at start | peak MiB after | RSS MiB after | gateway CPU s | wall s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    run("5 upstream answers of 1 GiB", huge_answers)
    run("40 concurrent 31 MiB bodies, no key", keyless_bodies)
    run("one 17 MiB stream event in 1 KiB pieces", huge_event)
