"""The ``scan`` and ``scan-status`` subcommands (registered by :func:`add_scan_commands`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SCAN_COMMANDS = ("scan", "scan-status")


def add_scan_commands(commands) -> None:
    """Add ``scan`` and ``scan-status`` to the ``trigger-pipeline`` subparsers."""
    for name, text in (
        ("scan", "design-space exploration on Dask: trials, Pareto front, firmware of front points"),
        ("scan-status", "done / running / failed trials and the current front of a scan"),
    ):
        parser = commands.add_parser(name, help=text, description=text)
        parser.add_argument(
            "--config", type=Path, default=Path("scan.yaml"), help="scan YAML (default: %(default)s)"
        )
        parser.add_argument(
            "--run-dir", type=Path, default=None, help="run directory (default: runs/<pipeline config name>)"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bars")
        parser.add_argument("--debug", action="store_true", help="show tracebacks")
        if name == "scan":
            parser.add_argument("--status", action="store_true", help="same as scan-status")


def dispatch_scan(args: argparse.Namespace) -> int:
    """Run the scan subcommand ``args.command``."""
    from pipeline.scan.config import load_scan

    loaded = load_scan(args.config)
    if args.command == "scan-status" or getattr(args, "status", False):
        print_status(loaded, args.run_dir)
        return 0
    from pipeline.scan.runner import run_scan

    summary = run_scan(loaded, args.run_dir, quiet=args.quiet)
    print(json.dumps({key: summary[key] for key in ("trials", "done", "failed", "best")}, indent=2))
    return 0


def print_status(loaded, run_dir: Path | None) -> None:
    """Print counts, trials in flight and the current front (from the table; no cluster needed)."""
    from pipeline.config import load_config
    from pipeline.scan.front import mark_front
    from pipeline.scan.outputs import front_markdown
    from pipeline.scan.runner import scan_directory
    from pipeline.scan.table import read_table

    if run_dir is None:
        run_dir = Path("runs") / load_config(loaded.pipeline_config).name
    scan_dir = scan_directory(run_dir)
    table = read_table(scan_dir)
    running_path = scan_dir / "running.json"
    running = json.loads(running_path.read_text())["running"] if running_path.is_file() else []
    done = int((table["status"] == "done").sum()) if len(table) else 0
    failed = int((table["status"] == "failed").sum()) if len(table) else 0
    print(
        f"scan {loaded.config.name} in {scan_dir}: {done} done, {len(running)} running, {failed} failed "
        f"(budget {loaded.config.trials})"
    )
    if running:
        print(f"running trial numbers: {running}")
    for _, row in table[table["status"] == "failed"].iterrows() if failed else []:
        print(f"failed trial {row['number']} ({row['key'][:10]}): {row['error']}", file=sys.stdout)
    if done:
        front = mark_front(table)
        print(front_markdown(front[front["on_front"]]), end="")
