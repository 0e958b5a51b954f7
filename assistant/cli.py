"""The command line: parse flags, load settings, build adapters, run; the only place that prints."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from assistant import __version__, phrases
from assistant.config import Settings, load_settings
from assistant.engines import ENGINES
from assistant.errors import CoachError
from assistant.routine import Exercise, builtin_routines, resolve_routine

if TYPE_CHECKING:
    from assistant.app import VoiceOptions

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
    run.add_argument("--audio-in", type=Path, help="listen to this WAV instead of the microphone")
    _voice_arguments(run)
    run.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="save what the microphone hears as a WAV in DIR (off by default: no audio is kept)",
    )

    kiosk = commands.add_parser(
        "kiosk", help="run unattended: wait for 'start exercises', lead, wait for the next person"
    )
    kiosk.add_argument("--text", action="store_true", help="printed lines, typed commands")
    kiosk.add_argument("--routine", help="what 'start exercises' leads (default strong_back)")
    kiosk.add_argument(
        "--profiles", type=Path, help="the staff's list of people (default: profiles.toml)"
    )
    kiosk.add_argument("--time-scale", type=float, help="real seconds per session second")
    kiosk.add_argument("--audio-in", type=Path, help="listen to this WAV (a whole day's script)")
    _voice_arguments(kiosk)

    commands.add_parser("devices", help="list microphones and speakers")
    check = commands.add_parser(
        "check", help="say a sentence, record two seconds and report the level"
    )
    check.add_argument("--input-device", help="microphone name or number")
    check.add_argument("--seconds", type=float, default=2.0, help="how long to record")
    fetch = commands.add_parser(
        "fetch-model", help="download the small English vosk model into the data folder"
    )
    fetch.add_argument("--force", action="store_true", help="download again even if present")

    routines = commands.add_parser("list", help="name the routines and their exercises")
    routines.add_argument("--routine", help="only this routine (id or file)")

    history = commands.add_parser("history", help="print the last sessions")
    history.add_argument("--limit", type=int, default=10, help="how many sessions")
    history.add_argument("--profile", help="only this person's sessions")

    report = commands.add_parser(
        "report", help="write a large-print report for carers (HTML, with plots beside it)"
    )
    report.add_argument(
        "--weeks", type=_weeks, default=4, help="how many weeks, ending today (default 4)"
    )
    report.add_argument(
        "--output", type=Path, default=Path("report.html"), help="the page (default report.html)"
    )
    report.add_argument("--profile", help="whose sessions (default: the configured profile)")
    return parser


def _voice_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``run`` and ``kiosk`` share: recognizer, voice, devices and screen."""
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="speech recognizer; auto (default): vosk if its model is present, else whisper "
        "if installed, else pocketsphinx",
    )
    parser.add_argument("--model", type=Path, help="a vosk model folder")
    parser.add_argument("--audio-out", type=Path, help="speak into this WAV instead of the speaker")
    parser.add_argument(
        "--voice",
        choices=("espeak", "piper"),
        default="espeak",
        help="espeak (pyttsx3, default) or the Piper neural voice",
    )
    parser.add_argument("--input-device", help="microphone name or number (see 'devices')")
    parser.add_argument("--output-device", help="speaker name or number (see 'devices')")
    parser.add_argument(
        "--screen",
        nargs="?",
        const=0,
        type=_port,
        metavar="PORT",
        help="show a large-print page at http://127.0.0.1:PORT/ (no PORT: any free port)",
    )


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return int(text)


def _weeks(text: str) -> int:
    from assistant.report import MAX_WEEKS

    if not text.isdigit() or not 1 <= int(text) <= MAX_WEEKS:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of weeks from 1 to {MAX_WEEKS}, got {text!r}"
        )
    return int(text)


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
    # transitions logs every callback at INFO; only its warnings are worth a user's screen.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    try:
        if args.command == "run":
            return _run(args, stdin, stdout)
        if args.command == "kiosk":
            return _kiosk(args, stdin, stdout)
        if args.command == "list":
            return _list(args, stdout)
        if args.command == "history":
            return _history(args, stdout)
        if args.command == "report":
            return _report(args, stdout)
        if args.command == "devices":
            from assistant.devices import list_devices

            print(list_devices(), file=stdout)
            return 0
        if args.command == "check":
            from assistant.devices import check

            return check(_device(args.input_device), args.seconds, stdout)
        if args.command == "fetch-model":
            from assistant.model import fetch_model

            path = fetch_model(_settings(args).data_dir, progress=sys.stderr, force=args.force)
            print(f"vosk model ready in {path}", file=stdout)
            return 0
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


def _device(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


def _run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from assistant.app import run_text, run_voice

    settings = _settings(args)
    if args.text:
        result = run_text(settings, stdin, stdout, args.screen)
    else:
        result = run_voice(settings, _voice_options(args), stdout, args.screen)
    if result.pain_failures:
        print(f"exercise-coach: {phrases.pain_advice()}", file=sys.stderr)
        print(
            "exercise-coach: failed while stopping for pain: " + ", ".join(result.pain_failures),
            file=sys.stderr,
        )
    return result.exit_code


def _voice_options(args: argparse.Namespace) -> VoiceOptions:
    """The voice and listening options of ``run`` and ``kiosk`` (only ``run`` has --record)."""
    from assistant.app import VoiceOptions

    return VoiceOptions(
        engine=args.engine,
        model=args.model,
        audio_in=args.audio_in,
        audio_out=args.audio_out,
        voice=args.voice,
        input_device=_device(args.input_device),
        output_device=_device(args.output_device),
        record=getattr(args, "record", None),
    )


def _kiosk(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from assistant.kiosk_app import KioskOptions, run_kiosk

    options = KioskOptions(
        profiles=args.profiles, text=args.text, voice=_voice_options(args), screen_port=args.screen
    )
    return run_kiosk(_settings(args), options, stdin, stdout)


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


def _report(args: argparse.Namespace, stdout: TextIO) -> int:
    from assistant.report import write_report

    settings = _settings(args)
    written = write_report(settings.history_path, args.output, args.weeks, settings.profile)
    sessions = sum(t.sessions for r in written.data.routines for t in r.weeks)
    print(
        f"Report for {settings.profile} over {args.weeks} weeks ({sessions} sessions) "
        f"written to {written.html}",
        file=stdout,
    )
    for image in written.images:
        print(f"  plot: {image}", file=stdout)
    return 0
