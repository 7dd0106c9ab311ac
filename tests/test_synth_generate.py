"""Synthetic gait factory: zarr store of 4 subjects x 1 s, read back, resumed, corruption found and repaired."""

from __future__ import annotations

import importlib
import json
import shutil
import time

import numpy as np
import pytest
import torch

from twin.errors import ParameterError, ReadError, TwinError, TwinWarning
from twin.synth import generate, load_population, sample_population, verify_population

gen_module = importlib.import_module("twin.synth.generate")  # the module (twin.synth.generate is the function)

torch.set_num_threads(1)


def _population():
    pop = sample_population(4, seed=3)
    # subject 1 is made too weak to stand: it falls within the first second
    for v in ("strength_r", "strength_l"):
        pop[v].values[1] = 0.05
    return pop


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """4 subjects x 1 s in 2 chunks (synchronous), generated once for the module."""
    out = tmp_path_factory.mktemp("synth") / "pop.zarr"
    summary = generate(_population(), out, duration=1.0, chunk=2, scheduler="synchronous", progress=False)
    return out, summary


@pytest.fixture
def counting(monkeypatch):
    calls = []
    real = gen_module._simulate_subjects

    def wrapper(pop, *args, **kwargs):
        calls.append([int(s) for s in pop.subject.values])
        return real(pop, *args, **kwargs)

    monkeypatch.setattr(gen_module, "_simulate_subjects", wrapper)
    return calls


def test_store_reads_back_with_dims_and_units(store):
    out, summary = store
    assert summary.attrs["chunks"] == 2 and summary.attrs["chunks_generated"] == 2
    assert summary.attrs["n_subjects"] == 4 and "time" not in summary.dims
    ds = load_population(out, kept_only=False)
    assert ds.sizes["subject"] == 4
    assert ds.sizes["time"] == 100  # 1 s at 100 Hz
    assert ds.q.dims == ("subject", "time", "coordinate")
    assert ds.grf.dims == ("subject", "time", "side", "axis")
    assert ds.activation.dims == ("subject", "time", "muscle")
    assert ds.joint_angle.dims == ("subject", "label_side", "joint", "cycle_pct")
    assert ds.q.attrs["units"].startswith("rad") and ds.grf.attrs["units"] == "N"
    assert ds.time.attrs["units"] == "s" and ds.height.attrs["units"] == "m"
    assert ds.walking_speed.attrs["units"] == "m/s" and ds.cadence.attrs["units"] == "steps/min"
    np.testing.assert_allclose(ds.time.values, np.arange(100) * 0.01)
    assert all(c.startswith("walk_") and c.endswith(".json") for c in ds.controller.values.tolist())
    # the population table travels with the data
    pop = _population()
    np.testing.assert_allclose(ds.height.values, pop.height.values)
    assert ds.sex.values.tolist() == pop.sex.values.tolist()
    # 1 s is too short for gait labels: NaN, not an error
    assert not ds.labels_valid.values.any() and np.isnan(ds.walking_speed.values).all()
    assert verify_population(out)["bad"] == {}
    assert json.loads(ds.attrs["settings"])["duration"] == 1.0


def test_fallen_subject_excluded(store):
    out, summary = store
    full = load_population(out, kept_only=False)
    assert bool(full.fell.values[1]) and not bool(full.kept.values[1])
    assert float(full.walked_s.values[1]) < 1.0
    kept = load_population(out)
    assert 1 not in kept.subject.values.tolist()
    assert kept.sizes["subject"] == int(full.kept.values.sum()) == summary.attrs["n_kept"]
    assert kept.attrs["n_subjects_total"] == 4


def test_resume_skips_completed_chunks(store, counting):
    out, _ = store
    summary = generate(_population(), out, duration=1.0, chunk=2, scheduler="synchronous", progress=False)
    assert counting == []
    assert summary.attrs["chunks_skipped"] == 2 and summary.attrs["chunks_generated"] == 0


