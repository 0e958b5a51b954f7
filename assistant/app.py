"""Wiring for a session run: text console or voice, microphone or recorded audio."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from assistant import phrases
from assistant.checkin import CheckIns, CheckInTiming
from assistant.clock import EventLoop
from assistant.config import Settings
from assistant.console import ConsoleSpeaker, LineReader
from assistant.errors import AudioError
from assistant.grammar import default_grammar_path, load_grammar
from assistant.history import History
from assistant.ports import Outcome, Speaker
from assistant.routine import resolve_routine
from assistant.runner import SessionResult, act, build_session, hear, run_session
from assistant.session import Session, Timing
from assistant.snapshot import Snapshot

if TYPE_CHECKING:
    from assistant.echo import EchoGuard
    from assistant.listener import AudioSource, Listener
    from assistant.ports import Recognizer
    from assistant.tts import Spoken

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class VoiceOptions:
    """How a spoken session hears and speaks."""

    engine: str = "auto"
    """auto, vosk or pocketsphinx"""
    model: Path | None = None
    """A vosk model folder; default: the fetched model in the data dir."""
    audio_in: Path | None = None
    """A WAV to listen to instead of the microphone."""
    audio_out: Path | None = None
    """A WAV to speak into instead of the speaker."""
    voice: str = "espeak"
    """espeak (pyttsx3) or piper"""
    input_device: int | str | None = None
    """Microphone name or number; default: the system's."""
    output_device: int | str | None = None
    """Speaker name or number; default: the system's."""
    record: Path | None = None
    """A folder to save the microphone's audio in; default: no audio is kept."""


class TeeSpeaker:
    """Speaks and prints each sentence, so a carer can read along."""

    def __init__(self, voice: Speaker, console: ConsoleSpeaker) -> None:
        self._voice = voice
        self._console = console

    def say(self, text: str) -> None:
        self._console.say(text)
        self._voice.say(text)

    def stop(self) -> None:
        self._voice.stop()


def _timing(settings: Settings) -> Timing:
    return Timing(
        position_seconds=settings.position_seconds,
        move_seconds=settings.move_seconds,
        words_per_minute=settings.words_per_minute,
    )


def _check_ins(settings: Settings, session: Session, speaker: Speaker, loop: EventLoop) -> CheckIns:
    """Silence reminders and check-ins for ``session``, started on the loop."""
    timing = CheckInTiming(
        reprompt_seconds=settings.reprompt_seconds,
        check_in_seconds=settings.check_in_seconds,
        answer_seconds=settings.check_in_answer_seconds,
    )
    check_ins = CheckIns(session, speaker, loop, timing)
    check_ins.start()
    return check_ins


def run_text(
    settings: Settings, stdin: TextIO, stdout: TextIO, screen_port: int | None = None
) -> SessionResult:
    """A session in the terminal: printed lines, typed commands."""
    routine = resolve_routine(settings.routine)
    grammar = load_grammar(grammar_path(settings))
    loop = EventLoop(time_scale=settings.time_scale)
    with History(settings.history_path) as history, ExitStack() as stack:
        recover_crashed(history)
        console, follow = _screen(stack, screen_port, ConsoleSpeaker(stdout), loop, stdout)
        session = build_session(
            routine,
            console,
            loop,
            history,
            _timing(settings),
            settings.profile,
            settings.sessions_per_extra_set,
        )
        follow(session.snapshot)
        check_ins = _check_ins(settings, session, console, loop)

        def heard(text: str) -> None:
            hear(session, grammar, text, check_ins)

        # Once typed input ends nobody can answer: the session goes on unattended, as asked.
        reader = LineReader(
            stdin,
            lambda text: loop.post(lambda: heard(text)),
            on_end=lambda: loop.post(check_ins.input_ended),
        )
        print(
            "Type what you would say: pause, resume, longer rest, next, repeat, help, stop, "
            "done, ready, or pain.",
            file=stdout,
        )
        return run_session(session, loop, history, reader.start)


