"""``with`` support for the objects that hold a file, a socket or a server open."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """A mixin: ``with thing:`` calls ``thing.close()`` at the end, whatever happened."""

    def close(self) -> None:
        """Release what the object holds; harmless to call twice."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