def test_other_settings_are_refused(store):
    out, _ = store
    with pytest.raises(ParameterError, match="duration"):
        generate(_population(), out, duration=2.0, chunk=2, scheduler="synchronous", progress=False)
    with pytest.raises(ParameterError, match="population_sha256"):
        generate(sample_population(4, seed=4), out, duration=1.0, chunk=2, scheduler="synchronous", progress=False)


def test_corrupt_chunk_is_detected_and_regenerated(store, counting, tmp_path):
    src, _ = store
    out = tmp_path / "copy.zarr"
    shutil.copytree(src, out)
    before = load_population(out, kept_only=False).q.values
    victim = sorted(p for p in (out / "chunk_00001" / "q").iterdir() if not p.name.startswith("."))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2: len(data) // 2 + 8] = b"\x00garbage"
    victim.write_bytes(bytes(data))
    with pytest.raises(TwinError, match=r"chunk_00001 corrupt: checksum mismatch in q/.*resume=True"):
        verify_population(out)
    report = verify_population(out, raise_error=False)
    assert report["ok"] == ["chunk_00000"] and list(report["bad"]) == ["chunk_00001"]
    with pytest.warns(TwinWarning, match="regenerating 1 chunk"):
        summary = generate(_population(), out, duration=1.0, chunk=2, scheduler="synchronous", progress=False)
    assert counting == [[2, 3]]
    regenerated = json.loads(summary.attrs["chunks_regenerated"])
    assert len(regenerated) == 1 and regenerated[0].startswith("chunk_00001: corrupt (checksum mismatch in q/")
    assert verify_population(out)["bad"] == {}
    after = load_population(out, kept_only=False).q.values
    np.testing.assert_array_equal(after, before)  # the same chunk an uninterrupted run writes


def test_unfinished_chunk_is_regenerated(tmp_path, counting):
    pop = sample_population(2, seed=1)
    out = tmp_path / "p.zarr"
    generate(pop, out, duration=0.1, chunk=1, scheduler="synchronous", progress=False)
    assert len(counting) == 2
    (out / "_manifest" / "chunk_00000.json").unlink()  # as if interrupted between data and manifest
    with pytest.raises(TwinError, match="chunk_00000 missing or unfinished"):
        load_population(out)
    assert verify_population(out, raise_error=False)["bad"]["chunk_00000"].startswith("incomplete")
    with pytest.warns(TwinWarning, match="chunk_00000: incomplete"):
        summary = generate(pop, out, duration=0.1, chunk=1, scheduler="synchronous", progress=False)
    assert counting[2:] == [[0]] and summary.attrs["chunks_skipped"] == 1
    assert load_population(out, kept_only=False).sizes["subject"] == 2


def test_errors(tmp_path):
    pop = sample_population(2, seed=0)
    with pytest.raises(ParameterError, match="scheduler="):
        generate(pop, tmp_path / "a.zarr", duration=0.05, scheduler=42, progress=False)
    with pytest.raises(ParameterError, match="chunk="):
        generate(pop, tmp_path / "b.zarr", chunk=0, scheduler="synchronous", progress=False)
    with pytest.raises(ParameterError, match="pop"):
        generate(pop.drop_vars("height"), tmp_path / "c.zarr", scheduler="synchronous", progress=False)
    with pytest.raises(ReadError, match="no such population store"):
        load_population(tmp_path / "nothing.zarr")
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(ReadError):
        generate(pop, other, duration=0.05, resume=False, scheduler="synchronous", progress=False)
    assert (other / "precious.txt").exists()


def test_local_cluster_two_workers(tmp_path):
    pytest.importorskip("dask.distributed")
    pop = sample_population(2, seed=5)
    t0 = time.perf_counter()
    summary = generate(pop, tmp_path / "lc.zarr", duration=0.1, chunk=1, n_workers=2, progress=False)
    assert "LocalCluster(2 workers" in summary.attrs["scheduler"]
    assert summary.attrs["chunks_generated"] == 2
    sync = generate(pop, tmp_path / "sync.zarr", duration=0.1, chunk=1, scheduler="synchronous", progress=False)
    a = load_population(tmp_path / "lc.zarr", kept_only=False).q.values
    b = load_population(tmp_path / "sync.zarr", kept_only=False).q.values
    np.testing.assert_array_equal(a, b)
    assert sync.attrs["n_subjects"] == 2
    assert time.perf_counter() - t0 < 60


