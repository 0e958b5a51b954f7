"""Regenerate docs/session-states.md and the README's routine-choices block from the code."""

from __future__ import annotations

from pathlib import Path

from assistant.docs import diagram_page, with_choices

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    page = ROOT / "docs" / "session-states.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(diagram_page(), encoding="utf-8")
    readme = ROOT / "README.md"
    readme.write_text(with_choices(readme.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {page} and {readme}")
