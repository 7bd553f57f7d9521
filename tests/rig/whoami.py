"""The demo app: a page that shows who the filter says you are (from its identity headers).

Usage: python whoami.py PORT   (prints "whoami ready PORT")
"""
import html
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WhoAmI(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        who = {k: self.headers.get(k) for k in ("x-user-id", "x-user-email", "x-user-name", "x-user-groups")}
        if "text/html" in (self.headers.get("accept") or ""):
            groups = ", ".join(html.escape(g) for g in (who["x-user-groups"] or "").split(",") if g)
            body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Who am I</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}}td{{padding:.2rem 1rem .2rem 0}}</style></head>
<body><h1>Hello, {html.escape(who["x-user-name"] or who["x-user-id"] or "stranger")}</h1>
<p>oidc-gate checked your session and told this app who you are:</p>
<table><tr><td>x-user-id</td><td><code>{html.escape(who["x-user-id"] or "")}</code></td></tr>
<tr><td>x-user-email</td><td><code>{html.escape(who["x-user-email"] or "")}</code></td></tr>
<tr><td>x-user-groups</td><td><code>{groups}</code></td></tr></table>
<p>Path: <code>{html.escape(self.path)}</code></p>
<p><a href="/oauth2/logout">Sign out</a></p></body></html>""".encode()
            ctype = "text/html; charset=utf-8"
        else:
            body = json.dumps({"path": self.path, "identity": who}).encode()
            ctype = "application/json"
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), WhoAmI)
    print(f"whoami ready {server.server_address[1]}", flush=True)
    server.serve_forever()
