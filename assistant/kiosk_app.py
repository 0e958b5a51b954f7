"""Wiring for the kiosk (kiosk.py): the console, or the voice, the microphone or a recording."""

from __future__ import annotations

import dataclasses
import functools
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from assistant import phrases
from assistant.clock import EventLoop
from assistant.config import Settings
from assistant.console import ConsoleSpeaker, LineReader
from assistant.grammar import Grammar, load_grammar
from assistant.history import History
from assistant.kiosk import START_ROUTINES, Kiosk, KioskParts
from assistant.ports import SAMPLE_RATE, Heard, HearsOverTheCoach, Recognizer, Speaker
from assistant.profiles import default_profiles_path, load_profiles, waiting_grammar
from assistant.routine import resolve_routine
from assistant.screen import ScreenFeed, ScreenServer
from assistant.session import Session

_LOGGER = logging.getLogger(__name__)

AFTER_RECORDING_SECONDS = 2.0
"""With ``--audio-in``: session seconds after the recording ends before the kiosk stops."""


class TwoGrammars:
    """A Recognizer over two: the kiosk's waiting grammar and a session's; one listens.

    ``use`` is called on the loop thread; the switch happens at the next chunk on the
    listener's thread, which alone touches the recognizers. Times in what is heard are kept
    on one timeline (seconds fed to this object), as the listener's echo guard expects.
    """

    name: str

    def __init__(self, waiting: Recognizer, session: Recognizer) -> None:
        self.name = session.name
        self._recognizers = {"waiting": waiting, "session": session}
        self._wanted = self._active = "waiting"
        self._fed = 0.0
        self._fed_to = {"waiting": 0.0, "session": 0.0}

    def use(self, mode: str) -> None:
        """Listen with the "waiting" or the "session" grammar from the next chunk on."""
        self._wanted = mode

    def accept(self, pcm: bytes) -> list[Heard]:
        """Feed audio to the grammar in use."""
        if self._wanted != self._active:
            self._recognizers[self._wanted].reset()
            self._active = self._wanted
        offset = self._fed - self._fed_to[self._active]
        seconds = len(pcm) / 2 / SAMPLE_RATE
        self._fed += seconds
        self._fed_to[self._active] += seconds
        return self._shift(self._recognizers[self._active].accept(pcm), offset)

    def flush(self) -> list[Heard]:
        """End of stream."""
        offset = self._fed - self._fed_to[self._active]
        return self._shift(self._recognizers[self._active].flush(), offset)

    def reset(self) -> None:
        """Forget any partial utterance."""
        self._recognizers[self._active].reset()

    def when_coach_talks(self, talking: Callable[[float, float], bool]) -> None:
        """Pass the listener's question on, in each recognizer's own times."""
        for mode, recognizer in self._recognizers.items():
            if isinstance(recognizer, HearsOverTheCoach):
                recognizer.when_coach_talks(functools.partial(self._talking, talking, mode))

    def _talking(
        self, talking: Callable[[float, float], bool], mode: str, start: float, end: float
    ) -> bool:
        offset = self._fed - self._fed_to[mode]
        return talking(start + offset, end + offset)

    @staticmethod
    def _shift(heard: list[Heard], offset: float) -> list[Heard]:
        return [dataclasses.replace(h, start=h.start + offset, end=h.end + offset) for h in heard]


class KioskScreen:
    """The large-print page of a kiosk: the session under way, else only the waiting words."""

    def __init__(self, feed: ScreenFeed, post: Callable[[Callable[[], None]], None]) -> None:
        """``post`` queues a call on the kiosk's loop."""
        self._feed = feed
        self._post = post
        self._session: Session | None = None
        feed.clear(phrases.KIOSK_WAITING)

    def show(self, session: Session) -> None:
        """Follow this session."""
        self._session = session

    def clear(self) -> None:
        """Forget the session and the last sentence: nothing of one person stays up."""
        self._session = None
        self._feed.clear(phrases.KIOSK_WAITING)

    def speaker(self, inner: Speaker) -> Speaker:
        """``inner`` with every sentence also shown, and the page brought up to date."""
        return _ShownSpeaker(inner, self)

    def said(self, text: str) -> None:
        """Show the sentence; the session's state once the loop has finished this step."""
        self._feed.said(text)
        # Posted: the session speaks before it sets its timers.
        self._post(self._refresh)

    def _refresh(self) -> None:
        if self._session is None:
            return
        try:
            self._feed.show(self._session.snapshot())
        except Exception:
            _LOGGER.exception("Could not update the screen")


class _ShownSpeaker:
    def __init__(self, inner: Speaker, screen: KioskScreen) -> None:
        self._inner = inner
        self._screen = screen

    def say(self, text: str) -> None:
        self._inner.say(text)
        self._screen.said(text)

    def stop(self) -> None:
        self._inner.stop()


@dataclass(frozen=True)
class KioskOptions:
    """How the kiosk hears and speaks, and whose list it knows."""

    profiles: Path | None = None
    """The staff's profiles file; default ``profiles.toml`` beside the config file, if any."""
    text: bool = False
    """Typed lines and printed sentences instead of voice (tests, demos)."""
    voice: Any = None
    """``app.VoiceOptions`` for a spoken kiosk."""
    screen_port: int | None = None
    """Show the large-print page on this port of 127.0.0.1 (0: any free one); None: no page."""


