"""A small read-only web app: test run and firewall pages (``get_link()`` points here).

Stdlib only: a :class:`http.server.ThreadingHTTPServer` in a daemon thread.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pytest_rime.server.errors import NotFoundError
from pytest_rime.server.store import Store

_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;"
    "white-space:pre-line}"
    ".FAIL,.HIGH{color:#b00}.WARNING,.MEDIUM{color:#b60}.PASS{color:#070}"
)


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


class _Html(str):
    """A table cell that is already HTML (every value inside it escaped)."""

    __slots__ = ()


def _cell(value: Any) -> str:
    if isinstance(value, _Html):
        return f"<td>{value}</td>"
    text = html.escape(str(value))
    return f"<td class='{text}'>{text}</td>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _examples(
    metrics: Mapping[str, Any], key: Callable[[Any], str], value: Callable[[Any], str]
) -> str:
    """A case's ``metrics["examples"]``, one line per example of ``key: value`` pairs."""
    examples = metrics.get("examples")
    if not isinstance(examples, list):
        return ""
    lines = []
    for example in examples:
        if isinstance(example, Mapping):
            lines.append(" | ".join(f"{key(k)}: {value(v)}" for k, v in example.items()))
        else:
            lines.append(value(example))
    return "\n".join(lines)


def examples_text(metrics: Mapping[str, Any]) -> str:
    """A case's ``metrics["examples"]`` as text: one line per example.

    An example (e.g. a text before and after a transformation) shows as ``key: value`` pairs
    separated by `` | ``; a case without examples gives the empty string.
    """
    return _examples(metrics, str, str)


_PNG_URI = re.compile(r"data:image/png;base64,[A-Za-z0-9+/]+={0,2}")


def _example_value(value: Any) -> str:
    """One value of an example: a PNG data URI as an image, anything else as escaped text."""
    if isinstance(value, str) and _PNG_URI.fullmatch(value):
        return f"<img src='{value}' alt='' width='64' style='image-rendering:pixelated'>"
    return html.escape(str(value))


def examples_html(metrics: Mapping[str, Any]) -> str:
    """A case's ``metrics["examples"]`` as HTML: one line per example, thumbnails as images.

    Like :func:`examples_text`, but a value that is a ``data:image/png;base64,...`` URI (an
    image's thumbnail, e.g. before and after a transformation) shows as an ``<img>``; every
    other key and value is escaped text.
    """
    return _examples(metrics, lambda k: html.escape(str(k)), _example_value)


def _test_run_page(store: Store, project_id: str, test_run_id: str) -> str:
    run = store.results.get_run(test_run_id)
    if run.project_id != project_id:
        raise NotFoundError(f"test run {test_run_id!r} is not in project {project_id!r}")
    cases = store.results.all_cases(test_run_id)
    summary = _table(
        ["run", "model task", "inputs", "failing inputs", "duration ms", "summary", "severity"],
        [
            [
                run.run_name,
                run.model_task,
                run.num_inputs,
                run.num_failing_inputs,
                run.duration_millis,
                json.dumps(run.summary_counts),
                json.dumps(run.severity_counts),
            ]
        ],
    )
    table = _table(
        [
            "category",
            "test",
            "features",
            "status",
            "severity",
            "importance",
            "description",
            "examples",
        ],
        [
            [
                c.category,
                c.test_batch_type,
                ", ".join(c.features),
                c.status.value,
                c.severity.value,
                f"{c.importance_score:.3f}",
                c.description,
                _Html(examples_html(c.metrics)),
            ]
            for c in cases
        ],
    )
    return _page(f"Test run {run.run_name}", f"{summary}<h2>Test cases</h2>{table}")


def _utc(epoch_secs: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch_secs))


def _firewall_page(store: Store, firewall_id: str) -> str:
    firewall = store.firewalls.get(firewall_id)
    bins = _table(
        ["bin start", "bin end", "rows", "severity", "metrics", "test run"],
        [
            [
                _utc(b.bin_start),
                _utc(b.bin_end),
                b.num_rows,
                b.severity,
                json.dumps(b.metrics),
                b.test_run_id,
            ]
            for b in store.firewalls.bins(firewall_id)
        ],
    )
    events = _table(
        ["bin start", "metric", "value", "threshold", "severity", "description"],
        [
            [_utc(e.bin_start), e.metric, e.value, e.threshold, e.severity, e.description]
            for e in store.firewalls.events(firewall_id)
        ],
    )
    info = _table(
        ["project", "bin size (s)", "reference run"],
        [[firewall.project_id, firewall.bin_size_seconds, firewall.stress_test_run_id]],
    )
    return _page(f"Firewall {firewall.name}", f"{info}<h2>Bins</h2>{bins}<h2>Events</h2>{events}")


_ROUTES: list[tuple[re.Pattern[str], Callable[..., str]]] = [
    (re.compile(r"^/projects/([^/]+)/test-runs/([^/]+)/?$"), _test_run_page),
    (re.compile(r"^/firewalls/([^/]+)/?$"), _firewall_page),
]


def _handler_for(store: Store) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            for pattern, render in _ROUTES:
                match = pattern.match(path)
                if match:
                    try:
                        self._send(HTTPStatus.OK, render(store, *match.groups()))
                    except NotFoundError as exc:
                        self._send(HTTPStatus.NOT_FOUND, _page("Not found", html.escape(str(exc))))
                    return
            self._send(HTTPStatus.NOT_FOUND, _page("Not found", html.escape(path)))

        def _send(self, status: HTTPStatus, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep request logs out of stderr."""

    return Handler


class WebApp:
    """The web app server in a background thread.

    Args:
        store: Where pages read from.
        host: Interface to listen on.
        port: Port; 0 picks a free one.
    """

    def __init__(self, store: Store, host: str, port: int) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler_for(store))
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="rime-web", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
