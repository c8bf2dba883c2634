"""The `qa serve` subcommand (registered with qa/cli.py through the qa.commands entry point).

qa serve --port 8000             # the chat page and the HTTP API on http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse

from qa.cli import Commands, settings_from


def register(commands: Commands) -> None:
    p = commands.add("serve", cmd_serve, "start the chat page and HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--open", action="store_true", help="open the page in a browser")


def cmd_serve(args: argparse.Namespace) -> int:
    from web.app import serve

    settings = settings_from(args)
    if settings.database_url is not None:  # an unreachable database or a missing index: one line, before serving
        from qa.pgstore import PostgresStore

        PostgresStore.connect(settings.database_url.get_secret_value()).close()
    serve(settings, host=args.host, port=args.port, open_browser=args.open)
    return 0