def run_kiosk(settings: Settings, options: KioskOptions, stdin: TextIO, stdout: TextIO) -> int:
    """Run the kiosk until its input ends (text, a recording) or it is stopped (a signal)."""
    from assistant.app import grammar_path, recover_crashed

    path = options.profiles
    if path is None and default_profiles_path().is_file():
        path = default_profiles_path()
    profiles = load_profiles(path) if path is not None else ()
    for name in {settings.routine, *(r for r in START_ROUTINES.values() if r)}:
        resolve_routine(name)  # a bad routine file is a clear error now, not at someone's start
    grammar_file = grammar_path(settings)
    session_grammar = load_grammar(grammar_file)
    waiting = waiting_grammar(grammar_file, session_grammar, path, profiles)
    loop = EventLoop(time_scale=settings.time_scale)
    with History(settings.history_path) as history, ExitStack() as stack:
        recover_crashed(history)
        screen = None
        if options.screen_port is not None:
            feed = ScreenFeed(loop.now)
            server = stack.enter_context(ScreenServer(feed, options.screen_port))
            print(f"Large-print screen: {server.url}", file=stdout, flush=True)
            screen = KioskScreen(feed, loop.post)
        console = ConsoleSpeaker(stdout)
        parts = KioskParts(
            settings, loop, history, console, session_grammar, waiting, profiles, screen=screen
        )
        if options.text:
            if screen is not None:
                parts = dataclasses.replace(parts, speaker=screen.speaker(console))
            _run_text(parts, stdin)
        else:
            _run_voice(parts, options.voice, stdout, screen)
    return 0


def _run_text(parts: KioskParts, stdin: TextIO) -> None:
    kiosk = Kiosk(parts)
    post = parts.loop.post
    reader = LineReader(
        stdin,
        lambda text: post(lambda: kiosk.hear_text(text)),
        on_end=lambda: post(kiosk.input_ended),
    )
    reader.start()
    with _stop_on_signals(kiosk):
        kiosk.run()


def _run_voice(parts: KioskParts, options: Any, stdout: TextIO, screen: KioskScreen | None) -> None:
    from assistant.app import TeeSpeaker, VoiceOptions
    from assistant.echo import EchoGuard
    from assistant.engines import choose_engine, make_recognizer
    from assistant.errors import AudioError
    from assistant.listener import AudioSource, Listener
    from assistant.mic import FileSource, Microphone, read_wav
    from assistant.tts import SETTINGS_FILE, load_voice_settings, make_speaker

    options = options or VoiceOptions()
    settings, loop = parts.settings, parts.loop
    engine, model = choose_engine(options.engine, options.model, settings.data_dir)
    pcm = read_wav(options.audio_in) if options.audio_in else None
    recognizer = TwoGrammars(
        make_recognizer(engine, model, parts.waiting_grammar),
        make_recognizer(engine, model, parts.session_grammar),
    )

    kiosk: Kiosk | None = None

    def voice_failed(err: Exception) -> None:
        _LOGGER.error("The voice failed: %s", err)
        print(f"exercise-coach: the voice failed: {err}", file=stdout)
        if kiosk is not None:
            loop.post(functools.partial(kiosk.fault, "voice"))

    # Not kept in voice.json: "slower" is one person's, and each session starts afresh.
    voice = make_speaker(
        options.voice, None, options.audio_out, voice_failed, options.output_device
    )
    voice.settings = load_voice_settings(settings.data_dir / SETTINGS_FILE)
    try:
        voice.start()
    except OSError as err:
        raise AudioError(
            f"cannot open the speaker ({err}); 'exercise-coach devices' lists what there is, "
            "and 'exercise-coach kiosk --text' works without sound"
        ) from None
    try:
        tee: Speaker = TeeSpeaker(voice, ConsoleSpeaker(stdout))
        if screen is not None:
            tee = screen.speaker(tee)
        parts = dataclasses.replace(parts, speaker=tee, voice=voice, listen=recognizer.use)
        kiosk = Kiosk(parts)

        def open_source() -> AudioSource:
            if pcm is not None:
                return FileSource(pcm, loop.now, time_scale=settings.time_scale)
            return Microphone(options.input_device)

        both = Grammar(
            parts.session_grammar.language,
            (*parts.session_grammar.commands, *parts.waiting_grammar.commands),
        )

        def spoken() -> Any:
            return voice.spoken

        # A recording holds no echo of the coach: nothing to cancel, no own words to refuse.
        echo = None if pcm is not None else EchoGuard(voice.reference, voice.rate, spoken, both)
        listener = Listener(
            open_source,
            recognizer,
            loop.post,
            lambda heard: kiosk.heard(heard.command),
            on_lost=kiosk.input_lost,
            on_back=kiosk.input_back,
            on_failed=kiosk.input_lost,
            on_recovered=kiosk.input_back,
            echo=echo,
        )
        if pcm is not None:
            # The recording's timeline starts with the listener; the kiosk ends after it.
            seconds = len(pcm) / 2 / SAMPLE_RATE + AFTER_RECORDING_SECONDS

            def end_with_the_recording() -> None:
                loop.call_later(seconds, kiosk.input_ended)

            loop.post(end_with_the_recording)
        listener.start()
        try:
            with _stop_on_signals(kiosk):
                kiosk.run()
        finally:
            listener.stop()
        # Only a moment for the last words: a stopping service should stop.
        voice.wait_until_quiet(timeout=2.0)
    finally:
        voice.close()


@contextmanager
def _stop_on_signals(kiosk: Kiosk) -> Iterator[None]:
    """SIGTERM (systemd stopping the service) and Ctrl-C end the kiosk: a session is stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        kiosk.stopping = True
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
