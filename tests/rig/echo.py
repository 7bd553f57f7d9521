"""The echo upstream: answers every request with the request line and headers it got, as JSON.

Usage: python echo.py PORT   (prints "echo ready PORT" when listening on 127.0.0.1)
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Head and body leave in one write (flushed once per request), Nagle off: two sends on
    # a keep-alive connection would wait ~40 ms for the peer's delayed ACK each time.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = value if key not in headers else headers[key] + "," + value
        body = json.dumps({"method": self.command, "path": self.path, "headers": headers}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # A burst of resumed requests opens many upstream connections at once: the default
    # listen backlog (5) would refuse some, and Envoy would answer them 503.
    request_queue_size = 256
    daemon_threads = True


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(sys.argv[1])), Echo)
    print(f"echo ready {server.server_address[1]}", flush=True)
    server.serve_forever()
