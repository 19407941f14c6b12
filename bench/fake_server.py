"""tests/fake_api.py as a program, with a listen backlog big enough for -j 32.

The fake's ThreadingHTTPServer keeps socketserver's default backlog of 5: when 32 connections
open at once, the kernel drops the SYNs that overflow it and the client resends them only
after its 1 s initial retransmission timeout, so the first wave of requests starts 1 s late.
That is an artefact of the fake (a real API endpoint accepts the connections), so the
benchmark raises the backlog here instead of editing the shared test server.
"""

import sys
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fake_api

if __name__ == "__main__":
    ThreadingHTTPServer.request_queue_size = 128
    fake_api.main()
