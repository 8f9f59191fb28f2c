#!/usr/bin/env python3
"""A tiny Prometheus exporter for tests: serves the text of METRICS_FILE at /metrics (read anew on
every scrape, so a test changes the values by rewriting the file).

usage: metrics_exporter.py PORT_FILE METRICS_FILE
A value written `${N*t}` is N times the seconds since the exporter started, so a counter grows
at N per second (rate() sees it). The chosen port is written to PORT_FILE once it listens. Stops on SIGTERM, or by itself after
300 seconds so a crashed test never leaves it behind.
"""
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, metrics_file = sys.argv[1], sys.argv[2]
started = time.time()
growing = re.compile(rb"\$\{([0-9.]+)\*t\}")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/metrics":
            self.send_response(404)
            self.end_headers()
            return
        with open(metrics_file, "rb") as f:
            body = f.read()
        elapsed = time.time() - started
        body = growing.sub(lambda m: b"%.3f" % (float(m.group(1)) * elapsed), body)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tmp = port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, port_file)
threading.Timer(300, lambda: os._exit(0)).start()
server.serve_forever()
