"""The `amcs` command: run, check and list blueprints (and serve, when the server extra is installed)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from agent.compose import lyrics_text
from agent.models import LyricsArtifact
from agent.sds import FieldError, SDSError, parse_sds, validate_sds
from agent.settings import get_settings
from agent.taxonomy import blueprint_slugs, load_blueprint_by_slug
from graph.context import Context

EXIT_PASS, EXIT_FAILED, EXIT_INVALID, EXIT_ERROR = 0, 1, 2, 3
JSON_ARTIFACTS = ("style", "producer_notes", "composed_prompt", "validation", "render_job", "lyrics")


def _read_sds(path: str, seed: int | None = None) -> dict[str, Any]:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise SDSError([FieldError("$", "file", f"cannot read {path}: {exc.strerror or exc}")]) from None
    data = parse_sds(raw)
    if seed is None:
        return data
    try:
        return validate_sds({**data, "seed": seed})
    except SDSError as error:
        raise SDSError([FieldError("--seed", e.rule, e.message) for e in error.errors]) from None


def _report_invalid(path: str, error: SDSError, stream: TextIO) -> None:
    print(f"amcs: {path} is not a valid Song Design Spec ({len(error.errors)} problem(s)):", file=stream)
    for problem in error.errors:
        print(f"  {problem}", file=stream)


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_outputs(out_dir: Path, values: dict[str, Any]) -> list[str]:
    """Write every artifact of a finished run; returns the file names written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    artifacts = values.get("artifacts", {})
    written = []
    for name in JSON_ARTIFACTS:
        if name in artifacts:
            (out_dir / f"{name}.json").write_text(_dump(artifacts[name]), encoding="utf-8")
            written.append(f"{name}.json")
    if "lyrics" in artifacts:
        text = lyrics_text(LyricsArtifact.model_validate(artifacts["lyrics"]))
        (out_dir / "lyrics.txt").write_text(text + "\n", encoding="utf-8")
        written.append("lyrics.txt")
    if "composed_prompt" in artifacts:
        (out_dir / "composed_prompt.txt").write_text(artifacts["composed_prompt"]["text"], encoding="utf-8")
        written.append("composed_prompt.txt")
    (out_dir / "review.json").write_text(_dump(values.get("review", {})), encoding="utf-8")
    written.append("review.json")
    return sorted(written)


