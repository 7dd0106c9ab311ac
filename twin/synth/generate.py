"""Mass-produce synthetic gaits: a sampled population simulated in engine batches into a resumable zarr store.

:func:`generate` simulates every subject of a population
(:func:`twin.synth.sample_population`) walking for ``duration`` seconds and
writes their joint angles, ground reaction forces, muscle activations and
gait labels to a zarr store, ``chunk`` subjects at a time; each chunk is one
batch of the engine (:func:`twin.scenarios.engine_inputs` of the chunk's
subjects, one :class:`twin.control.reflex.ReflexController` with their
excitation scales and stretch gains, :func:`twin.control.sim.rollout`) and
one Dask task. :func:`load_population` reads the store back as one Dataset,
:func:`verify_population` checks it.

Controller: each subject walks with the shipped controller preferred for
its ``target_speed`` (:func:`twin.twin.controller_order`, speed rounded to
0.01 m/s), started on that controller's gait cycle (its ``initial_state``,
placed for the subject's body by
:func:`twin.control.sim.body_start_state`); a subject that falls is run
again with the next controller (nearest speed first) until one walks or
all have been tried; why, see :mod:`twin.synth.population`. Subjects that
fall with every controller get ``kept = False`` and NaN labels;
:func:`load_population` leaves them out unless ``kept_only=False``.

Store layout (zarr format 2, written by xarray)
-----------------------------------------------
::

    OUT/                        root group: the population table (dim subject) and attrs
                                  format, settings (JSON), controllers (JSON)
    OUT/chunk_00000/            one group per chunk (consolidated metadata): all data of
    OUT/chunk_00001/ ...          subjects [k * chunk, (k + 1) * chunk)
    OUT/_manifest/chunk_00000.json   sha256 of every file of the chunk, written after it
    OUT/_work/                  temporaries

A chunk is written into ``_work`` and renamed into place, then its manifest
is written (atomically, temporary file + rename): a chunk without a
manifest is unfinished, one whose files no longer match their checksums is
corrupt. With ``resume=True`` (default) :func:`generate` skips chunks whose
manifest and checksums agree and regenerates the others, reporting each
(warning and ``attrs["chunks_regenerated"]`` of the summary). A chunk's
result depends only on the population rows in it and the settings, so a
regenerated chunk is the one an uninterrupted run would have written.

Workers write their chunk directly (nothing but a small summary goes back
to the client), so with a cluster on several machines ``OUT`` must be on a
filesystem every worker sees. One :func:`generate` at a time per store.
The LocalCluster starts its workers with ``spawn``: in a script, call
:func:`generate` under ``if __name__ == "__main__":``.

(``twin.synth.generate`` is the function, exported by the package; the
module is ``importlib.import_module("twin.synth.generate")``.)

Variables of a chunk (dim ``subject`` first)
--------------------------------------------
* the population table (:mod:`twin.synth.population`), ``controller``
  (file name of the controller used) and ``controller_tries`` (how many
  were tried, the last kept);
* ``q(time, coordinate)`` [rad or m], ``grf(time, side, axis)`` [N],
  ``activation(time, muscle)`` [1]: sampled at 100 Hz (every 10th engine
  step of 1 ms), ``time`` from 0 to ``duration``; samples after a fall
  repeat the frozen state (as :func:`twin.control.sim.rollout_dataset`);
* ``fell``, ``fell_time`` [s], ``walked_s`` [s], ``distance`` [m],
  ``mean_speed`` [m/s] (forward pelvis speed after 2 s) from the rollout;
  ``kept`` (did not fall);
* labels of :func:`twin.synth.labels.gait_labels` (``walking_speed``,
  ``cadence``, ``stride_time``, ``stride_length``, ``step_time``,
  ``step_length``, ``stance_pct``, ``swing_pct``, ``double_support_pct``,
  ``n_strides`` on dim ``label_side`` = left, right, overall;
  ``step_time_asymmetry``; ``joint_angle(label_side, joint, cycle_pct)``;
  ``labels_valid``): NaN for fallen subjects and where no full stride per
  side was found (e.g. runs shorter than about 3 s).

Examples
--------
>>> import tempfile, os
>>> from twin.synth import sample_population, generate, load_population
>>> pop = sample_population(2, seed=0)
>>> out = os.path.join(tempfile.mkdtemp(), "pop.zarr")
>>> summary = generate(pop, out, duration=0.2, chunk=2, scheduler="synchronous", progress=False)
>>> ds = load_population(out, kept_only=False)
>>> ds.q.dims, ds.sizes["time"], ds.grf.attrs["units"]
(('subject', 'time', 'coordinate'), 20, 'N')
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import DataError, ParameterError, ReadError, TwinError, TwinWarning, check_param

__all__ = ["generate", "load_population", "verify_population", "FORMAT", "RECORD_EVERY"]

#: Format tag in the store's root attrs.
FORMAT = "twin.synth.population-store/1"
#: Engine steps (1 ms) between recorded samples: 100 Hz.
RECORD_EVERY = 10
_MANIFEST = "_manifest"
_WORK = "_work"

_ROLLOUT_VARS = {
    "fell": ("1", "fell (or failed numerically) during the run"),
    "fell_time": ("s", "time of the fall (NaN: never)"),
    "walked_s": ("s", "time walked before falling"),
    "distance": ("m", "forward pelvis displacement"),
    "mean_speed": ("m/s", "mean forward pelvis speed after 2 s (rollout)"),
}


def _chunk_name(k: int) -> str:
    return f"chunk_{k:05d}"


# ----------------------------------------------------------------------------- hashing


def _population_sha256(pop: xr.Dataset) -> str:
    """sha256 of the population's values (strings as text, numbers as float64), variable names sorted."""
    h = hashlib.sha256()
    h.update(np.asarray(pop["subject"].values, dtype=np.int64).tobytes())
    for name in sorted(map(str, pop.data_vars)):
        v = np.asarray(pop[name].values)
        h.update(name.encode())
        if v.dtype.kind in "USO":
            h.update("\x1f".join(map(str, v.ravel().tolist())).encode())
        else:
            h.update(np.ascontiguousarray(v, dtype=np.float64).tobytes())
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tree_sha256(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder``, sorted."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): _file_sha256(p) for p in files}


def _combined(files: dict[str, str]) -> str:
    return hashlib.sha256("\n".join(f"{k} {v}" for k, v in sorted(files.items())).encode()).hexdigest()


def _write_json_atomic(path: Path, doc: dict) -> None:
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ----------------------------------------------------------------------------- controllers


def _controllers(speeds: np.ndarray) -> tuple[list[list[str]], dict[str, tuple], dict[str, str]]:
    """Per subject the shipped controllers in the order to try them (:func:`twin.twin.controller_order` of its
    speed rounded to 0.01 m/s), (vector, initial pose, rigid tendons, gait state or None) by name, sha256s."""
    from ..control.sim import INIT_PARAMETERS
    from ..twin import _shipped_docs, controller_order

    shipped = _shipped_docs()
    docs: dict[str, tuple] = {}
    shas: dict[str, str] = {}
    for doc in shipped:
        name = Path(doc["path"]).name
        init = doc.get("initial")
        init = np.array([p[1] for p in INIT_PARAMETERS]) if init is None else np.asarray(init, float)
        docs[name] = (np.asarray(doc["vector"], dtype=float), init, bool(doc["rigid_tendon"]),
                      doc.get("initial_state") or None)
        shas[name] = _file_sha256(Path(doc["path"]))
    cache: dict[float, list[str]] = {}
    orders = []
    for v in np.asarray(speeds, dtype=float):
        key = round(float(v), 2)
        if key not in cache:
            cache[key] = [Path(d["path"]).name for d in controller_order(key, shipped)]
        orders.append(cache[key])
    return orders, docs, shas


# ----------------------------------------------------------------------------- one chunk


def _label_joints(names: list[str], types: list[str]) -> list[str]:
    """The joints of :func:`twin.synth.labels.gait_labels`' curves: rotational coordinates without side suffix."""
    out: list[str] = []
    for c, kind in zip(names, types):
        if kind == "rotational":
            base = c[:-2] if c.endswith(("_r", "_l")) else c
            if base not in out:
                out.append(base)
    return out


def _fixed_length(a: np.ndarray, n: int) -> np.ndarray:
    """``a`` [B, T, ...] cut or padded (repeating its last sample) to T = n."""
    if a.shape[1] >= n:
        return a[:, :n]
    pad = np.repeat(a[:, -1:], n - a.shape[1], axis=1)
    return np.concatenate([a, pad], axis=1)


def _simulate_chunk(pop: xr.Dataset, vectors: np.ndarray, initials: np.ndarray, *, duration: float,
                    controllers: list[str] | None = None, compile: bool = False,
                    rigid_tendon: Any = True, gait_states: list | None = None) -> xr.Dataset:
    """Simulate the subjects of ``pop`` (one engine batch per tendon model) and return their data and labels
    (dim subject).

    ``vectors`` [n, P] and ``initials`` [n, 8] are each subject's controller
    parameters and initial pose; ``controllers`` their names (stored);
    ``rigid_tendon`` the tendon model of each subject's controller (a bool
    for all, or [n]); ``gait_states`` each subject's controller's state on
    its gait cycle (``initial_state``; None: a standing start from
    ``initials``), placed for the subject's body by
    :func:`twin.control.sim.body_start_state`.
    """
    import torch

    from ..control.reflex import ReflexController
    from ..control.sim import DT, body_start_state, initial_walking_state, rollout, rollout_dataset
    from ..scenarios import engine_inputs
    from .labels import LABELS, gait_labels
    from .population import subject

    n = pop.sizes["subject"]
    # the bodies carry the Plug-in-Gait markers: gait_labels places heels and pelvis with them
    subjects = [subject(pop, i, marker_sets=("plug_in_gait",)) for i in range(n)]
    rigid = np.broadcast_to(np.asarray(rigid_tendon, dtype=bool), (n,))
    vectors, initials = np.asarray(vectors, dtype=float), np.asarray(initials, dtype=float)
    parts, order = [], []
    for model in sorted(set(rigid.tolist())):  # controllers made for different tendon models: one batch each
        idx = np.flatnonzero(rigid == model)
        params, exc, gain = engine_inputs([subjects[i] for i in idx], dtype=torch.float32, rigid_tendon=model)
        ctrl = ReflexController(params, dt=DT, excitation_scale=exc, stretch_gain=gain)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = initial_walking_state(params, initials[idx])
            if gait_states is not None and any(gait_states[i] is not None for i in idx):
                start = body_start_state(params, [gait_states[i] for i in idx], fallback=start)
            r = rollout(params, ctrl, ctrl.init(len(idx), vectors[idx]), start,
                        float(duration), record_every=RECORD_EVERY, compile=compile)
        parts.append(rollout_dataset(r, dim="batch"))
        order.extend(idx.tolist())
    sim = parts[0] if len(parts) == 1 else xr.concat(parts, "batch").isel(batch=np.argsort(order))
    n_steps = int(round(duration / DT))
    n_time = (n_steps + RECORD_EVERY - 1) // RECORD_EVERY
    coords = [str(c) for c in sim.coordinate.values]
    types = [str(c) for c in sim.coordinate_type.values]
    joints = _label_joints(coords, types)
    fell = np.asarray(sim.fell.values, dtype=bool)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lab = gait_labels(sim, body=[s.body for s in subjects])
        lab = lab.rename(side="label_side").drop_vars("batch", errors="ignore")
        if "joint_angle" in lab:
            lab = lab.reindex(joint=joints)
        note = lab.attrs.get("invalid", "")
    except DataError as err:  # too short for labels: all NaN
        lab, note = None, str(err)
    sides = ["left", "right", "overall"]
    pct = np.linspace(0.0, 100.0, 101)

    def label(name: str, shape: tuple) -> np.ndarray:
        if lab is not None and name in lab:
            da = lab[name]
            if "label_side" in da.dims:
                da = da.sel(label_side=sides)
            a = np.asarray(da.values, dtype=float)
        else:
            a = np.full((n,) + shape, np.nan)
        a = a.copy()
        a[fell] = np.nan
        return a

    t = np.arange(n_time) * RECORD_EVERY * DT
    f32 = np.float32
    data: dict[str, Any] = {}
    for name in pop.data_vars:
        data[name] = pop[name].variable
    data["controller"] = (("subject",), np.array(controllers or [""] * n, dtype=str),
                          {"units": "1", "long_name": "shipped controller used (data/controllers)"})
    data["q"] = (("subject", "time", "coordinate"), _fixed_length(sim.q.values, n_time).astype(f32),
                 {"units": "rad or m (see coordinate_type)", "long_name": "generalized coordinate"})
    data["grf"] = (("subject", "time", "side", "axis"), _fixed_length(sim.grf.values, n_time).astype(f32),
                   {"units": "N", "long_name": "ground reaction force per foot"})
    data["activation"] = (("subject", "time", "muscle"), _fixed_length(sim.activation.values, n_time).astype(f32),
                          {"units": "1", "long_name": "muscle activation"})
    values = {"fell": fell, "fell_time": sim.fell_time.values, "walked_s": sim.walked_s.values,
              "distance": sim.distance.values, "mean_speed": sim.speed.values}
    for name, (units, long_name) in _ROLLOUT_VARS.items():
        data[name] = (("subject",), np.asarray(values[name]), {"units": units, "long_name": long_name})
    data["kept"] = (("subject",), ~fell, {"units": "1", "long_name": "kept: walked the whole run without falling"})
    for name, (units, long_name) in LABELS.items():
        data[name] = (("subject", "label_side"), label(name, (3,)), {"units": units, "long_name": long_name})
    data["step_time_asymmetry"] = (("subject",), label("step_time_asymmetry", ()),
                                   {"units": "%", "long_name": "step time symmetry index 200 (L - R) / (L + R)"})
    data["n_strides"] = (("subject", "label_side"), label("n_strides", (3,)),
                         {"units": "1", "long_name": "number of complete strides"})
    data["joint_angle"] = (("subject", "label_side", "joint", "cycle_pct"), label("joint_angle", (3, len(joints), 101)),
                           {"units": "rad", "long_name": "mean joint angle over the gait cycle"})
    valid = np.asarray(lab["valid"].values, dtype=bool) if lab is not None else np.zeros(n, bool)
    data["labels_valid"] = (("subject",), valid & ~fell,
                            {"units": "1", "long_name": "labels computed (no fall, a full stride per side)"})
    ds = xr.Dataset(
        data,
        coords={"subject": pop["subject"].variable,
                "time": ("time", t, {"units": "s", "long_name": "time"}),
                "coordinate": coords, "coordinate_type": ("coordinate", types),
                "muscle": [str(m) for m in sim.muscle.values], "side": [str(s) for s in sim.side.values],
                "axis": [str(a) for a in sim.axis.values], "label_side": sides, "joint": joints,
                "cycle_pct": ("cycle_pct", pct, {"units": "%", "long_name": "percent of gait cycle"})},
        attrs={"kind": "synthetic_population_chunk", "rate": 1.0 / (RECORD_EVERY * DT), "duration_s": float(duration),
               "labels_note": note})
    return ds


def _simulate_subjects(pop: xr.Dataset, library: dict[str, tuple], orders: list[list[str]], *, duration: float,
                       compile: bool = False) -> xr.Dataset:
    """Simulate the subjects of ``pop`` with the first controller of their ``orders``; a subject that falls gets
    the first of its other controllers that walks it (the last one if every one falls).

    ``library`` maps a controller name to (vector, initial pose, rigid
    tendons, gait state) as :func:`_controllers`. The shipped controllers
    were each optimised on a few bodies; a body one of them cannot carry
    another often can (the choice per subject is stored in ``controller``,
    its position in the subject's order in ``controller_tries``).

    Two engine batches: every subject with its first controller, then every
    faller with all its remaining controllers at once (the eager engine's
    cost per step hardly grows with the batch, so one batch of all retries
    costs about what one retry would; the result is the same as trying them
    in turn).
    """
    n = pop.sizes["subject"]
    tries = np.ones(n, dtype=np.int16)

    def run(idx: np.ndarray, names: list[str]) -> xr.Dataset:
        return _simulate_chunk(pop.isel(subject=idx), np.stack([library[m][0] for m in names]),
                               np.stack([library[m][1] for m in names]), duration=duration, controllers=names,
                               compile=compile, rigid_tendon=np.array([library[m][2] for m in names]),
                               gait_states=[library[m][3] for m in names])

    first = run(np.arange(n), [o[0] for o in orders])
    fallers = [i for i in np.flatnonzero(np.asarray(first.fell.values, dtype=bool)) if len(orders[i]) > 1]
    if not fallers:
        out = first
    else:
        idx = np.array([i for i in fallers for _ in orders[i][1:]], dtype=int)
        names = [m for i in fallers for m in orders[i][1:]]
        retry = run(idx, names)
        fell = np.asarray(retry.fell.values, dtype=bool)
        chosen = {}  # faller -> its row in retry
        pos = 0
        for i in fallers:
            k = len(orders[i]) - 1
            walks = np.flatnonzero(~fell[pos:pos + k])
            j = int(walks[0]) if walks.size else k - 1  # the first that walks, else the last tried
            chosen[i] = pos + j
            tries[i] = j + 2
            pos += k
        parts = [retry.isel(subject=[chosen[i]]) if i in chosen else first.isel(subject=[i]) for i in range(n)]
        out = xr.concat(parts, "subject", data_vars="minimal", coords="minimal", compat="override",
                        combine_attrs="override")
    out["controller_tries"] = (("subject",), tries,
                               {"units": "1", "long_name": "position of the kept controller in the subject's "
                                                          "order (the last one if every one fell)"})
    return out


def _chunk_task(spec: dict) -> dict:
    """One Dask task: simulate one chunk and write it (data, then manifest). Returns a small summary."""
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    ds = _simulate_subjects(spec["pop"], spec["library"], spec["orders"], duration=spec["duration"],
                            compile=spec["compile"])
    ds.attrs["controllers_used"] = json.dumps(sorted(set(str(c) for c in ds.controller.values)))
    sim_wall = time.perf_counter() - t0
    out, k = Path(spec["out"]), int(spec["chunk"])
    name = _chunk_name(k)
    if not out.is_dir():
        raise TwinError(f"{_chunk_name(k)}: the store folder {out} does not exist on this worker; with a cluster on "
                        "several machines put the store on a filesystem every worker sees")
    work = out / _WORK
    work.mkdir(exist_ok=True)
    (out / _MANIFEST).mkdir(exist_ok=True)
    tmp = work / f"{name}.{uuid.uuid4().hex[:8]}"
    try:
        ds.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
        files = _tree_sha256(tmp)
        manifest = out / _MANIFEST / f"{name}.json"
        if manifest.exists():
            manifest.unlink()
        final = out / name
        if final.exists():
            old = work / f"{name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    fell = np.asarray(ds.fell.values, dtype=bool)
    summary = {"chunk": k, "name": name, "subjects": [int(ds.subject.values[0]), int(ds.subject.values[-1]) + 1],
               "n": int(ds.sizes["subject"]), "n_fell": int(fell.sum()), "n_kept": int((~fell).sum()),
               "n_labels_valid": int(ds.labels_valid.values.sum()), "simulate_s": round(sim_wall, 3),
               "wall_s": round(time.perf_counter() - t0, 3), "settings_sha256": spec["settings_sha256"]}
    _write_json_atomic(out / _MANIFEST / f"{name}.json",
                       dict(summary, files=files, sha256=_combined(files),
                            created=time.strftime("%Y-%m-%dT%H:%M:%S")))
    return summary


# ----------------------------------------------------------------------------- store


def _read_root(path: Path) -> dict:
    """Root attrs of a store made by :func:`generate` (ReadError when it is not one)."""
    if not path.exists():
        raise ReadError(path, "no such population store; make it with twin.synth.generate (or `twin synth`)")
    try:
        with xr.open_zarr(path, consolidated=True) as root:
            attrs = dict(root.attrs)
    except Exception as err:  # noqa: BLE001 -- any failure means: not a readable store
        raise ReadError(path, f"cannot be read as a zarr store ({type(err).__name__}: {err}); it is not a "
                        "population store or its root is damaged -- regenerate it with resume=False") from None
    if attrs.get("format") != FORMAT:
        raise ReadError(path, f"not a twin synthetic population store (format {attrs.get('format')!r}, expected "
                        f"{FORMAT!r})")
    attrs["settings"] = json.loads(attrs["settings"])
    return attrs


def _chunk_status(path: Path, k: int, settings_sha: str | None = None) -> tuple[str, str]:
    """("ok" | "missing" | "incomplete" | "corrupt", detail) of chunk ``k``."""
    name = _chunk_name(k)
    folder, manifest = path / name, path / _MANIFEST / f"{name}.json"
    if not manifest.exists():
        return ("incomplete", "written but its manifest is missing (interrupted)") if folder.exists() else \
            ("missing", "not generated yet")
    if not folder.exists():
        return "missing", "its data folder is missing (manifest present)"
    try:
        doc = json.loads(manifest.read_text())
        expected = dict(doc["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return "corrupt", "its manifest is unreadable"
    if settings_sha is not None and doc.get("settings_sha256") != settings_sha:
        return "corrupt", "made with other settings"
    found = _tree_sha256(folder)
    if found == expected:
        return "ok", ""
    lost = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    changed = sorted(f for f in set(found) & set(expected) if found[f] != expected[f])
    parts = []
    if changed:
        parts.append(f"checksum mismatch in {', '.join(changed[:3])}" + (" ..." if len(changed) > 3 else ""))
    if lost:
        parts.append(f"missing files {', '.join(lost[:3])}" + (" ..." if len(lost) > 3 else ""))
    if extra:
        parts.append(f"unexpected files {', '.join(extra[:3])}" + (" ..." if len(extra) > 3 else ""))
    return "corrupt", "; ".join(parts)


def _settings_sha(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _check_population(pop: Any) -> xr.Dataset:
    from .population import _VARS

    if not isinstance(pop, xr.Dataset) or "subject" not in pop.dims:
        raise ParameterError("pop must be a population Dataset from twin.synth.sample_population (dim 'subject')")
    missing = [k for k in _VARS if k not in pop.data_vars]
    if missing:
        raise ParameterError(f"pop lacks {', '.join(missing)}; make it with twin.synth.sample_population")
    if pop.sizes["subject"] < 1:
        raise ParameterError("pop has no subjects")
    ids = np.asarray(pop["subject"].values)
    if len(np.unique(ids)) != len(ids):
        raise ParameterError("pop has repeated subject ids; give each subject its own id")
    return pop


# ----------------------------------------------------------------------------- running the tasks


def _run(specs: list[dict], scheduler: Any, n_workers: int | None, progress: bool) -> tuple[list, dict, str]:
    """Run the chunk tasks; returns (summaries, {chunk: error text}, description of the scheduler)."""
    from tqdm.auto import tqdm

    done: list[dict] = []
    errors: dict[int, str] = {}
    bar = tqdm(total=sum(s["pop"].sizes["subject"] for s in specs), desc="synth", unit="subject",
               disable=not progress, dynamic_ncols=True)
    try:
        if isinstance(scheduler, str) and scheduler == "synchronous":
            for spec in specs:
                try:
                    done.append(_chunk_task(spec))
                except TwinError as err:
                    errors[spec["chunk"]] = f"{type(err).__name__}: {err}"
                bar.update(spec["pop"].sizes["subject"])
            return done, errors, "synchronous (in-process)"
        from dask.distributed import Client, LocalCluster, as_completed

        cluster = client = None
        own = False
        if scheduler is None:
            import logging

            workers = n_workers or max(1, min(os.cpu_count() or 1, len(specs)))
            try:
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
            except Exception as err:  # noqa: BLE001
                raise TwinError(f"cannot start a Dask LocalCluster of {workers} worker(s) ({type(err).__name__}: "
                                f"{err}); in a script, call generate() under `if __name__ == \"__main__\":` (the "
                                "workers are started with spawn and re-import the script), or pass "
                                "scheduler='synchronous'") from None
            client = Client(cluster)
            own = True
            what = f"LocalCluster({workers} workers x 1 thread)"
        elif isinstance(scheduler, Client):
            client = scheduler
            what = f"distributed Client {client.scheduler.address}"
        elif isinstance(scheduler, str):
            try:
                client = Client(scheduler, timeout="10s")
            except Exception as err:  # noqa: BLE001
                raise TwinError(f"cannot connect to the Dask scheduler at scheduler={scheduler!r} "
                                f"({type(err).__name__}: {err}); start one (`dask scheduler` and `dask worker "
                                f"ADDR --nthreads 1`), or pass scheduler=None for a LocalCluster") from None
            own = True
            what = f"Dask scheduler {scheduler}"
        else:
            raise ParameterError(f"scheduler={scheduler!r} must be None (LocalCluster), 'synchronous', a scheduler "
                                 "address such as 'tcp://127.0.0.1:8786', or a dask.distributed.Client")
        try:
            tag = uuid.uuid4().hex[:8]
            futures, by_key = [], {}
            for spec in specs:
                fut = client.submit(_chunk_task, spec, key=f"twin-synth-{_chunk_name(spec['chunk'])}-{tag}",
                                    pure=False, retries=0)
                futures.append(fut)
                by_key[fut.key] = spec
            for fut in as_completed(futures):
                spec = by_key[fut.key]
                try:
                    done.append(fut.result())
                except Exception as err:  # noqa: BLE001 -- report per chunk, keep the others
                    errors[spec["chunk"]] = f"{type(err).__name__}: {err}"
                bar.update(spec["pop"].sizes["subject"])
        finally:
            if own:
                client.close()
                if cluster is not None:
                    cluster.close()
        return done, errors, what
    finally:
        bar.close()


# ----------------------------------------------------------------------------- public API


def generate(pop: xr.Dataset, out: str | os.PathLike, *, duration: float = 10.0, chunk: int = 64,
             scheduler: Any = None, n_workers: int | None = None, resume: bool = True, progress: bool = True,
             compile: bool = False) -> xr.Dataset:
    """Simulate every subject of ``pop`` and write the population store ``out`` (layout in the module docstring).

    Parameters
    ----------
    pop : xarray.Dataset
        From :func:`twin.synth.sample_population`.
    out : path
        The zarr store (a folder, e.g. ``pop.zarr``); its parent must exist.
    duration : float, keyword-only
        Simulated seconds per subject, in [0.05, 600]. Labels need a full
        stride per side after the first second (about 3 s or more).
    chunk : int, keyword-only
        Subjects per chunk = per engine batch = per Dask task.
    scheduler : None, "synchronous", str or dask.distributed.Client, keyword-only
        None (default): a ``LocalCluster(n_workers, threads_per_worker=1)``
        made for this call; ``"synchronous"``: in this process, no Dask; an
        address (``"tcp://host:8786"``): that cluster; or a Client.
    n_workers : int, keyword-only
        LocalCluster workers (default: CPU count, at most one per chunk).
    resume : bool, keyword-only
        True: keep the chunks already complete and intact, (re)generate the
        others. False: delete an existing store at ``out`` and start again.
    progress : bool, keyword-only
        A tqdm bar (subjects done).
    compile : bool, keyword-only
        ``torch.compile`` the closed loop in each worker (about 3 min of
        compilation per batch size the first time, then about 10 s per
        worker from inductor's cache; pays off for long runs).

    Returns
    -------
    xarray.Dataset
        The label table of the whole store (every variable without a
        ``time`` dim, all subjects, ``kept`` included), loaded; attrs
        ``path``, ``n_subjects``, ``n_kept``, ``n_fell``,
        ``kept_fraction``, ``chunks``, ``chunks_generated``,
        ``chunks_skipped``, ``chunks_regenerated`` (JSON list of
        ``"chunk_00003: corrupt (...)"``), ``wall_s``, ``simulated_s``
        (subject-seconds simulated by this call), ``scheduler``.

    Raises
    ------
    ParameterError
        Bad arguments; ``out`` holds something else (another store's
        settings, or not a population store).
    TwinError
        Chunks failed (named, with their error); the completed ones are
        kept: rerun with ``resume=True``.

    Examples
    --------
    See the module docstring.
    """
    t_start = time.perf_counter()
    pop = _check_population(pop)
    check_param("duration", duration, minimum=0.05, maximum=600.0, types=(int, float))
    check_param("chunk", chunk, minimum=1, types=(int, np.integer))
    if n_workers is not None:
        check_param("n_workers", n_workers, minimum=1, types=(int, np.integer))
    check_param("resume", resume, types=bool)
    if not isinstance(out, (str, os.PathLike)):
        raise ParameterError(f"out={out!r} must be a path to a zarr store folder (e.g. 'pop.zarr')")
    from ..control.sim import DT

    path = Path(out)
    n = pop.sizes["subject"]
    orders, docs, shas = _controllers(pop["target_speed"].values)
    settings = {"format": FORMAT, "n_subjects": int(n), "chunk": int(chunk), "duration": float(duration),
                "record_every": RECORD_EVERY, "dt": DT, "population_sha256": _population_sha256(pop),
                "controllers": shas, "start": "gait_state", "controller_choice": "in speed order until one walks"}
    settings_sha = _settings_sha(settings)
    n_chunks = math.ceil(n / chunk)
    if path.exists() and not resume:
        if any(path.iterdir()):
            _read_root(path)  # only ever delete a population store
        shutil.rmtree(path)
    if path.exists() and any(path.iterdir()):
        old = _read_root(path)["settings"]
        if old != settings:
            diff = [k for k in settings if old.get(k) != settings[k]]
            raise ParameterError(f"out={str(path)!r} holds a population store made with other settings "
                                 f"({', '.join(diff)} differ); pass resume=False to overwrite it, or choose another "
                                 "out")
    else:
        from ..io.store import atomic_path

        if path.exists():
            path.rmdir()
        root = pop.copy()
        root.attrs.update(format=FORMAT, settings=json.dumps(settings, sort_keys=True),
                          controllers=json.dumps(shas, sort_keys=True), n_chunks=n_chunks,
                          chunk_names=json.dumps([_chunk_name(k) for k in range(n_chunks)]))
        with atomic_path(path) as tmp:
            root.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
    specs, skipped, redo = [], [], []
    for k in range(n_chunks):
        status, detail = _chunk_status(path, k, settings_sha)
        if status == "ok":
            skipped.append(k)
            continue
        if status in ("incomplete", "corrupt") or (status == "missing" and "manifest present" in detail):
            redo.append(f"{_chunk_name(k)}: {status} ({detail})")
        sl = slice(k * chunk, min((k + 1) * chunk, n))
        rows = range(sl.start, sl.stop)
        specs.append({"out": str(path), "chunk": k, "pop": pop.isel(subject=sl).load(),
                      "library": docs, "orders": [orders[i] for i in rows],
                      "duration": float(duration), "compile": bool(compile), "settings_sha256": settings_sha})
    if redo:
        warnings.warn(f"{path}: regenerating {len(redo)} chunk(s): " + "; ".join(redo), TwinWarning, stacklevel=2)
    desc = "nothing to do"
    errors: dict[int, str] = {}
    if specs:
        _, errors, desc = _run(specs, scheduler, n_workers, progress)
    shutil.rmtree(path / _WORK, ignore_errors=True)
    if errors:
        lines = "; ".join(f"{_chunk_name(k)}: {e[:300]}" for k, e in sorted(errors.items()))
        raise TwinError(f"{len(errors)} of {n_chunks} chunk(s) failed ({lines}); the other chunks are complete: fix "
                        f"the cause and rerun twin.synth.generate(pop, {str(path)!r}, resume=True) to finish")
    summary = _label_table(path)
    summary.attrs = {k: v for k, v in _read_root(path).items() if k != "settings"}
    summary.attrs["settings"] = json.dumps(settings, sort_keys=True)
    summary.attrs["kind"] = "synthetic_population_labels"
    kept = np.asarray(summary["kept"].values, dtype=bool)
    wall = time.perf_counter() - t_start
    summary.attrs.update(path=str(path), n_subjects=int(n), n_kept=int(kept.sum()), n_fell=int((~kept).sum()),
                         kept_fraction=float(kept.mean()), chunks=n_chunks, chunks_generated=len(specs),
                         chunks_skipped=len(skipped), chunks_regenerated=json.dumps(redo), wall_s=round(wall, 3),
                         simulated_s=float(sum(s["pop"].sizes["subject"] for s in specs) * duration), scheduler=desc)
    return summary


def _open_chunks(path: Path) -> tuple[dict, list[xr.Dataset]]:
    attrs = _read_root(path)
    n_chunks = int(attrs["n_chunks"])
    bad = []
    for k in range(n_chunks):
        name = _chunk_name(k)
        if not (path / _MANIFEST / f"{name}.json").exists() or not (path / name).exists():
            bad.append(name)
    if bad:
        shown = ", ".join(bad[:10]) + (f" ... ({len(bad)} in all)" if len(bad) > 10 else "")
        raise TwinError(f"{path}: chunk(s) {shown} missing or unfinished (no manifest); rerun "
                        f"twin.synth.generate(pop, {str(path)!r}, resume=True) (or the same `twin synth` command) to "
                        "finish them")
    parts = []
    for k in range(n_chunks):
        try:
            parts.append(xr.open_zarr(path / _chunk_name(k), consolidated=True))
        except Exception as err:  # noqa: BLE001
            raise TwinError(f"{path}: {_chunk_name(k)} cannot be read ({type(err).__name__}: {err}); run "
                            "twin.synth.verify_population and rerun generate with resume=True to regenerate "
                            "it") from None
    return attrs, parts


def _concat(parts: list[xr.Dataset]) -> xr.Dataset:
    return xr.concat(parts, dim="subject", data_vars="all", coords="minimal", compat="override", join="override",
                     combine_attrs="drop_conflicts")


def _label_table(path: Path) -> xr.Dataset:
    _, parts = _open_chunks(path)
    small = [p[[v for v in p.data_vars if "time" not in p[v].dims]] for p in parts]
    out = _concat(small).load()
    for p in parts:
        p.close()
    return out


def load_population(path: str | os.PathLike, *, kept_only: bool = True) -> xr.Dataset:
    """Read a store written by :func:`generate` as one Dataset (dim ``subject``; lazy, dask-backed).

    Parameters
    ----------
    path : path
    kept_only : bool, keyword-only
        True (default): only subjects with ``kept`` (those that did not
        fall); False: all.

    Returns
    -------
    xarray.Dataset
        The chunks concatenated along ``subject`` (variables in the module
        docstring); attrs: the store's root attrs (``settings`` as JSON)
        plus ``n_subjects_total``, ``n_kept``. Call ``.load()`` to read it
        into memory.

    Raises
    ------
    ReadError
        Not a population store.
    TwinError
        Chunks missing or unfinished (named; rerun :func:`generate` with
        ``resume=True``). Checksums are not verified here: use
        :func:`verify_population`.

    Examples
    --------
    See the module docstring.
    """
    check_param("kept_only", kept_only, types=bool)
    p = Path(path)
    attrs, parts = _open_chunks(p)
    ds = _concat(parts)
    kept = np.asarray(ds["kept"].values, dtype=bool)
    attrs["settings"] = json.dumps(attrs["settings"], sort_keys=True)
    attrs.update(n_subjects_total=int(kept.size), n_kept=int(kept.sum()), kept_only=int(kept_only))
    ds.attrs = {k: v for k, v in attrs.items()}
    ds.attrs["kind"] = "synthetic_population"
    if kept_only:
        ds = ds.isel(subject=np.flatnonzero(kept))
    return ds


def verify_population(path: str | os.PathLike, *, raise_error: bool = True) -> dict:
    """Check every chunk of a store against its manifest (sha256 of each file).

    Parameters
    ----------
    path : path
    raise_error : bool, keyword-only
        True (default): raise when a chunk is missing, unfinished or
        corrupt; False: only report.

    Returns
    -------
    dict
        ``path``, ``chunks`` (number), ``ok`` (names), ``bad`` (``{name:
        "status: detail"}``).

    Raises
    ------
    ReadError
        Not a population store.
    TwinError
        (``raise_error``) Naming the bad chunks and what to do: rerun
        :func:`generate` with ``resume=True``, which regenerates exactly those.

    Examples
    --------
    >>> import tempfile, os
    >>> from twin.synth import sample_population, generate
    >>> out = os.path.join(tempfile.mkdtemp(), "p.zarr")
    >>> _ = generate(sample_population(1, seed=0), out, duration=0.1, scheduler="synchronous", progress=False)
    >>> verify_population(out)["bad"]
    {}
    """
    p = Path(path)
    attrs = _read_root(p)
    settings_sha = _settings_sha(attrs["settings"])
    ok, bad = [], {}
    for k in range(int(attrs["n_chunks"])):
        status, detail = _chunk_status(p, k, settings_sha)
        if status == "ok":
            ok.append(_chunk_name(k))
        else:
            bad[_chunk_name(k)] = f"{status}: {detail}"
    report = {"path": str(p), "chunks": int(attrs["n_chunks"]), "ok": ok, "bad": bad}
    if bad and raise_error:
        lines = "; ".join(f"{k} {v}" for k, v in bad.items())
        raise TwinError(f"{p}: {len(bad)} of {report['chunks']} chunk(s) bad ({lines}); rerun "
                        f"twin.synth.generate(pop, {str(p)!r}, resume=True) with the same population and settings "
                        "(or the same `twin synth` command) to regenerate them")
    return report