def run_voice(
    settings: Settings, options: VoiceOptions, stdout: TextIO, screen_port: int | None = None
) -> SessionResult:
    """A spoken session: the voice speaks, the recognizer listens, nobody touches anything."""
    from assistant.echo import EchoGuard
    from assistant.engines import choose_engine, make_recognizer
    from assistant.mic import FileSource, Microphone, read_wav
    from assistant.recording import MicrophoneRecording
    from assistant.tts import make_speaker

    routine = resolve_routine(settings.routine)
    grammar = load_grammar(grammar_path(settings))
    engine, model = choose_engine(options.engine, options.model, settings.data_dir)
    pcm = read_wav(options.audio_in) if options.audio_in else None
    recognizer = make_recognizer(engine, model, grammar)
    loop = EventLoop(time_scale=settings.time_scale)
    session: Session | None = None

    def voice_failed(err: Exception) -> None:
        _LOGGER.error("The voice failed: %s", err)
        print(f"exercise-coach: the voice failed: {err}", file=stdout)
        if session is not None:
            loop.post(partial(session.fault, "voice"))

    voice = make_speaker(
        options.voice, settings.data_dir, options.audio_out, voice_failed, options.output_device
    )
    try:
        voice.start()
    except OSError as err:
        raise AudioError(
            f"cannot open the speaker ({err}); 'exercise-coach devices' lists what there is, "
            "and 'exercise-coach run --text' works without sound"
        ) from None
    speaker: Speaker = TeeSpeaker(voice, ConsoleSpeaker(stdout))

    def open_source() -> AudioSource:
        source: AudioSource
        if pcm is not None:
            source = FileSource(pcm, loop.now, time_scale=settings.time_scale)
        else:
            source = Microphone(options.input_device)
        return recording.tap(source) if recording is not None else source

    try:
        with History(settings.history_path) as history, ExitStack() as stack:
            recover_crashed(history)
            recording = None
            if options.record is not None:
                recording = stack.enter_context(MicrophoneRecording(options.record))
            speaker, follow = _screen(stack, screen_port, speaker, loop, stdout)
            session = build_session(
                routine,
                speaker,
                loop,
                history,
                _timing(settings),
                settings.profile,
                settings.sessions_per_extra_set,
                voice=voice,
            )
            follow(session.snapshot)
            check_ins = _check_ins(settings, session, speaker, loop)
            listener = session_listener(
                session,
                check_ins,
                open_source,
                recognizer,
                loop.post,
                echo=EchoGuard(voice.reference, voice.rate, lambda: voice.spoken, grammar),
            )
            speaker.say(f"Listening with {recognizer.name}.")
            try:
                result = run_session(session, loop, history, listener.start)
            finally:
                listener.stop()
            voice.wait_until_quiet(timeout=60.0 if options.audio_out else 30.0)
    finally:
        voice.close()
    return _advice_heard(result, voice.spoken)


def session_listener(
    session: Session,
    check_ins: CheckIns,
    open_source: Callable[[], AudioSource],
    recognizer: Recognizer,
    post: Callable[[Callable[[], None]], None],
    echo: EchoGuard | None = None,
    retry_seconds: float = 2.0,
) -> Listener:
    """A listener whose commands go to ``session``; lost or failing input pauses it, and its
    return resumes it."""
    from assistant.listener import Listener

    return Listener(
        open_source,
        recognizer,
        post,
        lambda heard: act(session, heard.command, check_ins),
        on_lost=session.input_lost,
        on_back=session.input_back,
        on_failed=session.input_lost,
        on_recovered=session.input_back,
        echo=echo,
        retry_seconds=retry_seconds,
    )


def _advice_heard(result: SessionResult, spoken: Iterable[Spoken]) -> SessionResult:
    """Pain advice the voice did not say in full is a pain failure (exit 4, advice printed)."""
    if result.outcome is not Outcome.PAIN or "voice" in result.pain_failures:
        return result
    advice = phrases.pain_advice()
    if any(said.completed and said.text == advice for said in spoken):
        return result
    _LOGGER.error("The pain advice was not heard in full")
    return dataclasses.replace(result, pain_failures=(*result.pain_failures, "voice"))


def _screen(
    stack: ExitStack, port: int | None, speaker: Speaker, loop: EventLoop, stdout: TextIO
) -> tuple[Speaker, Callable[[Callable[[], Snapshot]], None]]:
    """The speaker for the session and how to show it: on the large-print screen if asked."""
    if port is None:
        return speaker, lambda source: None
    from assistant.screen import ScreenFeed, ScreenServer, ScreenSpeaker

    feed = ScreenFeed(loop.now)
    server = stack.enter_context(ScreenServer(feed, port))
    print(f"Large-print screen: {server.url}", file=stdout, flush=True)
    shown = ScreenSpeaker(speaker, feed, loop.post)
    return shown, shown.follow


def grammar_path(settings: Settings) -> Path:
    """The grammar file the settings name, else the bundled one of their language."""
    if settings.grammar:
        return Path(settings.grammar).expanduser()
    return default_grammar_path(settings.language)


def recover_crashed(history: History) -> None:
    """Record sessions a killed coach left running as crashed, and log it."""
    crashed = history.recover_crashed()
    if crashed:
        _LOGGER.warning("Sessions %s had been interrupted; recorded as crashed", crashed)
