"""Gait-parameter estimators: a small temporal CNN from a window to speed, cadence and stride length.

Architecture (:class:`TemporalCNN`)
-----------------------------------
``x(channel, sample)`` (a window of :mod:`twin.learn.data`, channels
standardised with the training set's per-channel mean and SD) goes through an
:class:`Encoder` -- a 1-D convolution to ``width`` channels, then ``depth``
residual blocks (GroupNorm, GELU, 1-D convolution of kernel ``kernel`` with
dilation 1, 2, 4, ...; the receptive field of the defaults is 125 samples,
2.5 s at 50 Hz) -- then global average and max pooling over time; the
pooled features and the standardised leg length go through an MLP head
(``hidden`` units, GELU, dropout) to the standardised targets. About 33 000
parameters with the defaults on 18 channels.

Training (:func:`train`)
------------------------
AdamW with a cosine learning-rate schedule, Smooth-L1 loss on each target
-- for keypoint windows speed and stride relative to the leg length times
the ankles' horizontal excursion in the window by default
(``target_scaling="ankle_separation"``; ``"leg_length"``: in leg lengths,
Hof 1996), the prediction multiplied back by that length -- standardised by the training labels' mean and SD
(the *label normalisation*; missing labels are masked out), mini-batches drawn with a
seeded generator; augmentation: per-channel gain (1 + N(0, 0.05)) and
Gaussian noise (``noise`` SD in standardised units). The same seed, data and
thread count give the same model.

Saved format (:meth:`Estimator.save`, :func:`load_estimator`)
-------------------------------------------------------------
A folder, written atomically (:func:`twin.io.store.atomic_path`: a temporary
folder renamed into place), holding

* ``weights.pt`` -- the PyTorch ``state_dict`` of the :class:`TemporalCNN`
  (loaded with ``torch.load(weights_only=True)``);
* ``config.json`` -- ``format`` (:data:`FORMAT`), ``twin_version``,
  ``created`` (UTC ISO time), ``architecture`` (``in_channels``, ``n_aux``,
  ``n_out``, ``width``, ``depth``, ``kernel``, ``hidden``, ``dropout``; and
  ``members`` for an :func:`ensemble` of that many networks, whose mean is
  the prediction -- its ``state_dict`` keys then start ``members.<k>.``),
  ``modality``, ``window_spec`` (:meth:`WindowSpec.to_dict`), ``channels``,
  ``targets`` with ``target_units``, ``normalisation`` (``x_mean``,
  ``x_std`` per channel, ``y_mean``, ``y_std`` per target, ``aux_mean``,
  ``aux_std`` of the leg length, ``use_leg_length``, ``target_scaling``: ``y_mean`` and
  ``y_std`` are of the learnt form of the targets), ``training`` (the
  options of :func:`train`, number of windows and groups, seconds, final
  loss, whether the encoder was pretrained) and ``history`` (loss per epoch).

Examples
--------
>>> import numpy as np, torch
>>> torch.set_num_threads(1)
>>> from twin.learn.data import WindowSpec, windows_dataset
>>> rng = np.random.default_rng(0)
>>> spec = WindowSpec("imu", duration=1.28, sensors=("tibia_r",), channels=("gyro_z",))
>>> f = rng.uniform(0.7, 1.2, 64)                                  # strides per second
>>> t = np.arange(spec.n_samples) / spec.rate
>>> x = np.sin(2 * np.pi * f[:, None] * t + rng.uniform(0, 6, (64, 1)))[:, None, :]
>>> y = np.stack([f * 1.3, 120 * f, np.full(64, 1.3)], 1)
>>> w = windows_dataset(x, spec, leg_length=0.9, y=y)
>>> est = train(w, epochs=3, seed=0)
>>> est.predict(w).y_pred.dims
('window', 'target')
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from ..errors import DataError, ParameterError, ReadError, check_param
from .data import TARGET_UNITS, TARGETS, WindowSpec, spec_of

__all__ = ["Encoder", "TemporalCNN", "EnsembleCNN", "Estimator", "train", "ensemble", "load_estimator", "FORMAT",
           "standardise", "ankle_separation", "ANKLE_SEPARATION_FLOOR"]

#: Format tag of saved estimators.
FORMAT = "twin.learn.Estimator/1"

_LEG_MEAN, _LEG_STD = 0.85, 0.08  # fallback leg-length normalisation [m] (one training leg length)


# ============================================================================================ networks


def _block(width: int, kernel: int, dilation: int):
    groups = 4 if width % 4 == 0 else 1
    return nn.Sequential(nn.GroupNorm(groups, width), nn.GELU(),
                         nn.Conv1d(width, width, kernel, dilation=dilation, padding=dilation * (kernel // 2)))


class _Residual(nn.Module):
    def __init__(self, width: int, kernel: int, dilation: int):
        super().__init__()
        self.body = _block(width, kernel, dilation)

    def forward(self, x):
        return x + self.body(x)


class Encoder(nn.Module):
    """1-D convolution to ``width`` channels, then ``depth`` dilated residual blocks: (B, C, T) -> (B, width, T)."""

    def __init__(self, in_channels: int, width: int = 32, depth: int = 5, kernel: int = 5):
        super().__init__()
        self.inp = nn.Conv1d(in_channels, width, kernel, padding=kernel // 2)
        self.blocks = nn.Sequential(*[_Residual(width, kernel, 2 ** i) for i in range(depth)])
        self.out_norm = nn.GroupNorm(4 if width % 4 == 0 else 1, width)

    def forward(self, x):
        return self.out_norm(self.blocks(self.inp(x)))


class TemporalCNN(nn.Module):
    """:class:`Encoder` + global average/max pooling + MLP head (with the auxiliary inputs) -> targets."""

    def __init__(self, in_channels: int, n_out: int = 3, *, n_aux: int = 1, width: int = 32, depth: int = 5,
                 kernel: int = 5, hidden: int = 64, dropout: float = 0.1):
        super().__init__()
        self.encoder = Encoder(in_channels, width, depth, kernel)
        self.n_aux = n_aux
        self.head = nn.Sequential(nn.Linear(2 * width + n_aux, hidden), nn.GELU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, n_out))

    def forward(self, x, aux=None):
        h = self.encoder(x)
        feats = [h.mean(-1), h.amax(-1)]
        if self.n_aux:
            feats.append(aux)
        return self.head(torch.cat(feats, -1))


class EnsembleCNN(nn.Module):
    """Several :class:`TemporalCNN` of one architecture; the output is the mean of theirs."""

    def __init__(self, members: list):
        super().__init__()
        if not members:
            raise ParameterError("an ensemble needs at least one member network")
        self.members = nn.ModuleList(members)

    def forward(self, x, aux=None):
        return torch.stack([m(x, aux) for m in self.members]).mean(0)


def _network(arch: dict):
    """The network of an ``architecture`` dict (``members`` > 1: an :class:`EnsembleCNN`)."""
    a = {k: v for k, v in arch.items() if k != "members"}
    k = int(arch.get("members", 1))
    return EnsembleCNN([TemporalCNN(**a) for _ in range(k)]) if k > 1 else TemporalCNN(**a)


# ============================================================================================ helpers


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and SD of windows ``x(window, channel, sample)`` (SD floored at 1e-3)."""
    x = np.asarray(x, float)
    mean = x.mean(axis=(0, 2))
    std = np.maximum(x.std(axis=(0, 2)), 1e-3)
    return mean, std


