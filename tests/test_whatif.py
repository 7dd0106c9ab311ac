"""twin.whatif: the literature directions of the standard what-ifs, reproduced by the default twin.

The issue asks the tests to assert directions only (magnitudes are reported by ``twin bench twin``
and the results notebook, not tuned): each row of :data:`twin.whatif.DIRECTIONS` must move its
measure the published way, with today's nervous system (``adapt=False``), without the changed body
falling. One batch of 6 s simulations (baseline + 4 scenarios) for all of them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twin.twin import Twin
from twin.whatif import DIRECTIONS, check_directions, cycle_measures

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def directions():
    return check_directions(Twin.default(), duration=6.0)


@pytest.mark.parametrize("k", range(len(DIRECTIONS)), ids=[f"{d.scenario}-{d.measure}" for d in DIRECTIONS])
def test_literature_direction(directions, k):
    row = directions["rows"][k]
    print(f"{row['scenario']}: {row['measure']} {row['baseline']:.4g} -> {row['value']:.4g} (expected "
          f"{'higher' if row['expected'] > 0 else 'lower'}; {row['source']})")
    assert not row["fell"], "the changed body fell"
    assert np.isfinite(row["baseline"]) and np.isfinite(row["value"])
    assert np.sign(row["value"] - row["baseline"]) == row["expected"]


def test_cycle_measures_are_per_member(directions):
    sim = directions["sim"]
    meas = cycle_measures(sim, settle=1.5)
    assert set(meas) == {d.measure for d in DIRECTIONS}
    assert all(v.shape == (sim.sizes["scenario"],) for v in meas.values())
    assert directions["tried"] == len(DIRECTIONS) and directions["ok"] == sum(r["ok"] for r in directions["rows"])
