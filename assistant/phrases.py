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
        what = f"{number(reps.count)} {'repetition' if reps.count == 1 else 'repetitions'}"
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

HISTORY_FAILED = "I cannot save your progress right now, so this session may not be remembered."
HISTORY_PAUSED = "We are paused. Say resume to carry on without saving, or stop to end the session."
RECOGNIZER_FAILED = (
    "I cannot make out what you say right now: my speech recognition has failed. "
    "We are paused until it works again. If anything hurts, stop the exercise and rest."
)
VOICE_FAILED = (
    "My voice has stopped working, so we are paused. Say resume to try again, "
    "or stop to end the session. Say pain if something hurts."
)


def resume_offer(exercise: str, set_no: int, side: str | None) -> str:
    """After a session was cut off (the coach was killed): offer to go on where it stopped."""
    where = f"{exercise}, {side}" if side else exercise
    return (
        f"Last time you stopped in the middle of {where}, set {number(set_no)}. "
        "Say resume to continue from there, or next to start again."
    )


RESUMING_FROM_LAST_TIME = "Continuing where you stopped last time."
STARTING_AGAIN = "Starting from the beginning."

# Check-ins (checkin.py): what the coach says when it has not heard the user for a while.
CHECK_IN = "Are you all right? Say continue, or say pain if something hurts."
CHECK_IN_AGAIN = "Say continue if you are all right, or say pain if something hurts."
CHECK_IN_ANSWERED = "Good. Let's carry on."
CHECK_IN_NOT_ALL_RIGHT = (
    "Rest now. If something hurts, say pain. If you cannot get up, call for help."
)
NO_ANSWER_PAUSED = (
    "I have not heard from you, so we are paused. "
    "Say continue when you are ready, or say pain if something hurts."
)
PAUSED_REMINDER = (
    "We are still paused. Say continue when you are ready to go on, or stop to end the session. "
    "Say pain if something hurts."
)
DONE_REMINDER = "Say done when you are tired."

PAUSED_BECAUSE = {
    "user": PAUSED,
    "microphone": MICROPHONE_LOST,
    "no_answer": NO_ANSWER_PAUSED,
    "recognizer": RECOGNIZER_FAILED,
    "voice": VOICE_FAILED,
    "history": HISTORY_PAUSED,
}
"""What the coach says on pausing, by why it paused (Session.pause_reason)."""


def _join(items: tuple[str, ...] | list[str], word: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


# Progression (progression.py, progress.py): "Was that easy?" and every change, said aloud.
EASY_QUESTION = "Was that easy? Say yes or no."
ANSWER_YES = "Thank you. I will remember that."
ANSWER_NO = "Thank you. We will keep it as it is."
NO_QUESTION = "There is no question to answer just now."
EASIER_HINT = "If that is too much, say make it easier."
ALREADY_EASIEST = "This is already as easy as I make it. You can always say next to skip one."
BACK_TO_ONE_SET = "Next time we will go back to one set of each exercise."


def easy_question_after(exercise: Exercise) -> str:
    """The question about the last exercise, asked once the session is over."""
    return f"One more thing: was {exercise.name} easy today? Say yes or no."


def more_sets(sets: int) -> str:
    """Sets go up after sessions finished without pain."""
    return (
        "You have kept it up without pain, so from next time we will do "
        f"{number(sets)} sets of each exercise, up to each one's goal. {EASIER_HINT}"
    )


def sets_from_next_time(sets: int) -> str:
    """Sets go down (make it easier, or a change of settings)."""
    plural = "s" if sets != 1 else ""
    return f"All right. From next time, {number(sets)} set{plural} of each exercise."


def next_stage(done: str, next_name: str) -> str:
    """A series moves on: Chest Lift One to Two."""
    return (
        f"You found {done} easy two sessions running, so from next time "
        f"you will do {next_name} instead. {EASIER_HINT}"
    )


def back_to_stage(name: str, instead_of: str) -> str:
    """Make it easier: a series goes back a stage."""
    return f"All right. From next time, {name} again instead of {instead_of}."


def higher_ceiling(name: str, reps: int) -> str:
    """An until-tired exercise may go further."""
    return (
        f"You found {name} easy two sessions running, so from next time you can go up to "
        f"{number(reps)} repetitions. {EASIER_HINT}"
    )


def lower_ceiling(name: str, reps: int) -> str:
    """Make it easier: that ceiling comes down again."""
    return f"All right. From next time, up to {number(reps)} repetitions of {name}."


def harder_suggested(name: str, how: str) -> str:
    """The goal is reached: the seed's way to make it harder (light weights, a towel)."""
    return (
        f"You found {name} easy two sessions running, and you have reached its goal. "
        f"{how} {EASIER_HINT}"
    )


def harder_withdrawn(name: str) -> str:
    """Make it easier: that suggestion is withdrawn."""
    return f"All right. Do {name} as before, without the extra."


# The kiosk (kiosk.py): waiting for the next person.
KIOSK_WAITING = (
    "When you are ready, say start exercises. If you are on the list, say your number or "
    "your name first."
)
KIOSK_GUEST = "Let's begin. As a guest, you will do one set of each exercise."
KIOSK_SORRY = (
    "I'm sorry, something went wrong and the session has stopped. Please rest for a moment. "
    "Say start exercises to begin again."
)


def kiosk_hello(name: str) -> str:
    """A person on the list said their number or name."""
    return f"Hello, {name}. Say start exercises when you are ready."


def kiosk_begin(name: str) -> str:
    """A session starts for a person on the list."""
    return f"Let's begin, {name}."
