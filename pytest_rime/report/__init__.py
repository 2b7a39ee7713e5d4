"""Pure rendering of test runs, firewalls, projects and jobs as HTML pages.

The layer between the data (store records, gRPC results, pytest outcomes: all as plain
mappings) and the browser. It imports only the standard library, jinja2 and
:mod:`pytest_rime.vocabulary`, so the server, the SDK, the plugin and the CLI may all use it.

- :mod:`pytest_rime.report.gating`: what a case's item does under a ``fail_on`` gate;
- :mod:`pytest_rime.report.views`: JSON-ready view dicts of runs, firewalls, projects, jobs
  (the one module callers import views from; built by ``cases``, ``firewalls`` and
  ``server_views``, with ``fields`` and ``formatting`` as helpers);
- :mod:`pytest_rime.report.charts`: the chart of a test case, derived from its metrics;
- :mod:`pytest_rime.report.examples`: a case's examples as view items and text;
- :mod:`pytest_rime.report.pages`: complete HTML pages (Jinja2 templates, autoescaped), a
  case's examples as HTML, and the static assets (Chart.js, ``rime.js``, ``rime.css``).

This module imports nothing, so importing :mod:`pytest_rime.report.gating` stays cheap.
"""
