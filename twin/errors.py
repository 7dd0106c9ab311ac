"""Errors raised by twin, and the one argument-check helper.

Every user-facing failure is a :class:`TwinError` (or a subclass) whose message
says *what* was wrong (file, field, parameter) and *what to do* about it.

Examples
--------
>>> from twin.errors import check_param, ParameterError
>>> check_param("threshold", 20.0, minimum=0.0)
20.0
>>> try:
...     check_param("side", "up", choices=("left", "right"))
... except ParameterError as err:
...     print(err)
side='up' is not allowed; choose one of: 'left', 'right'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = [
    "TwinError",
    "TwinWarning",
    "ReadError",
    "FormatError",
    "DataError",
    "SchemaError",
    "ParameterError",
    "check_param",
]


class TwinError(Exception):
    """Base class of every error twin raises on purpose."""


class TwinWarning(UserWarning):
    """Something was done to the data that the user should know about."""


class ReadError(TwinError):
    """A file could not be read: missing, truncated, empty, or malformed.

    Parameters
    ----------
    path : str or Path or None
        The file concerned; it is put at the start of the message.
    message : str
        What is wrong and what to do.
    """

    def __init__(self, path: Any, message: str):
        self.path = None if path is None else str(path)
        super().__init__(f"{path}: {message}" if path is not None else message)


class FormatError(ReadError):
    """The file is not in a format twin reads (or not the one it claims)."""


class DataError(TwinError):
    """Values are present but unusable (NaN, inconsistent lengths, implausible)."""


class SchemaError(TwinError, ValueError):
    """A Dataset does not follow the twin schema (see :mod:`twin.schema`)."""


class ParameterError(TwinError, ValueError):
    """A function argument is out of range or of the wrong kind."""


_MISSING = object()


def check_param(
    name: str,
    value: Any,
    *,
    choices: Iterable[Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    types: type | tuple[type, ...] | None = None,
    finite: bool = True,
) -> Any:
    """Check one argument and return it unchanged, or raise :class:`ParameterError`.

    Parameters
    ----------
    name : str
        The argument's name as the user wrote it.
    value : object
        The value to check.
    choices : iterable, optional
        Allowed values.
    minimum, maximum : float, optional
        Inclusive bounds for numbers.
    types : type or tuple of types, optional
        Allowed types.
    finite : bool, default True
        Numbers must be finite.

    Returns
    -------
    object
        ``value``, unchanged.

    Examples
    --------
    >>> check_param("rate", 100, minimum=1, types=(int, float))
    100
    """
    if types is not None and not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise ParameterError(f"{name}={value!r} must be {names}, not {type(value).__name__}")
    if choices is not None:
        choices = tuple(choices)
        if value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise ParameterError(f"{name}={value!r} is not allowed; choose one of: {allowed}")
    if minimum is not None or maximum is not None or (finite and isinstance(value, float)):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{name}={value!r} must be a number") from None
        if finite and not math.isfinite(number):
            raise ParameterError(f"{name}={value!r} must be a finite number")
        if minimum is not None and number < minimum:
            raise ParameterError(f"{name}={value!r} must be >= {minimum}")
        if maximum is not None and number > maximum:
            raise ParameterError(f"{name}={value!r} must be <= {maximum}")
    return value
