"""``python -m mmgate``: subcommands over bundles and artifacts (``verify``, ``calibrate``,
``timeline``, ``intervene``, ``power``; one line adds another)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mmgate.audit.verify import verify_bundle
from mmgate.errors import ConfigError
from mmgate.lab import calibration

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, how it declares arguments, and what it runs."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _configure_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="bundle directory <out>/<run_id>/ or zip <out>/<run_id>.zip")


def _run_verify(args: argparse.Namespace) -> int:
    """Print a one-line OK summary (exit 0) or every problem found (exit 1)."""
    result = verify_bundle(args.path)
    if result.ok:
        print(
            f"OK {args.path}: run {result.run_id}, {result.n_files} files match the sha256 ledger, "
            f"{result.n_reports} reports valid"
        )
        return EXIT_OK
    print(f"FAILED {args.path}: {len(result.problems)} problem(s)", file=sys.stderr)
    for problem in result.problems:
        print(f"  - {problem}", file=sys.stderr)
    return EXIT_FAILED


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _configure_calibrate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True,
                        help="directory receiving calibrate-<run id>/ (matrix, heat map, runs, logs)")
    parser.add_argument("--seeds", type=int, default=calibration.DEFAULT_SEEDS,
                        help=f"seeds per injected condition (default {calibration.DEFAULT_SEEDS})")
    parser.add_argument("--healthy-seeds", type=int, default=calibration.DEFAULT_HEALTHY_SEEDS,
                        help="seeds of the healthy run, each one healthy sample "
                             f"(default {calibration.DEFAULT_HEALTHY_SEEDS})")
    parser.add_argument("--conditions", type=_names, default=None, metavar="A,B,...",
                        help="comma-separated conditions to gate (default: all)")
    parser.add_argument("--jobs", type=int, default=calibration.DEFAULT_JOBS,
                        help=f"gated runs at a time (default {calibration.DEFAULT_JOBS})")


def _run_calibrate(args: argparse.Namespace) -> int:
    """Gate every condition, write the detection matrix, print one line per row and CALIBRATE last."""
    try:
        result = calibration.calibrate(args.out, args.conditions, args.seeds, args.healthy_seeds, args.jobs)
    except ConfigError as exc:
        print(f"calibrate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for row in result.facts["rows"]:
        own = "own-family" if row["detected_by_own_family"] else "-"
        print(f"{row['condition']:32s} {row['family']:20s} {row['decision']:10s} {own:10s} "
              f"{','.join(row['gates_fired']) or '-'}")
    print(f"matrix {result.matrix_path}")
    print(f"heatmap {result.heatmap_path}")
    print(result.line)
    return EXIT_OK


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in _names(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from exc
    if not seeds or any(seed < 0 for seed in seeds):
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 0, got {text!r}")
    return seeds


def _configure_timeline(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True,
                        help="directory receiving timeline.json, the trend plots and debug artifacts")
    parser.add_argument("--seeds", type=_seed_list, default=None, metavar="A,B,...",
                        help="evaluation seeds (default 0,1,2,3,4; the classifier was tuned on 100-104)")


def _run_timeline(args: argparse.Namespace) -> int:
    """Run the drift episode timeline and print the TIMELINE line last."""
    from mmgate.lab import timeline, timeline_report

    try:
        return timeline_report.timeline_main(args.out, args.seeds or timeline.EVALUATION_SEEDS)
    except ConfigError as exc:
        print(f"timeline: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _configure_intervene(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True,
                        help="directory receiving decisions/*.json, intervention_summary.json and plots/")
    parser.add_argument("--seeds", type=_seed_list, default=None, metavar="A,B,...",
                        help="evaluation seeds (default 0,1,2,3,4)")
    parser.add_argument("--quick", action="store_true",
                        help="a small subset (4 episodes, seed 0 unless --seeds, spread over 3 tuning seeds)")


def _run_intervene(args: argparse.Namespace) -> int:
    """Diagnose, act and re-measure every timeline episode; print the INTERVENE line last."""
    from mmgate.lab.interventions import report

    try:
        return report.intervene_main(args.out, args.seeds, quick=args.quick)
    except ConfigError as exc:
        print(f"intervene: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _configure_power(parser: argparse.ArgumentParser) -> None:
    from mmgate import power

    parser.add_argument("--out", type=Path, required=True, help="directory receiving power.json and power.md")
    parser.add_argument("--subjects", type=_names, default=list(power.DEFAULT_SUBJECTS), metavar="A,B,...",
                        help="subject factories 'module:callable' (default: the MiniLM paraphrase and "
                             "LiT digits examples, run from the repository root)")
    parser.add_argument("--draws", type=int, default=power.HEALTHY_DRAWS,
                        help=f"healthy half-canary subsamples per subject (default {power.HEALTHY_DRAWS})")


def _run_power(args: argparse.Namespace) -> int:
    """Inject every graded failure into each subject; print the table and the POWER line last."""
    from mmgate.power import report

    try:
        return report.power_main(args.out, args.subjects, args.draws)
    except ConfigError as exc:
        print(f"power: {exc}", file=sys.stderr)
        return EXIT_USAGE


COMMANDS: tuple[Command, ...] = (
    Command("verify", "re-check a bundle's hashes, completeness and report schemas", _configure_verify, _run_verify),
    Command("calibrate", "gate the built-in subject under injected failures and healthy seeds; write the "
            "detection matrix", _configure_calibrate, _run_calibrate),
    Command("timeline", "run the drift episode timeline against the healthy baseline and classify each "
            "episode", _configure_timeline, _run_timeline),
    Command("intervene", "diagnose each drift episode, apply the bounded intervention policy, re-measure and write "
            "decision records", _configure_intervene, _run_intervene),
    Command("power", "inject graded failures into real subjects and measure what the gates detect, and the "
            "healthy false-alarm rate", _configure_power, _run_power),
)


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    """The ``mmgate`` argument parser with one subparser per command."""
    parser = argparse.ArgumentParser(prog="mmgate", description="mmgate: governed release of multimodal encoders")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None, commands: Sequence[Command] = COMMANDS) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the process exit status."""
    parser = build_parser(commands)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return args.run(args)
