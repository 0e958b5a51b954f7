"""Every sentence the coach speaks, built from plain data; no audio, no state."""

from __future__ import annotations

from assistant.routine import Exercise, Routine, Side

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

PAIN_ADVICE = (
    "Stop the exercise now.",
    "Slowly move into a comfortable position and rest.",
    "Please call your doctor or physical therapist before you exercise again.",
    "If the pain is severe, or you cannot get up, call for emergency help.",
)

SPEECH_WORDS_PER_MINUTE = 160
"""Pace the core assumes when it waits for a sentence to be heard."""


def number(n: int) -> str:
    """A whole number in words, as a listener hears it ("twenty one")."""
    if n < 0:
        return "minus " + number(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    return str(n)


def duration(seconds: float) -> str:
    """A rest or hold length in words: "thirty seconds", "one minute", "two minutes"."""
    whole = round(seconds)
    minutes, secs = divmod(whole, 60)
    if minutes == 0:
        return f"{number(secs)} second" + ("" if secs == 1 else "s")
    text = f"{number(minutes)} minute" + ("" if minutes == 1 else "s")
    if secs == 30:
        return ("a minute" if minutes == 1 else text) + " and a half"
    if secs:
        text += f" and {number(secs)} second" + ("" if secs == 1 else "s")
    return text


def speaking_seconds(text: str, words_per_minute: float = SPEECH_WORDS_PER_MINUTE) -> float:
    """Roughly how long ``text`` takes to say, with a short pause after each sentence."""
    words = len(text.split())
    sentences = max(1, sum(text.count(mark) for mark in ".?!"))
    return words * 60.0 / words_per_minute + 0.4 * sentences


def welcome(routine: Routine) -> str:
    """The opening line of a session."""
    return f"Welcome. Today we will do {routine.title}."


def safety_intro(routine: Routine) -> str:
    """The general cautions of the routine, read at the start of every session."""
    return " ".join(
        (
            *routine.general_cautions,
            "You can say pause, longer rest, next, repeat or stop at any time.",
            "If anything hurts, say pain, and we will stop at once.",
        )
    )


def announce(exercise: Exercise, position_in_session: int, total: int, sets: int) -> str:
    """Introduce an exercise: its name, purpose, what is needed and its cautions."""
    parts = [f"Exercise {number(position_in_session)} of {number(total)}: {exercise.name}."]
    if exercise.purpose:
        parts.append(exercise.purpose.rstrip(".") + ".")
    if exercise.equipment:
        parts.append("You will need " + _join(exercise.equipment) + ".")
    parts.append(_sets_and_reps(exercise, sets))
    parts.extend(exercise.cautions)
    return " ".join(parts)


def _sets_and_reps(exercise: Exercise, sets: int) -> str:
    reps = exercise.reps
    if reps.until_tired:
        what = f"repeat until you are tired, up to {number(reps.count)} times"
    else:
        what = f"{number(reps.count)} repetitions"
    each_side = " on each side" if exercise.sides else ""
    set_word = "set" if sets == 1 else "sets"
    return f"Today: {number(sets)} {set_word}, {what}{each_side}."


def position(exercise: Exercise, side: Side | None, again: bool, switching: bool) -> str:
    """Tell the user how to get into the starting position (of a side, after a rest)."""
    where = side.position if side is not None and side.position else exercise.position
    lead = "Get back into position." if again else "Get into position."
    if side is not None:
        lead = (
            f"Now the other side: {side.name}." if switching else f"{lead} {_capital(side.name)}."
        )
    return f"{lead} {where} Take your time, and say ready when you are in position."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def steps(exercise: Exercise, side: Side | None) -> str:
    """The action, as short spoken steps."""
    chosen = side.steps if side is not None and side.steps else exercise.steps
    return "Here is the movement. " + " ".join(chosen)


def lift(exercise: Exercise, set_no: int, sets: int, rep_no: int) -> str:
    """The cue that starts one repetition, with the set and repetition count."""
    reps = exercise.reps
    if reps.until_tired:
        count = f"Repetition {number(rep_no)}."
        if rep_no == 1:
            count += " Say done when you are tired."
    else:
        count = f"Repetition {number(rep_no)} of {number(reps.count)}."
    if sets > 1:
        count = f"Set {number(set_no)} of {number(sets)}. {count}"
    return f"{count} Lift."


def hold(exercise: Exercise) -> str:
    """The cue at the start of a hold."""
    if exercise.hold.slow_count:
        return "Hold, and count slowly with me."
    return "Hold."


RELEASE = "And release."
HOLD_RESUMED = "Lift again, and hold."
RELAX = "Relax for a moment."
RESUMING = "Resuming."


def rest_start(seconds: float) -> str:
    """The cue at the start of a rest between sets."""
    return f"Well done. Rest for {duration(seconds)}."


def rest_left(seconds: float) -> str:
    """A countdown point during a rest."""
    return f"{duration(seconds).capitalize()} left."


REST_OVER = "Rest is over."


def rest_resumed(seconds: float) -> str:
    """After a pause during a rest."""
    return f"Let's go on resting. {duration(seconds).capitalize()} left."


def longer_rest(seconds: float, in_rest: bool, left: float | None) -> str:
    """Confirm a longer rest and say how long."""
    if in_rest and left is not None:
        return (
            f"All right. This rest is now {duration(seconds)}. {duration(left).capitalize()} left."
        )
    return f"All right. Your rests are now {duration(seconds)}."


def longest_rest(seconds: float) -> str:
    """When the rest cannot grow any more."""
    return (
        f"Your rests are already {duration(seconds)}, the longest I give. "
        "If you are very tired, say stop and rest for today."
    )


def exercise_done(exercise: Exercise) -> str:
    """After the last set of an exercise."""
    return f"That's the end of {exercise.name}. Well done."


def tired_done(reps_done: int) -> str:
    """After the user says done in an open-ended set."""
    return f"Well done, {number(reps_done)} repetitions. Relax."


def ceiling_reached(exercise: Exercise) -> str:
    """An open-ended set reached its ceiling."""
    return f"That is {number(exercise.reps.count)} repetitions, the most for today. Relax."


def skipped(exercise: Exercise) -> str:
    """After "next" skips an exercise."""
    return f"Skipping {exercise.name}."


PAUSED = "Paused. Say resume when you are ready to go on, or stop to end the session."


def summary(exercises: int, sets: int, reps: int, minutes: float) -> str:
    """What was done, spoken at the end of a session."""
    return (
        f"You did {number(exercises)} exercise{'s' if exercises != 1 else ''}, "
        f"{number(sets)} set{'s' if sets != 1 else ''} and "
        f"{number(reps)} repetition{'s' if reps != 1 else ''} "
        f"in {duration(max(60, round(minutes) * 60))}."
    )


def finished(summary_text: str) -> str:
    """The end of a completed session."""
    return f"That's all for today. Great work. {summary_text} Rest a moment before you get up."


def stopped(summary_text: str) -> str:
    """The end of a session the user stopped."""
    return f"Ending the session. {summary_text} Rest a moment before you get up."


def pain_advice() -> str:
    """What the coach says at once when the user reports pain."""
    return " ".join(PAIN_ADVICE)


def help_text(commands: list[str]) -> str:
    """What the user can say now."""
    spoken = [name.replace("_", " ") for name in commands if name != "pain"]
    return f"You can say {_join(spoken, 'or')}. Say pain at any time if something hurts."


def not_now(why: str, commands: list[str]) -> str:
    """A command that means nothing in the current state."""
    return f"{why} {help_text(commands)}" if why else f"Not now. {help_text(commands)}"


NO_VOICE_SETTINGS = "Slower, faster, louder and softer change the spoken voice, which is off now."

MICROPHONE_LOST = (
    "I cannot hear you any more: the microphone seems to be disconnected. "
    "We are paused until it is back. If anything hurts, stop the exercise and rest."
)
MICROPHONE_BACK = "I can hear you again."

NOT_UNDERSTOOD = "Sorry, I did not catch that. Say help to hear what you can say."

HISTORY_FAILED = (
    "I cannot save your progress right now, so this session may not be remembered. "
    "We will carry on."
)


def _join(items: tuple[str, ...] | list[str], word: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]
