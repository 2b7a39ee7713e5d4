r"""Complete HTML pages from the views of :mod:`pytest_rime.report.views` (Jinja2, autoescaped).

Server pages link the static assets under ``static_prefix`` (the server's ``/static/<name>``
route answers with :func:`static_asset`); standalone pages (:func:`render_report`,
``standalone=True``) carry the CSS, Chart.js and ``rime.js`` inline and make no request at
all. View data reaches the page's script as ``<script type="application/json"
id="rime-data">`` with ``<``, ``>``, ``&`` and ``'`` escaped as ``\u003c`` etc.

Page hooks the browser tests rely on (keep them stable): ``#verdict`` (``data-gate-counts``,
``.count-<gate>``), ``#failing`` before ``#by-category``, ``.case`` elements (``data-category``,
``data-severity``, ``data-gate``, ``data-features``) with a ``<details>`` and a
``canvas.chart``, the filters ``#filter-category``, ``#filter-severity``, ``#filter-feature``,
``#filter-gate`` and ``#search`` with ``#shown-count``; ``#timeline`` (``canvas.chart`` per
metric, ``data-metric``), ``#bins``, ``#events``; ``#job-status``, ``#job-progress``,
``#job-log``. A canvas gets ``data-points`` once its chart is drawn. A page holding several runs
or firewalls suffixes the ids of the second and later ones (``#verdict-2``); each run's section
is ``#run-<test_run_id>``, each firewall's ``#firewall-<firewall_id>``.

The login form posts ``api_key`` and ``next`` to ``/login``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from pytest_rime.report.examples import example_rows
from pytest_rime.report.fields import firewall_anchor, run_anchor

STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}
"""Content types of the static files (others: guessed from the name)."""

_CHART_JS = "chart.umd.min.js"
_SCRIPTS = (_CHART_JS, "rime.js")
_STYLE = "rime.css"


@cache
def environment() -> jinja2.Environment:
    """The templates of the package, autoescaped (every ``.html`` and strings alike)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_rime.report"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["percent"] = lambda x: f"{100 * float(x):.0f}%"
    return env


def _static_names() -> set[str]:
    folder = resources.files("pytest_rime.report") / "static"
    return {entry.name for entry in folder.iterdir() if entry.is_file()}


def static_asset(name: str) -> tuple[bytes, str] | None:
    """A file of the package's static folder and its content type, or ``None``.

    Only the bare names of files in that folder are served: ``../x``, ``a/b``, absolute paths
    and unknown names give ``None``.
    """
    if not name or name not in _static_names():
        return None
    data = (resources.files("pytest_rime.report") / "static" / name).read_bytes()
    suffix = name[name.rfind(".") :] if "." in name else ""
    content_type = STATIC_TYPES.get(suffix) or (
        mimetypes.guess_type(name)[0] or "application/octet-stream"
    )
    return data, content_type


def _inline_script(name: str) -> str:
    """A static script as text safe inside ``<script>``: no ``</script`` nor ``<!--``."""
    asset = static_asset(name)
    if asset is None:
        raise FileNotFoundError(f"pytest_rime/report/static/{name} is missing")
    text = asset[0].decode("utf-8")
    return text.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def _inline_style() -> str:
    style = static_asset(_STYLE)
    assert style is not None, f"pytest_rime/report/static/{_STYLE} is missing"
    return style[0].decode("utf-8").replace("</style", "<\\/style")


def _assets(standalone: bool, static_prefix: str, inline_css: bool) -> dict[str, Any]:
    """What the base template needs to load the CSS and scripts (inline or linked).

    ``inline_css`` inlines the CSS of a server page too: the login and error pages are shown
    to visitors without a key, who may not fetch ``/static/``.
    """
    if standalone:
        return {
            "standalone": True,
            "inline_style": _inline_style(),
            "inline_scripts": [_inline_script(n) for n in _SCRIPTS],
        }
    return {
        "standalone": False,
        "inline_style": _inline_style() if inline_css else "",
        "style_url": static_prefix + _STYLE,
        "script_urls": [static_prefix + n for n in _SCRIPTS],
    }


