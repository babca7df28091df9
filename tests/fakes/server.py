"""A small threaded HTTP server that records every request and routes it to a handler."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str
    data: bytes = field(repr=False)


@dataclass
class Request:
    """What the server received: method, path, query, headers and the decoded body."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = field(repr=False)
    form: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    json: Any = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def value(self, name: str) -> str | None:
        """Return one parameter from the form, the JSON body or the query string."""
        if isinstance(self.json, dict) and name in self.json:
            return self.json[name]
        for source in (self.form, self.query):
            if name in source:
                return source[name][0]
        return None


@dataclass
class Response:
    """What a handler answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if self.body is None:
            return b"", "application/json"
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


Handler = Callable[[Request, dict[str, str]], Response]


def parse_body(headers: dict[str, str], body: bytes) -> tuple[dict, dict, Any]:
    """Decode a form, multipart or JSON body into (form, files, json)."""
    ctype = headers.get("content-type", "")
    form: dict[str, list[str]] = {}
    files: dict[str, Upload] = {}
    parsed_json = None
    if ctype.startswith("application/x-www-form-urlencoded"):
        for k, v in parse_qsl(body.decode(), keep_blank_values=True):
            form.setdefault(k, []).append(v)
    elif ctype.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_filename()
            payload = part.get_payload(decode=True) or b""
            if filename is not None or part.get_content_type() not in ("text/plain",):
                files[name] = Upload(filename, part.get_content_type(), payload)
            else:
                form.setdefault(name, []).append(payload.decode())
    elif "json" in ctype and body:
        parsed_json = json.loads(body)
    return form, files, parsed_json


class FakeServer:
    """Serve routes on 127.0.0.1 in a background thread; keep every request in `requests`.

    Routes are (method, regex) -> handler; named groups in the regex become the handler's
    second argument. Use as a context manager; `url` is the base URL.
    """

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method.upper(), re.compile(pattern + r"\Z"), handler))

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def received(self, method: str | None = None, path: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests
                    if (method is None or r.method == method)
                    and (path is None or re.fullmatch(path, r.path))]

    def dispatch(self, request: Request) -> Response:
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                return handler(request, match.groupdict())
        return Response(404, {"error": f"no route for {request.method} {request.path}"})

    def start(self) -> "FakeServer":
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                split = urlsplit(self.path)
                query: dict[str, list[str]] = {}
                for k, v in parse_qsl(split.query, keep_blank_values=True):
                    query.setdefault(k, []).append(v)
                form, files, parsed_json = parse_body(headers, body)
                request = Request(self.command, split.path, query, headers, body, form, files,
                                  parsed_json)
                with server.lock:
                    server.requests.append(request)
                try:
                    response = server.dispatch(request)
                except Exception as exc:  # a fake's bug must show up as a 500, not a hang
                    response = Response(500, {"error": f"fake server error: {exc!r}"})
                payload, ctype = response.encode()
                self.send_response(response.status)
                if "Content-Type" not in response.headers:
                    self.send_header("Content-Type", ctype)
                for k, v in response.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                try:
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test): nobody to answer

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        # A short poll interval keeps stop() fast: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
