"""Bounded fuzzing of the text readers: mutated, truncated or spliced files give a TwinError or a valid Dataset, never another exception."""

from __future__ import annotations

import functools
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twin
from twin import schema
from twin.errors import TwinError
from twin.io.storage import write_storage
from twin.io.trc import write_trc

# Derandomized: the same 300 cases in every run, so CI is repeatable; `make test-slow` explores anew.
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
FUZZ_MORE = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@functools.cache
def _seed_files():
    tmp_path = Path(tempfile.mkdtemp(prefix="twin-fuzz-"))
    t = np.arange(12) / 100.0
    m = np.random.default_rng(1).normal(size=(12, 3, 3)) + [0, 1, 0]
    rec = schema.recording(t, markers=m, marker_names=["RHEE", "LHEE", "SACR"], rate=100.0)
    write_trc(rec, tmp_path / "seed.trc")
    kin = schema.kinematics(t, np.random.default_rng(2).normal(size=(12, 3)), ["hip_flexion_r", "knee_angle_r", "pelvis_tx"])
    write_storage(kin, tmp_path / "seed.mot")
    grf = schema.recording(t, grf=np.ones((12, 2, 3)), cop=np.zeros((12, 2, 3)), free_moment=np.zeros((12, 2, 3)),
                           plates=["right", "left"], plate_dim="side")
    write_storage(grf, tmp_path / "seed_grf.mot")
    return [(tmp_path / n).read_bytes() for n in ("seed.trc", "seed.mot", "seed_grf.mot")]


mutation = st.one_of(
    st.tuples(st.just("cut"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8)),
    st.tuples(st.just("insert"), st.tuples(st.floats(0, 1), st.sampled_from([b"nan", b"\t\t", b"\n", b"-", b"e999", b"x"]))),
)


def _mutate(raw: bytes, how) -> bytes:
    kind, arg = how
    if kind == "cut":
        return raw[: int(arg * len(raw))]
    if kind == "flip":
        b = bytearray(raw)
        for pos, val in arg:
            b[min(int(pos * len(b)), len(b) - 1)] = val
        return bytes(b)
    pos, chunk = arg
    k = int(pos * len(raw))
    return raw[:k] + chunk + raw[k:]


def _check(tmp_path, which, how):
    seeds = _seed_files()
    suffix = (".trc", ".mot", ".mot")[which]
    path = tmp_path / f"fuzzed{suffix}"
    path.write_bytes(_mutate(seeds[which], how))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = twin.read(path)
    except TwinError as err:
        assert str(path) in str(err) or path.name in str(err)
    else:
        twin.validate(ds)


@FUZZ
@given(which=st.integers(0, 2), how=mutation)
def test_text_readers_fail_only_with_twin_error(tmp_path, which, how):
    _check(tmp_path, which, how)


@pytest.mark.slow
@FUZZ_MORE
@given(which=st.integers(0, 2), how=mutation)
def test_text_readers_fuzz_more(tmp_path, which, how):
    _check(tmp_path, which, how)


def test_huge_header_number_is_a_read_error(tmp_path):
    path = tmp_path / "big.mot"
    path.write_text("x\nversion=1\nnRows=1e999\nendheader\ntime\ta\n0\t1\n")
    with pytest.raises(TwinError, match="nRows"):
        twin.read(path)
