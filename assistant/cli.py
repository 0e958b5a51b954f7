"""The command line: parse flags, load settings, build adapters, run; the only place that prints."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from assistant import __version__, phrases
from assistant.config import Settings, load_settings
from assistant.errors import CoachError
from assistant.routine import Exercise, builtin_routines, resolve_routine

_LOGGER = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exercise-coach",
        description="A hands-free voice coach for osteoporosis back, hip and spine exercises.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--data-dir", help="folder for the history database")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="lead an exercise session")
    run.add_argument(
        "--text", action="store_true", help="print what the coach says; type what you say"
    )
    run.add_argument("--routine", help="strong_back, spine, or the path of a routine file")
    run.add_argument("--profile", help="whose history this session belongs to")
    run.add_argument(
        "--time-scale",
        type=float,
        help="real seconds per session second (0.01 runs holds and rests 100 times faster)",
    )

    routines = commands.add_parser("list", help="name the routines and their exercises")
    routines.add_argument("--routine", help="only this routine (id or file)")

    history = commands.add_parser("history", help="print the last sessions")
    history.add_argument("--limit", type=int, default=10, help="how many sessions")
    history.add_argument("--profile", help="only this person's sessions")
    return parser


def main(
    argv: Sequence[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    """Run the command line; returns the exit status."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if args.command == "run":
            return _run(args, stdin, stdout)
        if args.command == "list":
            return _list(args, stdout)
        if args.command == "history":
            return _history(args, stdout)
        _parser().print_help(stdout)
        return 0
    except CoachError as err:
        print(f"exercise-coach: {err}", file=sys.stderr)
        return err.exit_code


def _settings(args: argparse.Namespace) -> Settings:
    flags = {
        "data_dir": args.data_dir,
        "routine": getattr(args, "routine", None),
        "profile": getattr(args, "profile", None),
        "time_scale": getattr(args, "time_scale", None),
    }
    return load_settings(flags)


def _run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from assistant.clock import EventLoop
    from assistant.console import ConsoleSpeaker, LineReader
    from assistant.grammar import default_grammar_path, load_grammar
    from assistant.history import History
    from assistant.runner import build_session, hear, run_session
    from assistant.session import Timing

    settings = _settings(args)
    if not args.text:
        raise CoachError(
            "the spoken voice and microphone are not available in this version; "
            "run 'exercise-coach run --text' to use the coach in text mode"
        )
    routine = resolve_routine(settings.routine)
    grammar = load_grammar(default_grammar_path(settings.language))
    timing = Timing(
        position_seconds=settings.position_seconds,
        move_seconds=settings.move_seconds,
        words_per_minute=settings.words_per_minute,
    )
    speaker = ConsoleSpeaker(stdout)
    loop = EventLoop(time_scale=settings.time_scale)
    with History(settings.history_path) as history:
        crashed = history.recover_crashed()
        if crashed:
            _LOGGER.warning("Sessions %s had been interrupted; recorded as crashed", crashed)
        session = build_session(
            routine,
            speaker,
            loop,
            history,
            timing,
            settings.profile,
            settings.sessions_per_extra_set,
        )
        reader = LineReader(stdin, lambda text: loop.post(lambda: _heard(text)))

        def _heard(text: str) -> None:
            hear(session, grammar, text)

        print(
            "Type what you would say: pause, resume, longer rest, next, repeat, help, stop, "
            "done, ready, or pain.",
            file=stdout,
        )
        result = run_session(session, loop, history, reader.start)
    if result.pain_failures:
        print(f"exercise-coach: {phrases.pain_advice()}", file=sys.stderr)
        print(
            f"exercise-coach: failed while stopping for pain: {', '.join(result.pain_failures)}",
            file=sys.stderr,
        )
    return result.exit_code


def _list(args: argparse.Namespace, stdout: TextIO) -> int:
    names = [args.routine] if args.routine else list(builtin_routines())
    for name in names:
        routine = resolve_routine(name)
        print(f"{routine.id}: {routine.title}", file=stdout)
        print(f"  {routine.frequency.text or 'see the routine file for how often'}", file=stdout)
        for exercise in routine.exercises:
            print(f"  - {exercise.id}: {exercise.name} ({_dose(exercise)})", file=stdout)
    return 0


def _dose(exercise: Exercise) -> str:
    hold = exercise.hold
    held = f"hold a slow {hold.counts} count" if hold.slow_count else f"hold {hold.seconds:g} s"
    reps = exercise.reps
    count = f"until tired, up to {reps.count}" if reps.until_tired else f"{reps.count} reps"
    sides = ", each side" if exercise.sides else ""
    sets = f"{exercise.sets_goal} set" + ("s" if exercise.sets_goal != 1 else "")
    return f"goal {sets} of {count}{sides}, {held}"


def _history(args: argparse.Namespace, stdout: TextIO) -> int:
    from assistant.history import History, format_history

    settings = _settings(args)
    with History(settings.history_path) as history:
        history.recover_crashed()
        summaries = history.recent_sessions(limit=args.limit, profile=args.profile)
    print(format_history(summaries), file=stdout)
    print(f"(history file: {settings.history_path})", file=stdout)
    return 0