class ProgressPrinter:
    """Prints one stderr line per node start and end while a run streams."""

    def __init__(self, stream: TextIO, quiet: bool = False):
        self.stream = stream
        self.quiet = quiet

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet or event.get("phase") == "token":
            return
        kind = event.get("event")
        if kind == "run.start":
            line = f"run {event['run_id']} started"
        elif kind == "run.end":
            line = f"run {event['run_id']} finished: {event.get('metrics', {}).get('status')}"
        elif kind == "node.start":
            suffix = f" (fix cycle {event['iteration']})" if event.get("iteration") else ""
            line = f"  > {event['node']}{suffix}"
        elif kind == "node.end":
            metrics = event.get("metrics", {})
            detail = ""
            if "scores" in metrics:
                detail = f" total={metrics['scores']['total']} {metrics['validation_result']}"
            line = f"  + {event['node']} {event.get('duration_ms', 0)} ms{detail}"
        elif kind == "node.fail":
            line = f"  ! {event['node']} failed: {event['issues'][0]['message'] if event.get('issues') else ''}"
        else:
            return
        print(line, file=self.stream, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from graph.checkpoint import sqlite_checkpointer
    from graph.runner import run_song

    try:
        sds = _read_sds(args.sds, args.seed)
    except SDSError as error:
        _report_invalid(args.sds, error, sys.stderr)
        return EXIT_INVALID
    settings = get_settings()
    context = Context(
        engine=args.engine or "",
        model=args.model or "",
        data_dir=str(settings.data_dir),
        llm_failure_policy=args.on_llm_failure,
        max_llm_calls=args.max_llm_calls,
    )
    try:
        context = context.resolved()
        _check_engine(context)
    except ValueError as exc:
        print(f"amcs: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        with sqlite_checkpointer(context.data_dir) as saver:
            values = run_song(
                sds, checkpointer=saver, context=context, on_event=ProgressPrinter(sys.stderr, args.quiet)
            )
    except SDSError as error:
        _report_invalid(args.sds, error, sys.stderr)
        return EXIT_INVALID
    except Exception as exc:  # a node failed: report it plainly; the checkpoint keeps the work done so far
        print(f"amcs: run failed in a node: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    review = values.get("review", {})
    out_dir = Path(args.out) if args.out else Path(context.data_dir) / "runs" / review.get("run_id", "last")
    write_outputs(out_dir, values)
    print(f"artifacts written to {out_dir}", file=sys.stderr)
    if args.json:
        summary = {
            key: review.get(key)
            for key in (
                "run_id",
                "status",
                "scores",
                "hard_fails",
                "fix_iterations",
                "warnings",
                "artifacts",
                "artifact_hashes",
            )
        }
        sys.stdout.write(_dump(summary))
    else:
        _print_summary(review, sys.stdout)
    return EXIT_PASS if review.get("status") == "pass" else EXIT_FAILED


def _check_engine(context: Any) -> None:
    from graph.engines import engine_for

    engine_for(context)


def _print_summary(review: dict[str, Any], stream: TextIO) -> None:
    scores = review.get("scores", {})
    print(
        f"status: {review.get('status')}  total: {scores.get('total')}  fix cycles: {review.get('fix_iterations')}",
        file=stream,
    )
    for fail in review.get("hard_fails", []):
        print(f"hard fail: {fail['field']}: {fail['message']}", file=stream)
    for warning in review.get("warnings", []):
        print(f"warning: {warning}", file=stream)


def cmd_check(args: argparse.Namespace) -> int:
    from agent.plan import plan_song

    try:
        sds = _read_sds(args.sds)
        plan, blueprint, warnings = plan_song(sds)
    except SDSError as error:
        _report_invalid(args.sds, error, sys.stderr)
        return EXIT_INVALID
    print(
        f"{args.sds}: valid SDS; blueprint {blueprint.genre} ({blueprint.display_name}), "
        f"{len(plan.sections)} sections, {plan.limits.engine} {plan.limits.model} limits"
    )
    for warning in warnings:
        print(f"warning: {warning}")
    return EXIT_PASS


def cmd_blueprints(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    for slug in blueprint_slugs():
        blueprint = load_blueprint_by_slug(slug)
        low, high = blueprint.tempo_bounds
        rows.append(
            {
                "genre": slug,
                "name": blueprint.display_name,
                "tempo_bpm": [low, high],
                "required_sections": blueprint.sections.required,
                "aliases": blueprint.aliases,
            }
        )
    if args.json:
        sys.stdout.write(_dump(rows))
    else:
        for row in rows:
            print(
                f"{row['genre']:<20} {row['name']:<28} {row['tempo_bpm'][0]}-{row['tempo_bpm'][1]} BPM  "
                f"requires {', '.join(row['required_sections'])}"
            )
    return EXIT_PASS


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from server.app import serve
    except ImportError as exc:
        print(f"amcs: the server needs the 'server' extra (pip install -e '.[server]'): {exc}", file=sys.stderr)
        return EXIT_ERROR
    serve(host=args.host, port=args.port)
    return EXIT_PASS


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amcs", description="AMCS song workflow: SDS in, validated prompt out.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the workflow on an SDS file ('-' reads stdin)")
    run.add_argument("sds")
    run.add_argument("--seed", type=int, help="override the SDS seed")
    run.add_argument("--out", help="directory for the artifacts (default: $AMCS_DATA_DIR/runs/<run id>)")
    run.add_argument("--json", action="store_true", help="print the review summary as JSON on stdout")
    run.add_argument("--engine", help="offline (default) or anthropic")
    run.add_argument("--model", help="Claude model for the anthropic engine")
    run.add_argument(
        "--on-llm-failure",
        choices=("fail", "fallback"),
        default="fail",
        help="when a Claude answer still fails validation after one repair: fail the node (default) "
        "or write that node with the offline engine",
    )
    run.add_argument(
        "--max-llm-calls", type=_positive_int, default=Context.max_llm_calls, help="per-run budget of model calls"
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    run.set_defaults(func=cmd_run)

    check = commands.add_parser("check", help="validate an SDS without running it")
    check.add_argument("sds")
    check.set_defaults(func=cmd_check)

    blueprints = commands.add_parser("blueprints", help="list the genre blueprints")
    blueprints.add_argument("--json", action="store_true")
    blueprints.set_defaults(func=cmd_blueprints)
    serve = commands.add_parser("serve", help="start the HTTP run service (API, SSE, WebSocket, chat page)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
