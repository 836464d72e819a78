"""`nocode`: the scriptable face of the product. Every command takes `--data-dir`; `--json` prints
machine-readable output. User errors print one plain line and exit 1; bad arguments exit 2.
Each command group is a module `<group>_cli` with a `register(subparsers)` function, listed in GROUPS."""

from __future__ import annotations

import sys

from ..errors import NocodeError
from . import (backup_cli, classroom_cli, cluster_cli, datasets_cli, export_cli, inbox_cli, insight_cli, serve_cli, studies_cli,
               training_cli, users_cli)
from .common import Parser, add_common

GROUPS = [serve_cli, users_cli, datasets_cli, inbox_cli, training_cli, studies_cli, insight_cli, export_cli,
          classroom_cli, cluster_cli, backup_cli]


def build_parser() -> Parser:
    parser = Parser(prog="nocode", description="No-code image classifier studio.")
    add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except NocodeError as exc:
        print(f"nocode: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
