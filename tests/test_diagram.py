"""The state diagram in the docs is the machine's own."""

from __future__ import annotations

from pathlib import Path

from assistant.diagram import markdown, mermaid
from assistant.docs import routine_choices, with_choices
from assistant.session import FINAL, LIVE, TRANSITIONS

DOC = Path(__file__).resolve().parent.parent / "docs" / "session-states.md"


def test_docs_diagram_matches_the_machine() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        "docs/session-states.md is stale: run python scripts/make_docs.py"
    )


def _edges(text: str) -> dict[tuple[str, str], set[str]]:
    edges: dict[tuple[str, str], set[str]] = {}
    for line in text.splitlines():
        if "-->" not in line or line.strip().startswith("[*]"):
            continue
        ends, _, labels = line.partition(":")
        source, _, dest = (part.strip() for part in ends.partition("-->"))
        triggers = {label.split()[0] for label in labels.split("|")}
        edges.setdefault((source, dest), set()).update(triggers)
    return edges


def test_diagram_shows_every_state_and_transition() -> None:
    text = mermaid()
    for state in [*LIVE, *FINAL]:
        assert f'state "{state}" as {state}' in text
    edges = _edges(text)
    for transition in TRANSITIONS:
        sources = transition["source"]
        for source in [sources] if isinstance(sources, str) else sources:
            dest = transition["dest"] or source
            assert transition["trigger"] in edges.get((source, dest), set()), (source, dest)


def test_pain_reaches_the_pain_state_from_every_live_state() -> None:
    text = mermaid()
    for state in LIVE:
        assert f"{state} --> ended_for_pain: pain" in text


def test_readme_lists_every_routine_choice() -> None:
    readme = (DOC.parent.parent / "README.md").read_text(encoding="utf-8")
    assert with_choices(readme) == readme, "README.md is stale: run python scripts/make_docs.py"
    assert "no count" in routine_choices()