def _check_windows(windows: Any, what: str = "windows") -> tuple[WindowSpec, np.ndarray]:
    if not isinstance(windows, xr.Dataset):
        raise ParameterError(f"{what} must be a windows Dataset (twin.learn.make_windows), not {type(windows).__name__}")
    spec = spec_of(windows)
    x = np.asarray(windows["x"].values, np.float32)
    if x.shape[0] == 0:
        raise DataError(f"{what}: no windows")
    if not np.isfinite(x).all():
        raise DataError(f"{what}: 'x' has NaN/inf values; make windows with twin.learn.make_windows (it fills gaps)")
    return spec, x


def _labels(windows: xr.Dataset, labels: Any, targets: tuple[str, ...]) -> np.ndarray:
    n = windows.sizes["window"]
    if labels is None:
        y = windows["y"].sel(target=list(targets)).values if "y" in windows else np.full((n, len(targets)), np.nan)
    else:
        y = np.asarray(labels, float)
        if y.ndim == 1 and len(targets) == 1:
            y = y[:, None]
        if y.shape != (n, len(targets)):
            raise DataError(f"labels have shape {y.shape}; expected ({n} windows, {len(targets)} targets {targets})")
    y = np.asarray(y, float)
    if not np.isfinite(y).any(axis=0).all():
        bad = [t for t, ok in zip(targets, np.isfinite(y).any(axis=0)) if not ok]
        raise DataError(f"no labels for target(s) {bad}: every window's label is NaN; give labels= or choose targets=")
    return y


