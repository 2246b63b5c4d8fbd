"""JSON round trip for facts dataclasses.

Facts hold only ``None``, ``bool``, ``int``, ``float``, ``str``, lists, string-keyed
dicts and nested dataclasses, so ``dataclasses.asdict`` writes them and the type
hints are enough to read them back.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")

_HINTS: dict[type, dict[str, Any]] = {}


def to_jsonable(obj: Any) -> Any:
    """A dataclass (or plain value) as JSON-ready builtins."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return obj


def from_jsonable(cls: type[T], data: Any) -> T:
    """Rebuild ``cls`` from what :func:`to_jsonable` wrote."""
    return _convert(cls, data)


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _convert(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        options = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _convert(options[0], data) if len(options) == 1 else data
    if origin is list:
        (item,) = typing.get_args(tp)
        return [_convert(item, value) for value in data]
    if origin is dict:
        _, item = typing.get_args(tp)
        return {key: _convert(item, value) for key, value in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp) if f.init}
        kwargs = {key: _convert(hints[key], value) for key, value in data.items() if key in names}
        return tp(**kwargs)
    return data
