#!/usr/bin/env python3
"""The demo's production: a small shop API (one process per version) and a router in front.

  service.py app    --version v1 --port 18081 --db shop.db
  service.py router --port 18080 --weight-file weight --v1 18081 --v2 18082 --rps 25

The app serves /health and /api/items from the SQLite database. Version v2 reads the
`price_cents` column the migration adds; with DEMO_BREAK_V2=1 in its environment, v2 answers
/api/items with HTTP 500 (a bad release that still passes its health check).

The router sends each request to v2 with the probability in the weight file (0-100, written
atomically by `demo.sh weight N`), to v1 otherwise, and serves /metrics: per backend and in
total, over the last 5 seconds, requests, errors (5xx or unreachable), error_rate and p95_ms.
It also plays the users: a thread sends --rps real requests per second through itself.
Every process stops on SIGTERM, and by itself after --lifetime seconds (default 900) so an
interrupted demo never leaves one behind for long.
"""
import argparse
import http.client
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def app(args):
    broken = args.version == "v2" and os.environ.get("DEMO_BREAK_V2") == "1"

    class Handler(Quiet):
        def do_GET(self):
            if self.path == "/health":
                return self.reply(200, json.dumps({"status": "ok", "version": args.version, "instance": args.instance}))
            if self.path == "/api/items":
                if broken:
                    return self.reply(500, json.dumps({"error": "v2 is broken (DEMO_BREAK_V2=1)"}))
                columns = "id, name, price_cents" if args.version == "v2" else "id, name"
                try:
                    with sqlite3.connect(f"file:{args.db}?mode=ro", uri=True, timeout=2) as db:
                        rows = db.execute(f"SELECT {columns} FROM items ORDER BY id").fetchall()
                except sqlite3.Error as error:
                    return self.reply(500, json.dumps({"error": str(error)}))
                keys = columns.split(", ")
                return self.reply(200, json.dumps({"version": args.version, "items": [dict(zip(keys, r)) for r in rows]}))
            self.reply(404, json.dumps({"error": "not found"}))

    serve(Handler, args)


def router(args):
    window = 5.0
    samples = {"v1": deque(), "v2": deque()}
    lock = threading.Lock()
    weight_cache = {"mtime": None, "value": 0}

    def weight():
        try:
            mtime = os.stat(args.weight_file).st_mtime_ns
            if mtime != weight_cache["mtime"]:
                with open(args.weight_file) as f:
                    weight_cache["value"] = max(0, min(100, int(f.read().strip() or 0)))
                weight_cache["mtime"] = mtime
        except (OSError, ValueError):
            weight_cache["value"] = 0
        return weight_cache["value"]

    def record(backend, ok, ms):
        now = time.monotonic()
        with lock:
            q = samples[backend]
            q.append((now, ok, ms))
            while q and q[0][0] < now - window:
                q.popleft()

    def summary(entries):
        n = len(entries)
        errors = sum(1 for _, ok, _ in entries if not ok)
        latencies = sorted(ms for _, _, ms in entries)
        p95 = latencies[min(n - 1, int(0.95 * n))] if n else 0.0
        return {"requests": n, "errors": errors, "error_rate": round(errors / n, 4) if n else 0.0, "p95_ms": round(p95, 2)}

    class Handler(Quiet):
        def do_GET(self):
            if self.path == "/metrics":
                now = time.monotonic()
                with lock:
                    live = {k: [s for s in q if s[0] >= now - window] for k, q in samples.items()}
                body = {"weight_v2": weight(), "window_seconds": window,
                        "backends": {k: summary(v) for k, v in live.items()},
                        "all": summary(live["v1"] + live["v2"])}
                return self.reply(200, json.dumps(body))
            backend = "v2" if random.uniform(0, 100) < weight() else "v1"
            port = args.v2 if backend == "v2" else args.v1
            started = time.monotonic()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
                connection.request("GET", self.path)
                response = connection.getresponse()
                status, body, kind = response.status, response.read(), response.getheader("Content-Type", "text/plain")
                connection.close()
            except OSError as error:
                status, body, kind = 502, json.dumps({"error": f"{backend} unreachable: {error}"}).encode(), "application/json"
            record(backend, status < 500, (time.monotonic() - started) * 1000)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("X-Backend", backend)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def users():
        url = f"http://127.0.0.1:{args.port}/api/items"
        while True:
            time.sleep(1.0 / args.rps)
            try:
                urllib.request.urlopen(url, timeout=3).read()
            except Exception:
                pass

    threading.Thread(target=users, daemon=True).start()
    serve(Handler, args)


def serve(handler, args):
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    lifetime = threading.Timer(args.lifetime, lambda: os.kill(os.getpid(), signal.SIGTERM))
    lifetime.daemon = True  # interpreter shutdown must not wait for it
    lifetime.start()
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["app", "router"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--version", default="v1")
    parser.add_argument("--db")
    parser.add_argument("--weight-file")
    parser.add_argument("--v1", type=int)
    parser.add_argument("--v2", type=int)
    parser.add_argument("--rps", type=float, default=25)
    parser.add_argument("--lifetime", type=float, default=900)
    # A token of this demo's own processes, answered on /health, so the demo never mistakes
    # another process listening on its ports for its own services.
    parser.add_argument("--instance", default="")
    args = parser.parse_args()
    (app if args.role == "app" else router)(args)


if __name__ == "__main__":
    main()
