"""`generate` and `seed` subcommands; `devstack/cli.py` calls `register(subparsers)`."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from devstack.datagen.config import GenConfig

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = ROOT / ".devstack" / "data"


def register(subparsers) -> None:
    defaults = GenConfig()
    gen = subparsers.add_parser("generate", help="write a realistic Sparkify dataset (bucket layout)")
    gen.add_argument("--out", type=Path, default=DEFAULT_DATA_DIR, help="output folder (default: %(default)s)")
    gen.add_argument("--seed", type=int, default=defaults.seed)
    gen.add_argument("--days", type=int, default=defaults.days)
    gen.add_argument("--start-date", type=date.fromisoformat, default=defaults.start_date, help="YYYY-MM-DD (UTC)")
    gen.add_argument("--events-per-day", type=int, default=defaults.events_per_day)
    gen.add_argument("--users", type=int, default=defaults.users)
    gen.add_argument("--songs", type=int, default=defaults.songs)
    gen.add_argument("--artists", type=int, default=defaults.artists)
    gen.add_argument("--match-rate", type=float, default=defaults.match_rate,
                     help="fraction of NextSong events matching a catalog song exactly")
    gen.add_argument("--no-progress", action="store_true")
    gen.set_defaults(func=run_generate)

    seed = subparsers.add_parser("seed", help="upload a dataset folder to the (local) S3 bucket")
    seed.add_argument("--from", dest="src", type=Path, default=None,
                      help="dataset folder in the bucket layout (default: the newest of .devstack/demo-data, "
                           "written by `make demo`, and .devstack/data, written by `generate`)")
    seed.add_argument("--bucket", default=None, help="default: $SPARKIFY_S3_BUCKET or sparkify-local")
    seed.add_argument("--endpoint-url", default=None,
                      help="default: $AWS_ENDPOINT_URL, else the local stack's S3 server (`python -m devstack up`)")
    seed.add_argument("--no-progress", action="store_true")
    seed.set_defaults(func=run_seed)


def run_generate(args: argparse.Namespace) -> int:
    from devstack.datagen.generator import generate

    try:
        config = GenConfig(
            seed=args.seed, start_date=args.start_date, days=args.days, events_per_day=args.events_per_day,
            users=args.users, songs=args.songs, artists=args.artists, match_rate=args.match_rate,
        )
    except ValueError as error:
        print(f"generate: {error}", file=sys.stderr)
        return 2
    generate(args.out, config, progress=not args.no_progress)
    if args.no_progress:
        print(f"generated dataset in {args.out}")
    return 0


def run_seed(args: argparse.Namespace) -> int:
    from devstack.seed import bucket_from_env, seed_summary

    args.src = args.src or default_seed_source()
    if args.src is None or not args.src.is_dir():
        print(f"seed: no dataset at {args.src or 'the default folders'} (run `make demo` or `generate` first, "
              "or pass --from DIR)", file=sys.stderr)
        return 2
    bucket = args.bucket or bucket_from_env()
    endpoint_url = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    stack = None
    if endpoint_url is None:  # the local stack's S3: the usual case on a laptop
        from devstack.stack import Stack

        stack = Stack()
        if not stack.s3.running():
            print("seed: the local S3 server is not running: `python -m devstack up` "
                  "(or pass --endpoint-url / set AWS_ENDPOINT_URL)", file=sys.stderr)
            return 2
        endpoint_url = stack.s3.endpoint_url
    print(seed_summary(args.src, bucket, endpoint_url=endpoint_url, progress=not args.no_progress))
    if stack is not None and bucket == stack.config.bucket:
        stack.record_seed(args.src)  # restored by `up` if the (in-memory) S3 server has to be replaced
    return 0


def default_seed_source() -> Path | None:
    """The dataset `make demo` wrote (`<state dir>/demo-data`) or the one `generate` wrote
    (`<state dir>/data`), whichever was generated last; None when neither exists."""
    from devstack.stack import state_dir

    found = [path for path in (state_dir() / "demo-data", state_dir() / "data") if (path / "truth.json").exists()]
    return max(found, key=lambda path: (path / "truth.json").stat().st_mtime, default=None)


def main(argv: list[str] | None = None) -> int:
    """The data commands alone: `python -m devstack.datagen.cli generate|seed ...` (also in `python -m devstack`)."""
    parser = argparse.ArgumentParser(prog="devstack.datagen")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