def _chart_data(sections: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """The charts of every section by canvas key (``<section>-<case id>``, ``<section>-t<i>``)."""
    charts: dict[str, Any] = {}
    for key, view in sections:
        if view.get("kind") == "run":
            for case in view["cases"]:
                if case["chart"] is not None:
                    charts[f"{key}-{case['id']}"] = case["chart"]
        elif view.get("kind") == "firewall":
            for i, series in enumerate(view["timeline"]):
                charts[f"{key}-t{i}"] = series["chart"]
    return charts


def _render(
    template: str,
    *,
    title: str,
    standalone: bool = False,
    static_prefix: str = "/static/",
    data: Mapping[str, Any] | None = None,
    inline_css: bool = False,
    **context: Any,
) -> str:
    page = environment().get_template(template)
    return page.render(
        title=title,
        data=dict(data or {}),
        **_assets(standalone, static_prefix, inline_css),
        **context,
    )


def _anchor(view: Mapping[str, Any], key: str) -> str:
    """A section's id: :func:`run_anchor` / :func:`firewall_anchor` (else by position)."""
    if view.get("kind") == "firewall":
        return firewall_anchor(str(view.get("firewall_id") or key))
    return run_anchor(str(view.get("test_run_id") or key))


def _sections(views: Sequence[Mapping[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Each view with its section key, its anchor and the suffix of its element ids.

    The key (``r0``, ``f1``) names the section's charts and cases; the anchor is the id of
    the section (``#run-<test_run_id>``, ``#firewall-<firewall_id>``), what links point at.
    """
    return [
        {
            "key": f"{prefix}{i}",
            "anchor": _anchor(view, f"{prefix}{i}"),
            "suffix": "" if i == 0 else f"-{i + 1}",
            "view": view,
        }
        for i, view in enumerate(views)
    ]


def _render_one(
    template: str,
    title: str,
    view: Mapping[str, Any],
    *,
    is_run: bool,
    standalone: bool,
    static_prefix: str,
) -> str:
    """The page of one run or one firewall (its section, its charts)."""
    sections = _sections([view], "r" if is_run else "f")
    return _render(
        template,
        title=title,
        standalone=standalone,
        static_prefix=static_prefix,
        data={"charts": _chart_data([(s["key"], s["view"]) for s in sections])},
        runs=sections if is_run else [],
        firewalls=[] if is_run else sections,
    )


def render_run(
    view: Mapping[str, Any], *, standalone: bool = False, static_prefix: str = "/static/"
) -> str:
    """The page of one test run (``view``: :func:`pytest_rime.report.views.run_view`)."""
    title = f"{view['run_name']}: {view['verdict']}"
    return _render_one(
        "run.html",
        title,
        view,
        is_run=True,
        standalone=standalone,
        static_prefix=static_prefix,
    )


def render_firewall(
    view: Mapping[str, Any], *, standalone: bool = False, static_prefix: str = "/static/"
) -> str:
    """The page of one firewall (``view``: :func:`pytest_rime.report.views.firewall_view`)."""
    return _render_one(
        "firewall.html",
        f"Firewall {view['name']}",
        view,
        is_run=False,
        standalone=standalone,
        static_prefix=static_prefix,
    )


def render_report(
    runs: Sequence[Mapping[str, Any]], firewalls: Sequence[Mapping[str, Any]], *, title: str
) -> str:
    """One self-contained HTML file of several runs and firewalls (views as above).

    CSS, Chart.js, ``rime.js`` and the data are inline: the file opens anywhere, offline.
    """
    run_sections = _sections(runs, "r")
    firewall_sections = _sections(firewalls, "f")
    every = [(s["key"], s["view"]) for s in (*run_sections, *firewall_sections)]
    return _render(
        "report.html",
        title=title,
        standalone=True,
        data={"charts": _chart_data(every)},
        runs=run_sections,
        firewalls=firewall_sections,
    )


def render_projects(view: Mapping[str, Any]) -> str:
    """The projects index (``view``: :func:`pytest_rime.report.views.projects_view`)."""
    return _render("projects.html", title="Projects", view=view)


def render_project(view: Mapping[str, Any]) -> str:
    """One project (``view``: :func:`pytest_rime.report.views.project_view`)."""
    return _render("project.html", title=f"Project {view['name']}", view=view)


def render_job(view: Mapping[str, Any]) -> str:
    """One job with its live log (``view``: :func:`pytest_rime.report.views.job_view`)."""
    return _render("job.html", title=f"Job {view['id']}", view=view)


def render_login(*, error: str = "", next_url: str = "/") -> str:
    """The login form: posts ``api_key`` and ``next`` to ``/login``."""
    return _render("login.html", title="Sign in", inline_css=True, error=error, next_url=next_url)


def render_error(status: int, message: str) -> str:
    """An error page (404, 401, ...) naming the status and what went wrong."""
    return _render("error.html", title=f"{status}", inline_css=True, status=status, message=message)


def render_examples(rows: Sequence[Sequence[Mapping[str, str | None]]]) -> str:
    """Example rows (:func:`pytest_rime.report.examples.example_rows`) as HTML lines."""
    return environment().get_template("_examples.html").render(rows=rows).strip()


def examples_html(metrics: Mapping[str, Any]) -> str:
    r"""A case's ``metrics["examples"]`` as HTML: one line per example, thumbnails as images.

    Like :func:`pytest_rime.report.examples.examples_text`, but a value that is a
    ``data:image/png;base64,...`` URI shows as an ``<img>``; every other key and value is
    escaped text. Lines are separated by ``\n``; no examples give the empty string.
    """
    return render_examples(example_rows(metrics))
