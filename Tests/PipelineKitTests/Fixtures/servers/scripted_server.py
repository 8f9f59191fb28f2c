#!/usr/bin/env python3
"""A real HTTP server on 127.0.0.1 for tests: serves a scripted sequence of responses per path.

usage: scripted_server.py PORT_FILE SCRIPT_JSON
SCRIPT_JSON maps a path to a list of responses {"status": 200, "delay_ms": 0, "json": {...}} or
{"body": "text"}, optionally with "headers": {"Location": "/elsewhere"}, or {"endless": true}
(a 200 whose body never ends, 1 MiB at a time, until the client hangs up); each request to that path takes the next one, and the last one repeats.
A POST is answered the same way; its path and JSON body are appended, one JSON line each, to
PORT_FILE.posts (for webhook tests). The chosen port is written to PORT_FILE once the server listens. Stops on SIGTERM, or by itself
after 120 seconds so a crashed test never leaves it behind.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, script_file = sys.argv[1], sys.argv[2]
with open(script_file) as f:
    script = json.load(f)
lock = threading.Lock()
position = {}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        with lock:
            with open(port_file + ".posts", "a") as f:
                f.write(json.dumps({"path": self.path, "content_type": self.headers.get("Content-Type"), "body": body}) + "\n")
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?")[0]
        with lock:
            steps = script.get(path)
            if not steps:
                response = {"status": 404, "body": "no script for " + path}
            else:
                i = position.get(path, 0)
                response = steps[min(i, len(steps) - 1)]
                position[path] = i + 1
        time.sleep(response.get("delay_ms", 0) / 1000)
        if response.get("endless"):
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                chunk = b"x" * (1 << 20)
                while True:
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        body = json.dumps(response["json"]).encode() if "json" in response else response.get("body", "").encode()
        try:
            self.send_response(response.get("status", 200))
            self.send_header("Content-Type", "application/json" if "json" in response else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            for name, value in response.get("headers", {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
threading.Timer(120, server.shutdown).start()
server.serve_forever()