def _aux(windows: xr.Dataset, use: bool, what: str) -> np.ndarray:
    n = windows.sizes["window"]
    if not use:
        return np.zeros((n, 0), np.float32)
    ll = np.asarray(windows["leg_length"].values, float) if "leg_length" in windows else np.full(n, np.nan)
    if not np.isfinite(ll).all():
        raise DataError(f"{what}: {int((~np.isfinite(ll)).sum())} window(s) have no leg_length; pass leg_length= to "
                        "make_windows (twin.learn.leg_length_from_markers or leg_length_from_height)")
    if np.any((ll < 0.2) | (ll > 1.5)):
        raise DataError(f"{what}: leg_length outside 0.2-1.5 m ({ll.min():.3g}-{ll.max():.3g}); it must be in metres")
    return ll[:, None]


#: Power of the length scale in each target under ``target_scaling="leg_length"`` (Hof 1996) or
#: ``"ankle_separation"``: speed is learnt in lengths per second, stride length in lengths, cadence as it is.
LEG_LENGTH_POWER = {"walking_speed": 1.0, "cadence": 0.0, "stride_length": 1.0}
_SCALINGS = ("ankle_separation", "leg_length", "none")
#: [leg lengths] Floor of :func:`ankle_separation` under ``target_scaling="ankle_separation"``: a window
#: whose ankles hardly separate (standing, turning, a walker seen from the front) is not divided by ~0.
ANKLE_SEPARATION_FLOOR = 0.3


