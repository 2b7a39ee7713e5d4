"""``rime report``: write the standalone HTML page of a test run or a firewall from a server.

    rime report --address HOST:PORT [--api-key KEY] [--tls]
                (--test-run-id ID | --firewall-id ID) -o FILE

The page is the one the SDK's ``write_report`` writes (``RIMETestRun.write_report``,
``RIMEFirewall.write_report``): one self-contained HTML file that opens anywhere, offline.
"""

from __future__ import annotations

import argparse
import os
import sys

API_KEY_ENV = "RIME_API_KEY"
"""Environment variable read for the API key when ``--api-key`` is not given."""


def add_report_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` command to the ``rime`` parser."""
    report = commands.add_parser(
        "report",
        help="Write the standalone HTML page of a test run or firewall",
        description="Fetch a test run (or a firewall with its bins, events and bin runs) from "
        "a RIME server and write it as one self-contained HTML file.",
    )
    report.add_argument(
        "--address",
        required=True,
        help="The server's gRPC address, HOST:PORT (or http:// / https:// HOST:PORT)",
    )
    report.add_argument(
        "--api-key",
        default=None,
        help=f"API key of the server (default: the {API_KEY_ENV} environment variable)",
    )
    report.add_argument(
        "--tls", action="store_true", help="Connect with TLS (a HOST:PORT address is plaintext)"
    )
    report.add_argument(
        "--timeout", type=float, default=5.0, help="Seconds to wait for the server (default: 5)"
    )
    which = report.add_mutually_exclusive_group(required=True)
    which.add_argument("--test-run-id", help="The test run to write")
    which.add_argument("--firewall-id", help="The firewall to write")
    report.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="The HTML file to write"
    )
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Write the page; exit 1 with one line naming the problem when the server refuses."""
    from pytest_rime.sdk import RIMEClient

    api_key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV, "")
    try:
        with RIMEClient(
            args.address, api_key, channel_timeout=args.timeout, disable_tls=not args.tls
        ) as client:
            if args.test_run_id:
                path = client.get_test_run(args.test_run_id).write_report(args.output)
            else:
                path = client.get_firewall(args.firewall_id).write_report(args.output)
    except (ValueError, OSError) as exc:  # RIMEError is a ValueError
        parser.exit(1, f"rime report: error: {exc}\n")
    sys.stdout.write(f"wrote {path}\n")
    return 0
