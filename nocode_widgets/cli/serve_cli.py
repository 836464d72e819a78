"""`nocode serve`: the web app."""

from __future__ import annotations

from .common import add_common, open_workspace


def register(sub) -> None:
    p = sub.add_parser("serve", help="start the web app (Voila) on a local port")
    add_common(p)
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--open", action="store_true", help="open a browser")
    p.set_defaults(run=_serve)


def _serve(args):
    from ..serve import serve

    return serve(open_workspace(args).settings, port=args.port, host=args.host, open_browser=args.open)
