"""The argument-check helper."""

import math

import pytest

from twin.errors import ParameterError, ReadError, TwinError, check_param


def test_check_param():
    assert check_param("x", 3, minimum=0, maximum=5) == 3
    with pytest.raises(ParameterError, match="x=-1 must be >= 0"):
        check_param("x", -1, minimum=0)
    with pytest.raises(ParameterError, match="must be <= 5"):
        check_param("x", 6, maximum=5)
    with pytest.raises(ParameterError, match="finite"):
        check_param("x", math.nan, minimum=0)
    with pytest.raises(ParameterError, match="choose one of: 'a', 'b'"):
        check_param("side", "c", choices=("a", "b"))
    with pytest.raises(ParameterError, match="must be int"):
        check_param("n", 1.5, types=int)
    with pytest.raises(ParameterError, match="must be a number"):
        check_param("n", "abc", minimum=0)


def test_errors_are_twin_errors():
    err = ReadError("/a/b.trc", "broken")
    assert isinstance(err, TwinError) and str(err) == "/a/b.trc: broken" and err.path == "/a/b.trc"
