"""A fault-injecting HTTP proxy on 127.0.0.1, between Herald and one platform server.

Herald's config points at `proxy.url` instead of the server's. Each request is passed on as it
came, or, with probability `Faults.rate` (drawn from a seeded random source, request by
request), it meets one fault, chosen by weight:

    fault    what the client gets                                  did the server handle it?
    500      the platform's own 500 answer                         no
    502/503  a gateway's 502 or 503 page                           no
    429      the platform's 429, its reset header a few seconds    no
             ahead (Mastodon X-RateLimit-Reset, X x-rate-limit-reset, Bluesky ratelimit-reset)
    reset    the connection reset before any answer                no
    stall    no answer for `Faults.stall` seconds (past the        yes, after the stall: it may
             client's timeout); then the request is passed on      land after the client gave up
    lost     the connection reset once the server has answered     yes: the post exists

After a 429 (the proxy's own or the server's), every request in its scope that arrives before
the reset time is answered 429 again and logged with the fault `early`: the scope is the
account (Mastodon, Bluesky) or the endpoint (X keeps one window per endpoint). Every request is
logged as a `Passage` with its times, its fault and what the server answered.

The server's own address in an answer is replaced by the proxy's (a Bluesky session names its
PDS, and the SDK would go round the proxy), and answers are asked for uncompressed.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping
from urllib.parse import urlsplit

from .flavours import BLUESKY, GENERIC, MASTODON, X, Answer, Flavour

__all__ = ["BLUESKY", "FAULTS", "GENERIC", "MASTODON", "X", "Faults", "FaultProxy", "Flavour",
           "Passage"]

FAULTS = ("500", "502", "503", "429", "reset", "stall", "lost")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade",
                        "content-length", "accept-encoding"})
TEXTUAL = re.compile(r"json|text|html|xml|x-www-form-urlencoded")


@dataclass
class Faults:
    """How often requests meet a fault, which faults, and how they behave."""

    rate: float = 0.0
    """The share of requests that meet a fault (0.3: 30 %)."""
    seed: int | None = 0
    weights: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(FAULTS, 1.0))
    stall: float = 35.0
    """Seconds a stalled request is held before it is passed on (Herald gives up after 30)."""
    reset_ahead: tuple[float, float] = (2.0, 6.0)
    """A 429's reset time is this many seconds ahead (uniformly drawn)."""


@dataclass
class Passage:
    """One request through the proxy: when, what, which fault, and what each side got."""

    proxy: str
    at: float
    """Arrival, in epoch seconds."""
    method: str
    path: str
    fault: str | None = None
    """None (passed on untouched), one of FAULTS, or "early" (before a reset time)."""
    status: int | None = None
    """The status answered; None when the proxy reset the connection, or found the client gone
    when it wrote the answer (after a stall; a client gone moments earlier may go unnoticed)."""
    upstream: int | None = None
    """The status the server answered; None when the request never reached it."""
    forwarded_at: float | None = None
    reset: float | None = None
    """The reset time a 429 announced (epoch seconds)."""
    done: float | None = None

    @property
    def handled(self) -> bool:
        """Whether the server received and answered the request."""
        return self.upstream is not None


# --- the proxy ----------------------------------------------------------------------------