def ankle_separation(windows: xr.Dataset) -> np.ndarray:
    """(window,) range over each keypoint window of the ankles' horizontal distance ``RAnkle_x - LAnkle_x``.

    In the window's units (leg lengths with the default ``WindowSpec.scale
    = "leg"``): about the stride length seen in the window, less how far the
    feet move while both are off their rest (the stride is 1.03-1.13 times
    this range in the real trials of :mod:`twin.learn.evaluate`; less under
    an oblique camera, which foreshortens it). NaN samples are ignored.

    Raises
    ------
    DataError
        Not keypoint windows, or without ``RAnkle_x`` / ``LAnkle_x`` channels.

    Examples
    --------
    >>> from twin.learn.data import WindowSpec, windows_dataset
    >>> spec = WindowSpec("keypoints", duration=0.64)
    >>> x = np.zeros((1, 12, spec.n_samples))
    >>> x[0, spec.channel_names.index("RAnkle_x")] = 0.7 * np.sin(np.linspace(0, 2 * np.pi, spec.n_samples))
    >>> ankle_separation(windows_dataset(x, spec, leg_length=0.9)).round(2)
    array([1.4])
    """
    spec, x = _check_windows(windows)
    names = list(spec.channel_names)
    if spec.modality != "keypoints" or "RAnkle_x" not in names or "LAnkle_x" not in names:
        raise DataError(f"ankle_separation needs keypoint windows with RAnkle_x and LAnkle_x channels (these are "
                        f"{spec.modality} windows with {names[:6]} ...)")
    sep = np.asarray(x[:, names.index("RAnkle_x")] - x[:, names.index("LAnkle_x")], float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(sep, axis=1) - np.nanmin(sep, axis=1)


def _can_scale_by_ankles(spec: WindowSpec) -> bool:
    return spec.modality == "keypoints" and spec.scale == "leg" and {"RAnkle", "LAnkle"} <= set(spec.keypoints)


def _leg_factor(windows: xr.Dataset, targets: tuple[str, ...], scaling: str, what: str) -> np.ndarray:
    """(window, target) factors that turn a target into its learnt form (divide) and back (multiply)."""
    n = windows.sizes["window"]
    if scaling == "none":
        return np.ones((n, len(targets)))
    scale = _aux(windows, True, what)
    if scaling == "ankle_separation":
        a = ankle_separation(windows)
        if not np.isfinite(a).all():
            raise DataError(f"{what}: {int((~np.isfinite(a)).sum())} window(s) have no ankle keypoints at all")
        scale = scale * np.maximum(a, ANKLE_SEPARATION_FLOOR)[:, None]
    return scale ** np.array([LEG_LENGTH_POWER[t] for t in targets])[None, :]


# ============================================================================================ estimator


@dataclass
class Estimator:
    """A trained window -> gait-parameter model (see the module docstring).

    Attributes
    ----------
    model : TemporalCNN
    spec : WindowSpec
    targets : tuple of str
    norm : dict
        ``x_mean``, ``x_std`` (channels), ``y_mean``, ``y_std`` (targets),
        ``aux_mean``, ``aux_std``, ``use_leg_length``, ``target_scaling``.
    architecture, training : dict
    history : list of float
        Training loss per epoch.
    """

    model: Any
    spec: WindowSpec
    targets: tuple[str, ...]
    norm: dict
    architecture: dict
    training: dict = field(default_factory=dict)
    history: list = field(default_factory=list)

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return int(sum(p.numel() for p in self.model.parameters()))

    def _inputs(self, windows: xr.Dataset):
        spec, x = _check_windows(windows)
        if spec.channel_names != self.spec.channel_names or spec.n_samples != self.spec.n_samples:
            raise DataError(f"the windows ({spec.modality}, {len(spec.channel_names)} channels x {spec.n_samples} "
                            f"samples) do not match the model's ({self.spec.modality}, {len(self.spec.channel_names)} "
                            f"x {self.spec.n_samples}); make them with the model's spec (est.spec)")
        xn = (x - np.asarray(self.norm["x_mean"], np.float32)[None, :, None]) / \
            np.asarray(self.norm["x_std"], np.float32)[None, :, None]
        aux = _aux(windows, bool(self.norm["use_leg_length"]), "windows")
        aux = (aux - self.norm["aux_mean"]) / self.norm["aux_std"]
        return torch.as_tensor(xn, dtype=torch.float32), torch.as_tensor(aux, dtype=torch.float32)

    def predict(self, windows: xr.Dataset, *, batch_size: int = 256) -> xr.Dataset:
        """Gait parameters of each window.

        Returns
        -------
        xarray.Dataset
            ``y_pred(window, target)`` (units in ``attrs``), the windows'
            ``y`` (labels, when present) and ``group`` coordinate.

        Raises
        ------
        DataError
            Windows of another spec, NaN inputs, or no leg length.
        """
        xt, at = self._inputs(windows)
        self.model.eval()
        out = []
        with torch.no_grad():
            for i in range(0, xt.shape[0], batch_size):
                out.append(self.model(xt[i:i + batch_size], at[i:i + batch_size]).numpy())
        yn = np.concatenate(out)
        y = yn * np.asarray(self.norm["y_std"])[None] + np.asarray(self.norm["y_mean"])[None]
        y = y * _leg_factor(windows, self.targets, str(self.norm.get("target_scaling", "none")), "windows")
        ds = xr.Dataset({"y_pred": (("window", "target"), y.astype(float),
                                    {"units": ", ".join(f"{k}: {TARGET_UNITS.get(k, '')}" for k in self.targets),
                                     "long_name": "predicted gait parameters"})},
                        coords={"target": list(self.targets)})
        if "group" in windows.coords:
            ds = ds.assign_coords(group=("window", windows["group"].values))
        if "y" in windows:
            ds["y"] = (("window", "target"), windows["y"].sel(target=list(self.targets)).values.astype(float),
                       {"long_name": "labels"})
        return ds

    def config(self) -> dict:
        """The JSON config written by :meth:`save`."""
        from .. import __version__

        return {
            "format": FORMAT,
            "twin_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "architecture": self.architecture,
            "modality": self.spec.modality,
            "window_spec": self.spec.to_dict(),
            "channels": list(self.spec.channel_names),
            "targets": list(self.targets),
            "target_units": {k: TARGET_UNITS.get(k, "") for k in self.targets},
            "normalisation": {k: (np.asarray(v, float).tolist() if not isinstance(v, (bool, str)) else v)
                              for k, v in self.norm.items()},
            "training": self.training,
            "history": [float(v) for v in self.history],
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path/`` (``weights.pt`` + ``config.json``, see the module docstring) atomically."""
        return _save_folder(path, self.model.state_dict(), self.config())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Estimator:
        """Read a folder written by :meth:`save` (see :func:`load_estimator`)."""
        return load_estimator(path)

    def __repr__(self) -> str:
        return (f"Estimator({self.spec.modality}, {len(self.spec.channel_names)} channels x {self.spec.n_samples} "
                f"samples -> {', '.join(self.targets)}; {self.n_parameters} parameters)")


def _save_folder(path: str | os.PathLike, state: dict, config: dict) -> Path:
    from ..io.store import atomic_path

    final = Path(path)
    if final.exists() and not final.is_dir():
        raise ParameterError(f"{final} exists and is not a folder; models are saved as folders (weights.pt + "
                             "config.json)")
    with atomic_path(final) as tmp:
        os.makedirs(tmp)
        torch.save({k: v.detach().cpu() for k, v in state.items()}, os.path.join(tmp, "weights.pt"))
        with open(os.path.join(tmp, "config.json"), "w") as fh:
            json.dump(config, fh, indent=1, sort_keys=True)
    return final


def _read_folder(path: str | os.PathLike, fmt: str) -> tuple[dict, dict]:
    p = Path(path)
    cfg_p, w_p = p / "config.json", p / "weights.pt"
    if not p.is_dir():
        raise ReadError(p, "no such model folder (a saved model is a folder with config.json and weights.pt)")
    for f in (cfg_p, w_p):
        if not f.is_file():
            raise ReadError(p, f"{f.name} is missing; the folder is not a complete saved model")
    try:
        cfg = json.loads(cfg_p.read_text())
    except (OSError, ValueError) as err:
        raise ReadError(cfg_p, f"unreadable JSON ({err})") from None
    if cfg.get("format") != fmt:
        raise ReadError(cfg_p, f"format {cfg.get('format')!r}; expected {fmt!r}")
    try:
        state = torch.load(w_p, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any unpickling failure is a bad file
        raise ReadError(w_p, f"unreadable weights ({err})") from None
    return cfg, state


def load_estimator(path: str | os.PathLike) -> Estimator:
    """An :class:`Estimator` saved by :meth:`Estimator.save`.

    Raises
    ------
    ReadError
        Missing files, another format, or weights that do not fit the architecture.
    """
    cfg, state = _read_folder(path, FORMAT)
    arch = cfg["architecture"]
    model = _network(arch)
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError) as err:
        raise ReadError(Path(path) / "weights.pt", f"weights do not fit the architecture in config.json ({err})") from None
    model.eval()
    norm = dict(cfg["normalisation"])
    for k in ("aux_mean", "aux_std"):
        norm[k] = float(norm[k])
    norm.setdefault("target_scaling", "none")  # estimators saved before the option learnt the targets as they are
    if norm["target_scaling"] not in _SCALINGS:
        raise ReadError(Path(path) / "config.json", f"unknown target_scaling {norm['target_scaling']!r} (this "
                        f"version knows {list(_SCALINGS)}); a newer twin saved it -- update twin")
    return Estimator(model, WindowSpec.from_dict(cfg["window_spec"]), tuple(cfg["targets"]), norm, arch,
                     cfg.get("training", {}), cfg.get("history", []))


# ============================================================================================ training


def _fit(model, xt, at, yt, mask, *, params, epochs, lr, batch_size, weight_decay, noise, augment, seed,
         max_seconds, progress):
    gen = torch.Generator().manual_seed(int(seed) + 1)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    n = xt.shape[0]
    steps_per_epoch = max(1, math.ceil(n / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.15)
    loss_fn = torch.nn.SmoothL1Loss(reduction="none", beta=0.5)
    history = []
    t0 = time.perf_counter()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total, count = 0.0, 0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            xb, ab, yb, mb = xt[idx], at[idx], yt[idx], mask[idx]
            if augment:
                gain = 1.0 + 0.05 * torch.randn(xb.shape[0], xb.shape[1], 1, generator=gen)
                xb = xb * gain + noise * torch.randn(xb.shape, generator=gen)
            pred = model(xb, ab)
            loss = (loss_fn(pred, yb) * mb).sum() / mb.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * xb.shape[0]
            count += xb.shape[0]
        history.append(total / max(count, 1))
        if progress:
            print(f"epoch {ep + 1}/{epochs}: loss {history[-1]:.4f}", flush=True)
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
    model.eval()
    return history, time.perf_counter() - t0


def ensemble(estimators: list) -> Estimator:
    """One :class:`Estimator` that predicts the mean of several trained on the same windows.

    Estimators trained with different seeds on the same data share their
    input and label normalisation; on data unlike the training data (real
    recordings for a model trained on synthetic gaits) their predictions
    scatter, and the mean is steadier than any one of them.

    Parameters
    ----------
    estimators : list of Estimator
        Same window spec, targets, architecture and normalisation (e.g.
        :func:`train` with seeds 0, 1, 2 on the same windows); members of
        ensembles are taken in turn.

    Returns
    -------
    Estimator
        ``architecture["members"]`` = number of networks; ``training``
        holds each member's in ``members``; ``history`` the mean loss per
        epoch.

    Raises
    ------
    ParameterError
        No estimators, or estimators that do not fit together.

    Examples
    --------
    >>> import numpy as np, torch
    >>> torch.set_num_threads(1)
    >>> from twin.learn.data import WindowSpec, windows_dataset
    >>> spec = WindowSpec("imu", duration=1.28, sensors=("tibia_r",), channels=("gyro_z",))
    >>> rng = np.random.default_rng(0)
    >>> w = windows_dataset(rng.normal(size=(32, 1, spec.n_samples)), spec, leg_length=0.9,
    ...                     y=np.tile([1.2, 110.0, 1.3], (32, 1)))
    >>> ests = [train(w, epochs=1, seed=s) for s in (0, 1)]
    >>> both = ensemble(ests)
    >>> y = [e.predict(w).y_pred.values for e in ests]
    >>> bool(np.allclose(both.predict(w).y_pred.values, (y[0] + y[1]) / 2, atol=1e-5))
    True
    """
    ests = list(estimators) if not isinstance(estimators, Estimator) else [estimators]
    if not ests or not all(isinstance(e, Estimator) for e in ests):
        raise ParameterError("ensemble needs a list of twin.learn.Estimator")
    first = ests[0]
    base = {k: v for k, v in first.architecture.items() if k != "members"}
    for i, e in enumerate(ests[1:], 1):
        why = None
        if e.spec.to_dict() != first.spec.to_dict():
            why = "window spec"
        elif tuple(e.targets) != tuple(first.targets):
            why = "targets"
        elif {k: v for k, v in e.architecture.items() if k != "members"} != base:
            why = "architecture"
        else:
            for k, v in first.norm.items():
                w = e.norm.get(k)
                same = (v == w) if isinstance(v, (bool, str)) else (
                    w is not None and np.allclose(np.asarray(v, float), np.asarray(w, float)))
                if not same:
                    why = f"normalisation ({k})"
                    break
        if why:
            raise ParameterError(f"estimators[{i}] differs from estimators[0] in its {why}: an ensemble's members "
                                 "must be trained on the same windows with the same options (seeds may differ)")
    nets = []  # copies: the ensemble is a new object, later changes of the estimators given do not reach it
    for e in ests:
        nets.extend(copy.deepcopy(list(e.model.members) if isinstance(e.model, EnsembleCNN) else [e.model]))
    model = EnsembleCNN(nets) if len(nets) > 1 else nets[0]
    model.eval()
    members = []
    for e in ests:
        members.extend(e.training.get("members", [e.training]))
    hist = [h for h in (e.history for e in ests) if h]
    n = min((len(h) for h in hist), default=0)
    history = [float(np.mean([h[j] for h in hist])) for j in range(n)]
    training = {k: v for k, v in first.training.items() if k not in ("seed", "seconds", "final_loss", "members")}
    training.update(members=members, seconds=round(sum(float(m.get("seconds", 0.0)) for m in members), 3))
    return Estimator(model, first.spec, tuple(first.targets), dict(first.norm), {**base, "members": len(nets)},
                     training, history)


def train(
    windows: xr.Dataset,
    labels: Any = None,
    *,
    epochs: int = 40,
    seed: int = 0,
    lr: float = 3e-3,
    batch_size: int = 64,
    width: int = 32,
    depth: int = 5,
    kernel: int = 5,
    hidden: int = 64,
    dropout: float = 0.1,
    weight_decay: float = 1e-4,
    augment: bool = True,
    noise: float = 0.05,
    targets: tuple[str, ...] = TARGETS,
    use_leg_length: bool = True,
    target_scaling: str | None = None,
    pretrained: Any = None,
    freeze_encoder: bool = False,
    max_seconds: float | None = None,
    progress: bool = False,
    members: int = 1,
) -> Estimator:
    """Train a :class:`TemporalCNN` estimator on labelled windows.

    Parameters
    ----------
    windows : xarray.Dataset
        Windows (:func:`twin.learn.make_windows`, :func:`twin.learn.windows_dataset`).
    labels : array (window, target), optional
        Labels in ``targets`` order; default the windows' ``y``. NaN labels
        are left out of the loss.
    epochs, seed, lr, batch_size, weight_decay : training options
    width, depth, kernel, hidden, dropout : architecture (see the module docstring)
    augment : bool, default True
        Channel gain and noise augmentation.
    noise : float, default 0.05
        Augmentation noise SD (standardised units).
    targets : tuple of str, default :data:`TARGETS`
    use_leg_length : bool, default True
        Feed the leg length to the head (windows must have it).
    target_scaling : {"ankle_separation", "leg_length", "none"}, optional
        ``"leg_length"``: learn speed in leg lengths per second and stride
        length in leg lengths (:data:`LEG_LENGTH_POWER`; the scaling of Hof
        1996, Gait Posture 4:222) and multiply the prediction by the
        window's leg length; ``"ankle_separation"`` (keypoint windows in leg
        lengths): learn them relative to the leg length times the window's
        :func:`ankle_separation` (floored at :data:`ANKLE_SEPARATION_FLOOR`),
        i.e. learn how much longer the stride is than the ankles' excursion
        that the window shows; ``"none"``: learn them in m/s and m. Default:
        ``"ankle_separation"`` for keypoint windows that have both ankles
        (else ``"leg_length"``), ``"none"`` for IMU windows (in g and rad/s).
        Why the ankles: networks that learnt stride / leg length from
        synthetic keypoints predicted every healthy real trial's stride
        3-14 % short (8 % on average), while a straight line on the ankles'
        excursion alone, fitted to the same synthetic windows, had a stride
        MAE of 0.070 m on the real trials. Speed / cadence / stride MAE on
        the 12 real trials of ``twin bench learn`` (ensembles of 4,
        measured 2026-11-29): 0.113 / 1.56 / 0.104 with ``"leg_length"``,
        0.072 / 1.75 / 0.061 with ``"ankle_separation"``.
    pretrained : twin.learn.pretrain.Pretrained, optional
        Start the encoder (and take the input normalisation and architecture)
        from masked-reconstruction pretraining (:func:`twin.learn.finetune`).
    freeze_encoder : bool, default False
        With ``pretrained``: train the head only.
    max_seconds : float, optional
        Stop after the epoch that passes this time.
    progress : bool, default False
        Print the loss per epoch.
    members : int, default 1
        Train this many networks, with seeds ``seed``, ``seed + 1``, ...,
        and return their :func:`ensemble` (the mean prediction). Networks
        trained on synthetic gaits alone differ much from seed to seed on
        real recordings (``twin bench learn``), and their mean less.

    Returns
    -------
    Estimator

    Raises
    ------
    DataError
        Bad windows, no labels, no leg length.
    ParameterError
        Bad options.
    """
    check_param("epochs", epochs, minimum=1, types=(int, np.integer))
    check_param("seed", seed, types=(int, np.integer))
    check_param("lr", lr, minimum=1e-6, maximum=1.0, types=(int, float))
    check_param("batch_size", batch_size, minimum=1, types=(int, np.integer))
    check_param("noise", noise, minimum=0.0, types=(int, float))
    check_param("members", members, minimum=1, maximum=64, types=(int, np.integer))
    if int(members) > 1:
        opts = dict(labels=labels, epochs=epochs, lr=lr, batch_size=batch_size, width=width, depth=depth,
                    kernel=kernel, hidden=hidden, dropout=dropout, weight_decay=weight_decay, augment=augment,
                    noise=noise, targets=targets, use_leg_length=use_leg_length, target_scaling=target_scaling,
                    pretrained=pretrained, freeze_encoder=freeze_encoder, max_seconds=max_seconds, progress=progress)
        return ensemble([train(windows, seed=int(seed) + k, **opts) for k in range(int(members))])
    targets = tuple(targets)
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise ParameterError(f"targets {list(targets)}: choose from {list(TARGETS)}")
    spec, x = _check_windows(windows)
    if target_scaling is None:
        target_scaling = ("ankle_separation" if _can_scale_by_ankles(spec) else "leg_length") \
            if spec.modality == "keypoints" else "none"
    if target_scaling not in _SCALINGS:
        raise ParameterError(f"target_scaling={target_scaling!r}: choose from {list(_SCALINGS)}")
    if target_scaling == "ankle_separation" and not _can_scale_by_ankles(spec):
        raise ParameterError("target_scaling='ankle_separation' needs keypoint windows in leg lengths "
                             "(WindowSpec scale='leg') with both ankles among their keypoints; use 'leg_length'")
    y = _labels(windows, labels, targets) / _leg_factor(windows, targets, target_scaling, "windows")
    aux = _aux(windows, use_leg_length, "windows")
    torch.manual_seed(int(seed))
    if pretrained is not None:
        from .pretrain import Pretrained

        if not isinstance(pretrained, Pretrained):
            raise ParameterError(f"pretrained must be a twin.learn.Pretrained, not {type(pretrained).__name__}")
        if pretrained.spec.channel_names != spec.channel_names or pretrained.spec.n_samples != spec.n_samples:
            raise DataError("the windows do not match the pretrained encoder's window spec; make them with "
                            "pretrained.spec")
        width, depth, kernel = (pretrained.architecture[k] for k in ("width", "depth", "kernel"))
        x_mean, x_std = np.asarray(pretrained.x_mean), np.asarray(pretrained.x_std)
    else:
        x_mean, x_std = standardise(x)
    for name, v, lo in (("width", width, 4), ("depth", depth, 1), ("kernel", kernel, 1), ("hidden", hidden, 1)):
        check_param(name, v, minimum=lo, types=(int, np.integer))
    ok = np.isfinite(y)
    y_mean = np.array([y[ok[:, j], j].mean() for j in range(len(targets))])
    y_std = np.array([max(y[ok[:, j], j].std(), 1e-3 * max(abs(y_mean[j]), 1.0)) for j in range(len(targets))])
    if aux.shape[1]:
        aux_mean = float(aux.mean()) if aux.shape[0] > 1 and aux.std() > 1e-3 else _LEG_MEAN
        aux_std = float(aux.std()) if aux.shape[0] > 1 and aux.std() > 1e-3 else _LEG_STD
    else:
        aux_mean, aux_std = 0.0, 1.0
    arch = dict(in_channels=len(spec.channel_names), n_out=len(targets), n_aux=aux.shape[1], width=int(width),
                depth=int(depth), kernel=int(kernel), hidden=int(hidden), dropout=float(dropout))
    model = TemporalCNN(**arch)
    if pretrained is not None:
        model.encoder.load_state_dict(pretrained.encoder_state)
    params = [p for n_, p in model.named_parameters() if not (freeze_encoder and n_.startswith("encoder."))]
    xt = torch.as_tensor((x - x_mean[None, :, None]) / x_std[None, :, None], dtype=torch.float32)
    at = torch.as_tensor((aux - aux_mean) / aux_std, dtype=torch.float32)
    yt = torch.as_tensor(np.where(ok, (y - y_mean) / y_std, 0.0), dtype=torch.float32)
    mt = torch.as_tensor(ok.astype(np.float32))
    history, secs = _fit(model, xt, at, yt, mt, params=params, epochs=int(epochs), lr=float(lr),
                         batch_size=int(batch_size), weight_decay=float(weight_decay), noise=float(noise),
                         augment=bool(augment), seed=int(seed), max_seconds=max_seconds, progress=progress)
    groups = windows["group"].values if "group" in windows.coords else np.array([""])
    training = dict(epochs=int(epochs), epochs_run=len(history), seed=int(seed), lr=float(lr),
                    batch_size=int(batch_size), weight_decay=float(weight_decay), augment=bool(augment),
                    noise=float(noise), n_windows=int(x.shape[0]), n_groups=int(len(set(map(str, groups)))),
                    seconds=round(secs, 3), final_loss=float(history[-1]), pretrained=pretrained is not None,
                    freeze_encoder=bool(freeze_encoder), source=str(windows.attrs.get("source", ""))[:500])
    norm = dict(x_mean=x_mean, x_std=x_std, y_mean=y_mean, y_std=y_std, aux_mean=aux_mean, aux_std=aux_std,
                use_leg_length=bool(use_leg_length), target_scaling=str(target_scaling))
    return Estimator(model, spec, targets, norm, arch, training, history)
