"""Helpers every `nocode` sub-command uses: common flags, output, the workspace, passwords."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from ..accounts import auth
from ..errors import NocodeError
from ..workspace import Workspace


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"nocode: {message} (see 'nocode --help')\n")


def add_common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """--data-dir and --json, accepted before the sub-command (`top`) and after it, like git or docker:
    the sub-command's copies leave the value alone unless given."""
    blank = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("--data-dir", help="data root (default: $NOCODE_DATA_DIR or the checkout's data/)", **blank)
    parser.add_argument("--json", action="store_true", help="print JSON", **blank)


def emit(args, data, text: str) -> None:
    """Print `data` as JSON with --json, else the human `text`."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str) if args.json else text, flush=True)


def open_workspace(args) -> Workspace:
    return Workspace.open(args.data_dir)


def find_user_or_fail(ws: Workspace, username: str) -> auth.User:
    user = auth.find_user(ws, username)
    if user is None:
        raise NocodeError(f"There is no user called {username!r}.")
    return user


def read_files(paths) -> list[tuple[str, bytes]]:
    """(path, bytes) for each picture named on the command line; a file that cannot be read stops with why."""
    from pathlib import Path

    out = []
    for path in paths:
        try:
            out.append((path, Path(path).read_bytes()))
        except OSError as exc:
            raise NocodeError(f"Cannot read {path}: {exc.strerror}.") from None
    return out


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
