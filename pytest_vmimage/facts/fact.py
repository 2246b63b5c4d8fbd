"""The error model shared by every fact, live or offline: a value, *absent* (looked, and
it is not there) or *unreadable* (could not look: command failed, timed out, permission,
read error), with the reason.

``get()`` gives the value, None when absent, and raises FactError when unreadable;
``need()`` also raises when absent. A check can never mistake "could not look" for
"nothing there".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pytest_vmimage.verdict import FactError

T = TypeVar("T")


@dataclass(frozen=True)
class Fact(Generic[T]):
    """One fact. ``unreadable`` is the reason it could not be read ("" when it could);
    ``absent_reason`` says where it was looked for; ``name`` labels error messages."""

    value: T | None = None
    absent: bool = False
    unreadable: str = ""
    name: str = ""
    absent_reason: str = ""

    @classmethod
    def found(cls, value: T, name: str = "") -> Fact[T]:
        return cls(value, name=name)

    @classmethod
    def missing(cls, reason: str = "", name: str = "") -> Fact[T]:
        return cls(None, absent=True, name=name, absent_reason=reason)

    @classmethod
    def failed(cls, reason: str, name: str = "") -> Fact[T]:
        return cls(None, unreadable=reason or "could not be read", name=name)

    @property
    def is_value(self) -> bool:
        return not self.absent and not self.unreadable

    def _unreadable_error(self) -> FactError:
        prefix = f"{self.name} could not be read: " if self.name else ""
        return FactError(prefix + self.unreadable)

    def get(self) -> T | None:
        """The value, None when absent; unreadable is a FactError."""
        if self.unreadable:
            raise self._unreadable_error()
        return self.value

    def need(self) -> T:
        """The value; absent or unreadable is a FactError naming the fact."""
        if self.unreadable:
            raise self._unreadable_error()
        if self.absent:
            raise FactError(f"{self.name or 'the fact'} is absent: {self.absent_reason or 'not there'}")
        return self.value  # type: ignore[return-value]

    def value_or_absent(self, default: Any = None) -> Any:
        """The value, ``default`` when absent; unreadable is a FactError."""
        if self.unreadable:
            raise self._unreadable_error()
        return default if self.absent else self.value

    def map(self, parse: Callable[[Any], Any]) -> Fact:
        """The parsed fact; a parser raising FactError makes it unreadable with that reason."""
        if self.unreadable or self.absent:
            return self
        try:
            return Fact.found(parse(self.value), self.name)
        except FactError as exc:
            return Fact.failed(str(exc), self.name)
