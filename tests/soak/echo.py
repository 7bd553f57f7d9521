"""The rig's echo upstream (tests/rig/echo.py) for sustained load: the same handler (one
write per response, Nagle off), quiet about connections Envoy closes.

Usage: python echo.py PORT   (prints "echo ready PORT" when listening on 127.0.0.1)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rig"))

from echo import Echo, Server  # noqa: E402


class QuietServer(Server):
    def handle_error(self, request, client_address):
        # A connection Envoy closed (listener drained, idle timeout) is no news.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


if __name__ == "__main__":
    server = QuietServer(("127.0.0.1", int(sys.argv[1])), Echo)
    print(f"echo ready {server.server_address[1]}", flush=True)
    server.serve_forever()
