"""`nocode ray check`: can this app host train on the Ray cluster (docs/deploy.md)? Its nodes, CPUs,
GPUs, and whether a tiny remote task comes back."""

from __future__ import annotations

import importlib.util

from ..errors import NocodeError
from ..runs.jobs import RAY_MISSING
from .common import add_common, emit, open_workspace


def register(sub) -> None:
    p = sub.add_parser("ray", help="the Ray cluster runs train on (NOCODE_RUNNER=ray)")
    add_common(p)
    actions = p.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="list the cluster's nodes, CPUs and GPUs and try a tiny remote task")
    add_common(check)
    check.add_argument("--address", help="the cluster (host:port); default: NOCODE_RAY_ADDRESS, else the local one")
    check.set_defaults(run=_check)


def _check(args):
    if importlib.util.find_spec("ray") is None:
        raise NocodeError(RAY_MISSING)
    from ..training.on_ray import check

    address = args.address if args.address is not None else open_workspace(args).settings.ray_address
    found = check(address)
    lines = [f"Ray cluster {found['address']}: {len(found['nodes'])} node(s), {found['cpus']} CPUs, {found['gpus']} GPUs"]
    lines += [f"  {n['node']}: {n['cpus']} CPUs, {n['gpus']} GPUs" for n in found["nodes"]]
    lines.append(f"A tiny remote task {'came back' if found['round_trip'] else 'did NOT come back'} "
                 f"({found['seconds']} s in all).")
    emit(args, found, "\n".join(lines))
    return 0 if found["round_trip"] else 1
