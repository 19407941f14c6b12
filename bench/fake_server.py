"""tests/fake_api.py as a program, minus two artefacts of http.server that a real API lacks.

1. socketserver's listen backlog is 5: when 32 connections open at once, the kernel drops
   the SYNs that overflow it (TcpExtListenOverflows) and the client resends them only after
   its 1 s initial retransmission timeout, so most of the first wave starts 1 s late.
2. Nagle's algorithm is left on, and http.server sends a response's headers and body in
   two writes: the body then waits for the client's delayed ACK, about 40 ms per answer
   (a sequential call to the fake took 47 ms with it, 3 ms without).

The benchmark fixes both here instead of editing the shared test server.
"""

import sys
from http.server import ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fake_api

if __name__ == "__main__":
    ThreadingHTTPServer.request_queue_size = 128
    fake_api._Handler.disable_nagle_algorithm = True  # StreamRequestHandler sets TCP_NODELAY
    fake_api.main()
