"""The HTTP side: routes for the Search API, the public endpoints and /_fake/ controls."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import socket
import struct
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, final
from urllib.parse import parse_qsl, urlsplit

from tap_usajobs.testing.code_lists import CODE_LIST_NAMES
from tap_usajobs.testing.historic import JOBS, TEXTS

from .query import (
    ANNOUNCEMENT_TEXT_PATH,
    CODE_LIST_PATH,
    DEFAULT_RESULTS_PER_PAGE,
    HISTORIC_PATH,
    MAX_RESULTS_PER_PAGE,
    SEARCH_PATH,
    Query,
    int_param,
    page_body,
    parse_query,
)
from .state import FakeApiConfig, State


class Server(ThreadingHTTPServer):
    """HTTP server carrying the shared state for its handlers."""

    daemon_threads = True  # idle keep-alive connections must not block shutdown

    def __init__(self, state: State) -> None:
        """Listen where the state's config says, handing requests to ``Handler``."""
        super().__init__((state.config.host, state.config.port), Handler)
        self.state = state

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        """Print tracebacks, except for clients that hung up (timeouts, retries, resets)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the Search API and the /_fake/ control endpoints."""

    protocol_version = "HTTP/1.1"  # keep-alive with Content-Length, as clients pool connections
    server_version = "FakeUSAJobs/1.0"
    server: Server
    _status: int | None = None  # what was answered, for the request log
    _fault_kind: str | None = None
    _body = b""
    _ROUTES: ClassVar[dict[tuple[str, str], str]] = {
        ("GET", SEARCH_PATH): "_search",
        ("GET", "/_fake/stats"): "_stats",
        ("POST", "/_fake/reset-stats"): "_reset_stats",
        ("POST", "/_fake/faults"): "_add_faults",
        ("DELETE", "/_fake/faults"): "_clear_faults",
        ("GET", "/_fake/expected"): "_expected",
        ("GET", "/_fake/postings"): "_list_postings",
        ("POST", "/_fake/postings"): "_change_postings",
        ("GET", HISTORIC_PATH): "_historic_joa",
        ("GET", ANNOUNCEMENT_TEXT_PATH): "_announcement_text",
        **{("GET", CODE_LIST_PATH + name): "_code_list" for name in CODE_LIST_NAMES},
        ("GET", "/_fake/historic"): "_list_historic",
        ("POST", "/_fake/historic"): "_change_historic",
        ("GET", "/_fake/codelists"): "_list_code_lists",
        ("POST", "/_fake/codelists"): "_change_code_list",
        ("GET", "/_fake/keyless-requests"): "_keyless_requests",
    }

    def do_GET(self) -> None:
        """Handle GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Handle POST."""
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        """Log the request line only with --verbose; headers (the key) are never logged."""
        if self.server.state.config.verbose:
            super().log_message(format, *args)

    def _dispatch(self, method: str) -> None:
        """Route one request and log it unless it is a control call."""
        url = urlsplit(self.path)
        path = url.path.rstrip("/").lower()
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        self._status = self._fault_kind = None  # per request: a keep-alive handler serves many
        self._received_at = time.time()
        self._logged = path.startswith("/_fake/")  # control calls are never logged
        self._log_as = (url.path, params)
        # Always drain the body, or its bytes would be read as the next keep-alive request.
        self._body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        handler = self._ROUTES.get((method, path))
        try:
            if handler:
                getattr(self, handler)(params)
            elif any(path == known for _, known in self._ROUTES):
                self._send_json(HTTPStatus.METHOD_NOT_ALLOWED, {"message": "Method not allowed."})
            else:
                self._send_json(HTTPStatus.NOT_FOUND, {"message": "Not found."})
        finally:  # also when the client hung up before any answer (status None)
            self._log()

    def _log(self) -> None:
        """Record this request once, before its answer leaves.

        A client that reads the answer and then asks for /_fake/stats must find the
        request there; recording after the write raced with that second call.
        """
        if not self._logged:
            self._logged = True
            self.server.state.record(
                *self._log_as,
                self._status,
                self._fault_kind,
                key_sent=self.headers.get("Authorization-Key") is not None,
                received_at=self._received_at,
            )

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Write a JSON response with an exact Content-Length."""
        self._status = status
        self._log()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(
        self, status: int, payload: object, headers: dict[str, str] | None = None
    ) -> None:
        """Encode and send a JSON payload."""
        self._send(status, json.dumps(payload).encode(), headers)

    def _read_json(self) -> Any:
        """Decode the request body; raise ValueError when it is not JSON."""
        return json.loads(self._body or b"null")

    def _search_args(self, params: dict[str, str]) -> tuple[Query, int, int] | None:
        """Check headers and parameters like the real API; answer and return None on error."""
        if self.headers.get("Authorization-Key") != self.server.state.config.api_key:
            self._send_json(HTTPStatus.UNAUTHORIZED, {"message": "Invalid Authorization-Key."})
            return None
        if not (self.headers.get("User-Agent") or "").strip():
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": "User-Agent is required."})
            return None
        lowered = {name.lower(): value for name, value in params.items()}
        try:
            query = parse_query(lowered, self.server.state.now().date())
            page = int_param(lowered, "page", 1, 1, math.inf)
            per_page = int_param(lowered, "resultsperpage", DEFAULT_RESULTS_PER_PAGE, 1, math.inf)
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": str(exc)})
            return None
        return query, page, min(per_page, MAX_RESULTS_PER_PAGE)

    def _search(self, params: dict[str, str]) -> None:
        """Serve GET /api/Search, applying latency and the first matching fault."""
        args = self._search_args(params)
        if args is None:
            return
        query, page, per_page = args
        state = self.server.state
        time.sleep(state.config.latency_ms / 1000)
        keyword = next((value for name, value in params.items() if name.lower() == "keyword"), None)
        fault = state.take_fault(page, keyword) or {"kind": None}
        self._fault_kind = fault["kind"]
        if fault["kind"] == "status":
            wait = fault["retry_after"]
            headers = {} if wait is None else {"Retry-After": str(wait)}
            self._send_json(fault["status"], {"message": "Injected fault."}, headers)
            return
        if fault["kind"] == "reset":
            # Linger 0 turns the close into a TCP reset: the client gets no answer at all.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if fault["kind"] == "redirect":
            self._send(HTTPStatus.FOUND, b"", {"Location": fault["location"]})
            return
        if fault["kind"] == "slow":
            time.sleep(fault["seconds"])
        if fault.get("ignore_filters"):
            query = dataclasses.replace(query, organizations=frozenset(), categories=frozenset())
        hits = state.search(query)
        body = page_body(hits, page, per_page, state.config.row_cap, fault)
        self._send(HTTPStatus.OK, body[: len(body) // 2] if fault["kind"] == "truncate" else body)

    def _public(
        self, params: dict[str, str], status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        """Answer a request to a public endpoint and log whether it carried a key."""
        # Small answers in two writes (headers, body) would otherwise wait ~40 ms each
        # for the client's delayed ACK; only these endpoints' connections are changed.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Logged before the answer leaves: a client that reads it and then asks for the
        # log must find the request there.
        self.server.state.record_keyless(
            urlsplit(self.path).path,
            params,
            status,
            key_sent=self.headers.get("Authorization-Key") is not None,
            received_at=self._received_at,
        )
        self._send(status, body, headers)

    def _historic_joa(self, params: dict[str, str]) -> None:
        """Serve GET /api/historicjoa."""
        time.sleep(self.server.state.config.historic_latency_ms / 1000)
        path = urlsplit(self.path).path
        self._public(params, *self.server.state.historic.page(JOBS, path, params))

    def _announcement_text(self, params: dict[str, str]) -> None:
        """Serve GET /api/historicjoa/announcementtext."""
        time.sleep(self.server.state.config.historic_latency_ms / 1000)
        path = urlsplit(self.path).path
        self._public(params, *self.server.state.historic.page(TEXTS, path, params))

    def _code_list(self, params: dict[str, str]) -> None:
        """Serve GET /api/codelist/<name>."""
        state = self.server.state
        name = urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1].lower()
        self._public(params, HTTPStatus.OK, state.code_lists.response(name, state.now()), {})

    def _list_historic(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/historic."""
        rows = self.server.state.historic.rows()
        self._send_json(HTTPStatus.OK, {"count": len(rows), "items": rows})

    def _change_historic(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/historic (see the module docstring)."""
        try:
            answer = self.server.state.historic.change(dict(self._read_json()))
        except (KeyError, TypeError, ValueError) as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": f"Bad change: {exc!r}"})
            return
        self._send_json(HTTPStatus.OK, answer)

    def _list_code_lists(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/codelists."""
        self._send_json(HTTPStatus.OK, self.server.state.code_lists.codes())

    def _change_code_list(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/codelists with {"list": name, "remove": [codes], "add": [...]}."""
        try:
            change = self._read_json()
            answer = self.server.state.code_lists.change(
                str(change["list"]), list(change.get("remove", [])), list(change.get("add", []))
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": f"Bad change: {exc!r}"})
            return
        self._send_json(HTTPStatus.OK, answer)

    def _keyless_requests(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/keyless-requests."""
        self._send_json(HTTPStatus.OK, {"requests": self.server.state.keyless_requests()})

    def _stats(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/stats."""
        self._send_json(HTTPStatus.OK, self.server.state.stats())

    def _reset_stats(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/reset-stats."""
        self.server.state.reset_stats()
        self._send_json(HTTPStatus.OK, {"ok": True})

    def _add_faults(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/faults with a rule or a list of rules."""
        try:
            rules = self._read_json()
            pending = self.server.state.add_faults(rules if isinstance(rules, list) else [rules])
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": str(exc)})
            return
        self._send_json(HTTPStatus.OK, {"pending_faults": pending})

    def _clear_faults(self, _params: dict[str, str]) -> None:
        """Serve DELETE /_fake/faults."""
        self.server.state.clear_faults()
        self._send_json(HTTPStatus.OK, {"pending_faults": 0})

    def _expected(self, params: dict[str, str]) -> None:
        """Serve GET /_fake/expected: every id a query matches, ignoring the row cap."""
        lowered = {name.lower(): value for name, value in params.items()}
        try:
            query = parse_query(lowered, self.server.state.now().date())
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": str(exc)})
            return
        ids = [entry.posting_id for entry in self.server.state.search(query)]
        self._send_json(HTTPStatus.OK, {"count": len(ids), "ids": ids})

    def _list_postings(self, _params: dict[str, str]) -> None:
        """Serve GET /_fake/postings."""
        entries = self.server.state.postings()
        body = f'{{"count": {len(entries)}, "items": [{", ".join(e.body for e in entries)}]}}'
        self._send(HTTPStatus.OK, body.encode())

    def _change_postings(self, _params: dict[str, str]) -> None:
        """Serve POST /_fake/postings.

        ``{"add": k}``, ``{"remove": [ids]}``, ``{"update": {id: {field: value}}}`` (the
        descriptor's fields), and raw edits as ``apply_edit`` reads them: ``{"mutate": {id:
        [edit, ...]}}`` per posting, ``{"mutate_all": [edit, ...]}`` on every posting.
        """
        try:
            change = self._read_json()
            count, ids = int(change.get("add", 0)), list(change.get("remove", []))
            edits = {str(key): dict(value) for key, value in change.get("update", {}).items()}
            mutations = {str(key): list(ops) for key, ops in change.get("mutate", {}).items()}
            every = list(change.get("mutate_all", []))
        except (AttributeError, TypeError, ValueError):
            self._send_json(
                HTTPStatus.BAD_REQUEST,
                {
                    "message": 'Expected {"add": k, "remove": [ids], "update": {id: {...}}, '
                    '"mutate": {id: [edit]}, "mutate_all": [edit]}.'
                },
            )
            return
        state = self.server.state
        added, removed = state.add(max(count, 0)), state.remove(ids)
        updated = state.update(edits)
        try:
            mutated = state.mutate(mutations, every) if mutations or every else []
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"message": f"Bad edit: {exc!r}"})
            return
        self._send_json(
            HTTPStatus.OK,
            {"added": added, "removed": removed, "updated": updated, "mutated": mutated},
        )


@final  # so __enter__ can name the class (typing.Self needs Python 3.11)
class FakeUsaJobsServer:
    """The fake API in a background thread: ``with FakeUsaJobsServer(config) as api: api.url``."""

    def __init__(self, config: FakeApiConfig | None = None) -> None:
        """Generate the postings; nothing listens until start()."""
        self.config = config or FakeApiConfig()
        self._state = State(self.config)
        self._httpd: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """Return the bound port (useful with port 0)."""
        if self._httpd is None:
            msg = "the fake API is not running"
            raise RuntimeError(msg)
        return self._httpd.server_port

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:8080."""
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> FakeUsaJobsServer:
        """Bind and serve from a daemon thread."""
        self._httpd = Server(self._state)
        # A short poll interval keeps stop() fast; serve_forever only checks for shutdown then.
        serve = functools.partial(self._httpd.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, name="fake-usajobs-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FakeUsaJobsServer:
        """Start the server."""
        return self.start()

    def __exit__(self, *_exc_info: object) -> None:
        """Stop the server."""
        self.stop()
