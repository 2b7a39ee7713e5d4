"""HTTPS for the web app, with the certificate and key the gRPC port uses."""

from __future__ import annotations

import ssl

from pytest_rime.server.settings import ServerSettings


def server_context(settings: ServerSettings) -> ssl.SSLContext | None:
    """A TLS 1.2+ server context with the settings' certificate, ``None`` without one.

    Raises:
        ssl.SSLError: ``tls_cert`` and ``tls_key`` are not a matching PEM chain and key.
        OSError: One of them cannot be read.
    """
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=settings.tls_cert, keyfile=settings.tls_key)
    return context