class FaultProxy:
    """Pass requests to `upstream`, injecting `faults`; use as a context manager.

    `force(fault, ...)` makes the next matching request meet that fault, whatever the rate.
    """

    def __init__(self, upstream: str, flavour: Flavour = GENERIC, faults: Faults | None = None,
                 *, name: str | None = None):
        split = urlsplit(upstream)
        assert split.scheme == "http" and split.hostname in ("127.0.0.1", "localhost"), \
            f"the proxy only fronts servers on this machine, not {upstream}"
        self.upstream = f"http://{split.netloc}"
        self._host, self._port = split.hostname, split.port or 80
        self.flavour = flavour
        self.faults = faults or Faults()
        self.name = name or flavour.name
        self._random = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._passages: list[Passage] = []
        self._forced: list[tuple[str, str | None, re.Pattern[str] | None]] = []
        self._resets: dict[str, float] = {}
        self._busy = 0
        self._last = 0.0
        self._httpd: ThreadingHTTPServer | None = None

    # -- life ----------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def serve(self) -> None:
                proxy._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, address: Any) -> None:
                pass  # a client that went away mid-request is what this proxy is for

        self._httpd = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True, name=f"proxy-{self.name}").start()
        return self

    def stop(self) -> None:
        """Stop listening; a stalled request still in the proxy is dropped with it."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "the proxy is not running"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- for tests -----------------------------------------------------------------------------

    def force(self, fault: str, *, method: str | None = None, path: str | None = None) -> None:
        """Make the next request matching `method` and the `path` regex meet `fault`."""
        assert fault in FAULTS, f"unknown fault {fault!r} (known: {', '.join(FAULTS)})"
        with self._lock:
            self._forced.append((fault, method, re.compile(path) if path else None))

    def passages(self) -> list[Passage]:
        """Every request so far, in order of arrival."""
        with self._lock:
            return list(self._passages)

    def early(self) -> list[Passage]:
        """The requests that arrived before a reset time this proxy or its server announced."""
        return [p for p in self.passages() if p.fault == "early"]

    def counts(self) -> Counter:
        """How many requests met each fault ("" for none)."""
        return Counter(p.fault or "" for p in self.passages())

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._busy

    def wait_quiet(self, timeout: float, settle: float = 0.5) -> bool:
        """Wait until no request is in the proxy and none came for `settle` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                quiet = self._busy == 0 and time.time() - self._last >= settle
            if quiet:
                return True
            time.sleep(0.05)
        return False

    # -- one request ---------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        arrived = time.time()
        try:
            body = _read_body(handler)
        except (OSError, ValueError):
            handler.close_connection = True
            return
        path = urlsplit(handler.path).path
        passage = Passage(self.name, arrived, handler.command, path)
        scope = self._scope(handler.command, path)
        with self._lock:
            self._passages.append(passage)
            self._busy += 1
            self._last = arrived
            if arrived < self._resets.get(scope, 0.0):
                passage.fault = "early"
            else:
                passage.fault = self._take_forced(handler.command, path) or self._draw()
            ahead = self._random.uniform(*self.faults.reset_ahead)
        try:
            self._carry_out(handler, passage, body, scope, ahead)
        except OSError:
            handler.close_connection = True     # the client went away
        finally:
            with self._lock:
                passage.done = self._last = time.time()
                self._busy -= 1

    def _carry_out(self, handler: BaseHTTPRequestHandler, passage: Passage, body: bytes,
                   scope: str, ahead: float) -> None:
        fault = passage.fault
        if fault == "early":
            with self._lock:
                passage.reset = self._resets[scope]
            self._reply(handler, passage, self.flavour.rate_limited(passage.reset))
        elif fault == "429":
            reset = self.flavour.round_reset(time.time() + ahead)
            with self._lock:
                self._resets[scope] = max(reset, self._resets.get(scope, 0.0))
            passage.reset = reset
            self._reply(handler, passage, self.flavour.rate_limited(reset))
        elif fault in ("500", "502", "503"):
            self._reply(handler, passage, self.flavour.server_error(int(fault)))
        elif fault == "reset":
            _reset(handler)
        elif fault == "lost":
            self._forward(handler, passage, body, scope)
            _reset(handler)
        else:
            if fault == "stall":
                time.sleep(self.faults.stall)
            answer = self._forward(handler, passage, body, scope)
            self._reply(handler, passage, answer)

    def _forward(self, handler: BaseHTTPRequestHandler, passage: Passage, body: bytes,
                 scope: str) -> Answer:
        # The Host header stays the proxy's, as the client sent it (X's OAuth signs it).
        headers = [(k, v) for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP]
        headers += [("Accept-Encoding", "identity")]
        connection = http.client.HTTPConnection(self._host, self._port, timeout=120)
        passage.forwarded_at = time.time()
        try:
            connection.putrequest(handler.command, handler.path, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            if body or handler.command in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            data = response.read()
        except OSError:
            return self.flavour.server_error(502)   # the server is gone (the test is ending)
        finally:
            connection.close()
        passage.upstream = response.status
        kept = [(k, v) for k, v in response.getheaders()
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-encoding"]
        if response.status == 429:
            reset = self.flavour.reset_of({k.lower(): v for k, v in kept})
            if reset is not None:
                passage.reset = reset
                with self._lock:
                    self._resets[scope] = max(reset, self._resets.get(scope, 0.0))
        return self._rewritten(Answer(response.status, kept, data))

    def _rewritten(self, answer: Answer) -> Answer:
        """Put the proxy's address where the answer names the server's."""
        own = self.url.encode()
        names = {f"http://127.0.0.1:{self._port}".encode(),
                 f"http://localhost:{self._port}".encode()}
        body = answer.body
        ctype = dict((k.lower(), v) for k, v in answer.headers).get("content-type", "")
        if TEXTUAL.search(ctype):
            for name in names:
                body = body.replace(name, own)
        headers = [(k, v.replace(f"http://localhost:{self._port}", self.url)
                    .replace(f"http://127.0.0.1:{self._port}", self.url))
                   if k.lower() == "location" else (k, v) for k, v in answer.headers]
        return Answer(answer.status, headers, body)

    def _reply(self, handler: BaseHTTPRequestHandler, passage: Passage, answer: Answer) -> None:
        handler.send_response_only(answer.status, HTTPStatus(answer.status).phrase
                                   if answer.status in HTTPStatus._value2member_map_ else None)
        names = {k.lower() for k, _ in answer.headers}
        for name, value in answer.headers:
            handler.send_header(name, value)
        if "date" not in names:
            handler.send_header("Date", formatdate(usegmt=True))
        handler.send_header("Content-Length", str(len(answer.body)))
        passage.status = answer.status      # before the client can read it and look
        try:
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(answer.body)
        except OSError:
            passage.status = None           # the client had gone (a stall outlived it)
            raise

    # -- choosing ------------------------------------------------------------------------------

    def _scope(self, method: str, path: str) -> str:
        if not self.flavour.per_endpoint:
            return "*"
        return f"{method} " + re.sub(r"/\d+(?=/|$)", "/:id", path)

    def _take_forced(self, method: str, path: str) -> str | None:
        for index, (fault, wanted, pattern) in enumerate(self._forced):
            if (wanted is None or wanted == method) and (pattern is None
                                                         or pattern.fullmatch(path)):
                del self._forced[index]
                return fault
        return None

    def _draw(self) -> str | None:
        if self._random.random() >= self.faults.rate:
            return None
        kinds = [k for k, w in self.faults.weights.items() if w > 0]
        return self._random.choices(kinds, [self.faults.weights[k] for k in kinds])[0]


# --- helpers ------------------------------------------------------------------------------

def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Drop the client's connection with a TCP reset (no answer, not even a clean close)."""
    connection = handler.connection
    handler.close_connection = True
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        os.close(connection.detach())
    except OSError:
        pass