@pytest.mark.slow
def test_walking_subject_gets_gait_labels(tmp_path):
    """A subject like the controllers' own body (1.80 m, 75.2 kg man, full strength) walks 4 s and is labelled.

    (3 s gave no full stride after the first second with the session-3 default controller.)
    """
    pop = sample_population(1, seed=0, impairment_rate=0.0)
    for name, value in (("height", 1.8), ("mass", 75.1646), ("strength_r", 1.0), ("strength_l", 1.0),
                        ("target_speed", 1.3)):
        pop[name].values[0] = value
    pop["sex"].values[0] = "male"
    summary = generate(pop, tmp_path / "w.zarr", duration=4.0, scheduler="synchronous", progress=False)
    assert bool(summary.kept.values[0]) and bool(summary.labels_valid.values[0])
    speed = float(summary.walking_speed.sel(label_side="overall").values[0])
    cadence = float(summary.cadence.sel(label_side="overall").values[0])
    assert 0.8 < speed < 1.8 and 80 < cadence < 140
    curve = summary.joint_angle.sel(label_side="right", joint="knee_angle").values[0]
    assert np.isfinite(curve).all() and np.ptp(curve) > np.radians(20)


def test_a_chunk_with_two_tendon_models_runs_one_batch_each():
    """Subjects whose controllers were made for different tendon models are simulated with their own model."""
    pop = sample_population(2, seed=5)
    orders, docs, _ = gen_module._controllers(pop["target_speed"].values)
    names = [o[0] for o in orders]
    vec = np.stack([docs[n][0] for n in names])
    ini = np.stack([docs[n][1] for n in names])
    run = lambda rigid: gen_module._simulate_chunk(pop, vec, ini, duration=0.2, rigid_tendon=rigid)  # noqa: E731
    mixed, rigid, compliant = run([True, False]), run(True), run(False)
    np.testing.assert_allclose(mixed.q.isel(subject=0), rigid.q.isel(subject=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mixed.q.isel(subject=1), compliant.q.isel(subject=1), rtol=1e-5, atol=1e-6)
    assert np.abs(rigid.q.isel(subject=1) - compliant.q.isel(subject=1)).max() > 1e-4


def test_a_subject_that_falls_is_retried_with_the_next_controller():
    """A subject whose first controller drops it is simulated again with the next one; the stored controller
    and the number of tries say which carried it."""
    pop = sample_population(2, seed=5, impairment_rate=0.0)
    _, docs, _ = gen_module._controllers(pop["target_speed"].values)
    good = docs["walk_default.json"]
    from twin.control.reflex import ReflexController

    lo = ReflexController.bounds()[:, 0]  # every gain and pre-stimulation at its lower bound: collapses
    limp = (lo.copy(), good[1], good[2], good[3])
    library = {"limp": limp, "walk_default.json": good}
    ds = gen_module._simulate_subjects(pop, library, [["limp", "walk_default.json"], ["walk_default.json"]],
                                       duration=1.5)
    assert ds.controller.values.tolist() == ["walk_default.json", "walk_default.json"]
    assert ds.controller_tries.values.tolist() == [2, 1]
    assert not ds.fell.values.any()
    alone = gen_module._simulate_subjects(pop.isel(subject=[0]), library, [["limp"]], duration=1.5)
    assert bool(alone.fell.values[0]) and alone.controller_tries.values.tolist() == [1]
    again = gen_module._simulate_subjects(pop.isel(subject=[0]), library, [["walk_default.json"]], duration=1.5)
    np.testing.assert_array_equal(ds.q.isel(subject=0).values, again.q.isel(subject=0).values)
