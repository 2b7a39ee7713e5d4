"""Who may see the web app: API keys (header or login cookie), HTTPS, the external base URL."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import grpc
import pytest
from server_helpers import start_stress_test, wait_for_status, write_self_signed_cert
from web_helpers import PAGE, Reply, fetch

from pytest_rime.cli import build_parser
from pytest_rime.proto.v1 import common_pb2
from pytest_rime.sdk import RIMEClient
from pytest_rime.sdk.channel import open_channel
from pytest_rime.server.app import RunningServer

KEY = "web-key-1"
KEYS = (KEY, "web-key-2")


def _cookie(reply: Reply) -> str:
    """``name=value`` of the reply's ``Set-Cookie``."""
    return reply.header("Set-Cookie").split(";", 1)[0]


def _login(base: str, key: str, next_url: str) -> Reply:
    return fetch(f"{base}/login", form={"api_key": key, "next": next_url}, headers=PAGE)


def test_with_keys_every_route_needs_a_key_and_login_returns_to_the_link(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    server = rime_server_factory(api_keys=KEYS)
    raw, channel = open_channel(server.address, use_tls=False, api_key=KEY, ready_timeout=10)
    with raw:
        config = write_tabular_dataset(tmp_path / "data").config()
        job = wait_for_status(channel, start_stress_test(channel, config).id)
    assert job.status == common_pb2.JOB_STATUS_SUCCEEDED
    base = server.web_base_url
    link = f"/projects/{job.project_id}/test-runs/{job.test_run_id}"  # what get_link() gives
    routes = [
        link,
        "/",
        "/projects",
        f"/projects/{job.project_id}",
        f"/jobs/{job.id}",
        f"/jobs/{job.id}/log?offset=0",
        "/static/rime.css",
        f"/reports/test-runs/{job.test_run_id}.html",
        "/nothing/here",
    ]
    for route in routes:
        for headers in ({}, {"rime-api-key": "wrong"}, {"Cookie": "rime_session=forged"}):
            denied = fetch(base + route, headers=headers)
            assert denied.status == 401, route
            assert "rime-api-key" in denied.text and not denied.header("Set-Cookie")
        allowed = fetch(base + route, headers={"rime-api-key": KEYS[1]})
        assert allowed.status == (404 if route == "/nothing/here" else 200), route

    form = fetch(base + link, headers=PAGE)  # a browser following the link
    assert form.status == 401
    assert 'name="api_key"' in form.text and f'name="next" value="{link}"' in form.text

    refused = _login(base, "wrong", link)
    assert refused.status == 401 and not refused.header("Set-Cookie")
    assert 'name="api_key"' in refused.text

    logged_in = _login(base, KEY, link)
    assert logged_in.status == 303 and logged_in.header("Location") == link
    cookie = logged_in.header("Set-Cookie")
    flags = {flag.strip() for flag in cookie.split(";")[1:]}
    assert flags == {"HttpOnly", "SameSite=Strict", "Path=/"}  # no Secure over plain HTTP
    assert KEY not in cookie
    session = {"Cookie": _cookie(logged_in)}
    page = fetch(base + link, headers={**PAGE, **session})
    assert page.status == 200 and 'id="verdict"' in page.text
    assert fetch(f"{base}/static/rime.js", headers=session).status == 200

    logged_out = fetch(f"{base}/logout", headers=session)
    assert logged_out.status == 303 and logged_out.header("Location") == "/login"
    assert "Max-Age=0" in logged_out.header("Set-Cookie")
    assert fetch(base + link, headers={"Cookie": _cookie(logged_out)}).status == 401

    restarted = rime_server_factory(api_keys=KEYS, data_dir=tmp_path / "other-data")
    assert fetch(restarted.web_base_url + "/", headers=session).status == 401  # another secret


@pytest.mark.parametrize(
    "next_url",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_login_only_returns_to_a_path_of_the_site(
    rime_server_factory: Callable[..., RunningServer], next_url: str
) -> None:
    server = rime_server_factory(api_keys=KEYS)
    reply = _login(server.web_base_url, KEY, next_url)
    assert reply.status == 303 and reply.header("Location") == "/"
    form = fetch(f"{server.web_base_url}/login?next={quote(next_url)}")
    assert form.status == 200 and 'name="next" value="/"' in form.text


def test_without_keys_pages_are_open_and_login_just_returns(rime_server: RunningServer) -> None:
    assert fetch(f"{rime_server.web_base_url}/projects").status == 200
    reply = _login(rime_server.web_base_url, "anything", "/projects")
    assert reply.status == 303 and reply.header("Location") == "/projects"
    assert not reply.header("Set-Cookie")


def test_tls_serves_https_and_a_secure_cookie(
    rime_server_factory: Callable[..., RunningServer], tmp_path: Path
) -> None:
    cert, key = write_self_signed_cert(tmp_path)
    server = rime_server_factory(tls_cert=cert, tls_key=key, api_keys=KEYS)
    assert server.web_base_url.startswith("https://")
    trusting = ssl.create_default_context(cafile=str(cert))
    base = f"https://localhost:{server.web_port}"
    assert fetch(f"{base}/projects", headers={"rime-api-key": KEY}, context=trusting).status == 200
    login = fetch(f"{base}/login", form={"api_key": KEY, "next": "/"}, context=trusting)
    assert login.status == 303 and "; Secure" in login.header("Set-Cookie")
    with pytest.raises(ssl.SSLError):
        fetch(f"{base}/projects", context=ssl.create_default_context())  # untrusted certificate
    with pytest.raises(ConnectionError):
        fetch(f"http://localhost:{server.web_port}/projects")  # plain HTTP gets no answer


def test_get_link_starts_with_the_web_base_url(
    rime_server_factory: Callable[..., RunningServer],
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    server = rime_server_factory(web_base_url="https://rime.example.com/")
    assert server.web_base_url == "https://rime.example.com"
    with grpc.insecure_channel(server.address) as channel:
        config = write_tabular_dataset(tmp_path / "data").config()
        job = wait_for_status(channel, start_stress_test(channel, config).id)
    with RIMEClient(server.address, disable_tls=True) as client:
        link = client.get_test_run(job.test_run_id).get_link()
    assert link == (
        f"https://rime.example.com/projects/{job.project_id}/test-runs/{job.test_run_id}"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [("https://rime.example.com/", "https://rime.example.com"), ("http://h:81", "http://h:81")],
)
def test_rime_serve_takes_an_http_web_base_url(given: str, expected: str) -> None:
    args = build_parser().parse_args(["serve", "--web-base-url", given])
    assert args.web_base_url == expected


@pytest.mark.parametrize("given", ["rime.example.com", "ftp://h/", "https://", "http://h/?x=1"])
def test_rime_serve_refuses_other_web_base_urls(
    given: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--web-base-url", given])
    assert "--web-base-url" in capsys.readouterr().err
