"""``python -m pytest_vmimage`` (also the ``pytest-vmimage`` command).

Subcommands:
  merge   merge the JSON reports of a CI matrix into one submission report
"""

from __future__ import annotations

import argparse
import sys

from pytest_vmimage import __version__, merge


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytest-vmimage", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pytest-vmimage {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    merge.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
