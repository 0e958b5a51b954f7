"""Wiring for a session run: text console or voice, microphone or recorded audio."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from assistant.clock import EventLoop
from assistant.config import Settings
from assistant.console import ConsoleSpeaker, LineReader
from assistant.errors import AudioError
from assistant.grammar import default_grammar_path, load_grammar
from assistant.history import History
from assistant.ports import Speaker
from assistant.routine import resolve_routine
from assistant.runner import SessionResult, act, build_session, hear, run_session
from assistant.session import Timing

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


class _TeeSpeaker:
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


def run_text(settings: Settings, stdin: TextIO, stdout: TextIO) -> SessionResult:
    """A session in the terminal: printed lines, typed commands."""
    routine = resolve_routine(settings.routine)
    grammar = load_grammar(default_grammar_path(settings.language))
    loop = EventLoop(time_scale=settings.time_scale)
    with History(settings.history_path) as history:
        _recover(history)
        session = build_session(
            routine,
            ConsoleSpeaker(stdout),
            loop,
            history,
            _timing(settings),
            settings.profile,
            settings.sessions_per_extra_set,
        )

        def heard(text: str) -> None:
            hear(session, grammar, text)

        reader = LineReader(stdin, lambda text: loop.post(lambda: heard(text)))
        print(
            "Type what you would say: pause, resume, longer rest, next, repeat, help, stop, "
            "done, ready, or pain.",
            file=stdout,
        )
        return run_session(session, loop, history, reader.start)


def run_voice(settings: Settings, options: VoiceOptions, stdout: TextIO) -> SessionResult:
    """A spoken session: the voice speaks, the recognizer listens, nobody touches anything."""
    from assistant.echo import EchoGuard
    from assistant.engines import choose_engine, make_recognizer
    from assistant.listener import Listener
    from assistant.mic import FileSource, Microphone, read_wav
    from assistant.tts import make_speaker

    routine = resolve_routine(settings.routine)
    grammar = load_grammar(default_grammar_path(settings.language))
    engine, model = choose_engine(options.engine, options.model, settings.data_dir)
    pcm = read_wav(options.audio_in) if options.audio_in else None
    recognizer = make_recognizer(engine, model, grammar)
    loop = EventLoop(time_scale=settings.time_scale)

    def voice_failed(err: Exception) -> None:
        _LOGGER.error("The voice failed: %s", err)
        print(f"exercise-coach: the voice failed: {err}", file=stdout)

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
    speaker = _TeeSpeaker(voice, ConsoleSpeaker(stdout))

    def open_source() -> FileSource | Microphone:
        if pcm is not None:
            return FileSource(pcm, loop.now, time_scale=settings.time_scale)
        return Microphone(options.input_device)

    try:
        with History(settings.history_path) as history:
            _recover(history)
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
            listener = Listener(
                open_source,
                recognizer,
                loop.post,
                lambda heard: act(session, heard.command),
                on_lost=session.input_lost,
                on_back=session.input_back,
                on_failed=lambda what: _LOGGER.error("%s keeps failing", what),
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
    return result


def _recover(history: History) -> None:
    crashed = history.recover_crashed()
    if crashed:
        _LOGGER.warning("Sessions %s had been interrupted; recorded as crashed", crashed)
