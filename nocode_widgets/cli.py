"""`nocode`: the scriptable face of the product. Every command takes `--data-dir`; `--json` prints
machine-readable output. User errors print one plain line and exit 1; bad arguments exit 2."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Callable

from .errors import NocodeError
from .workspace import Workspace

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def command(register: Callable) -> Callable:
    """Decorator for a function that adds one sub-command to the parser."""
    COMMANDS.append(register)
    return register


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"nocode: {message} (see 'nocode --help')\n")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data root (default: $NOCODE_DATA_DIR or the checkout's data/)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nocode", description="No-code image classifier studio.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for register in COMMANDS:
        register(sub)
    return parser


def emit(args, data, text: str) -> None:
    """Print `data` as JSON with --json, else the human `text`."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str) if args.json else text)


def open_workspace(args) -> Workspace:
    return Workspace.open(args.data_dir)


def main(argv: list[str] | None = None) -> int:
    _load_commands()
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except NocodeError as exc:
        print(f"nocode: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _load_commands() -> None:
    if not COMMANDS:
        from . import cli_commands  # noqa: F401  (registers the sub-commands)


def read_password(prompt: str = "Password: ") -> str:
    """From NOCODE_PASSWORD when set (scripts, CI), else asked for without echo."""
    env = os.environ.get("NOCODE_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        raise NocodeError("Set NOCODE_PASSWORD or run in a terminal to type the password.")
    first = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != first:
        raise NocodeError("The two passwords differ.")
    return first


if __name__ == "__main__":
    sys.exit(main())
