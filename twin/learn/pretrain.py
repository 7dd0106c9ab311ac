"""Self-supervised pretraining: masked reconstruction of unlabelled windows, then fine-tuning.

:func:`pretrain` trains the estimators' :class:`~twin.learn.models.Encoder`
(same architecture) with a 1x1-convolution decoder to reconstruct windows
whose random time spans were masked: per window, spans of
``span`` samples (uniform in the range) at random places, until about
``mask_ratio`` of the samples are covered, are set to zero on every channel
(the inputs are standardised, so zero is the channel mean); the loss is the
mean squared error on the masked samples only (the encoder must infer them
from the gait around them). No labels are used, so any amount of synthetic
(or real, unlabelled) data can go in.

:func:`finetune` starts an estimator's encoder from the pretrained one (its
input normalisation and architecture too) and trains encoder and head on
labelled windows (``freeze=True``: the head only); it is
:func:`twin.learn.train` with ``pretrained=``.

A :class:`Pretrained` saves like an estimator (a folder with ``weights.pt``,
the encoder's state dict, and ``config.json``, format :data:`FORMAT`).

Examples
--------
>>> import numpy as np, torch
>>> torch.set_num_threads(1)
>>> from twin.learn.data import WindowSpec, windows_dataset
>>> spec = WindowSpec("imu", duration=1.28, sensors=("tibia_r",), channels=("gyro_z",))
>>> t = np.arange(spec.n_samples) / spec.rate
>>> x = np.sin(2 * np.pi * np.linspace(0.7, 1.2, 32)[:, None] * t)[:, None, :]
>>> pre = pretrain(windows_dataset(x, spec), epochs=4, seed=0, width=8, depth=2)
>>> len(pre.history), pre.history[-1] < pre.history[0]
(4, True)
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from ..errors import ParameterError, ReadError, check_param
from .data import WindowSpec
from .models import Encoder, Estimator, _check_windows, _read_folder, _save_folder, standardise, train

__all__ = ["Pretrained", "pretrain", "finetune", "load_pretrained", "mask_spans", "FORMAT"]

#: Format tag of saved pretrained encoders.
FORMAT = "twin.learn.Pretrained/1"


class _MaskedAutoencoder(nn.Module):
    def __init__(self, in_channels: int, width: int, depth: int, kernel: int):
        super().__init__()
        self.encoder = Encoder(in_channels, width, depth, kernel)
        self.decoder = nn.Conv1d(width, in_channels, 1)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def mask_spans(n: int, length: int, *, ratio: float, span: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """Boolean mask (n, length): random time spans covering about ``ratio`` of each row.

    Examples
    --------
    >>> import torch
    >>> m = mask_spans(200, 128, ratio=0.3, span=(4, 16), generator=torch.Generator().manual_seed(0))
    >>> 0.2 < float(m.float().mean()) < 0.4
    True
    """
    mask = torch.zeros(n, length, dtype=torch.bool)
    lo, hi = span
    mean_span = 0.5 * (lo + hi)
    k = max(1, int(round(ratio * length / mean_span)))
    widths = torch.randint(lo, hi + 1, (n, k), generator=generator)
    starts = (torch.rand(n, k, generator=generator) * (length - widths + 1).clamp(min=1)).long()
    pos = torch.arange(length)
    for j in range(k):  # k is small (a few spans); no loop over windows
        s, w = starts[:, j:j + 1], widths[:, j:j + 1]
        mask |= (pos[None] >= s) & (pos[None] < s + w)
    return mask


@dataclass
class Pretrained:
    """A pretrained encoder (see the module docstring).

    Attributes
    ----------
    encoder_state : dict
        ``state_dict`` of the :class:`~twin.learn.models.Encoder`.
    spec : WindowSpec
    architecture : dict
        ``in_channels``, ``width``, ``depth``, ``kernel``.
    x_mean, x_std : ndarray
        Per-channel input normalisation.
    history : list of float
        Masked-reconstruction loss per epoch.
    training : dict
    """

    encoder_state: dict
    spec: WindowSpec
    architecture: dict
    x_mean: np.ndarray
    x_std: np.ndarray
    history: list = field(default_factory=list)
    training: dict = field(default_factory=dict)

    def config(self) -> dict:
        """The JSON config written by :meth:`save`."""
        from .. import __version__

        return {"format": FORMAT, "twin_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "architecture": self.architecture, "modality": self.spec.modality,
                "window_spec": self.spec.to_dict(), "channels": list(self.spec.channel_names),
                "normalisation": {"x_mean": np.asarray(self.x_mean, float).tolist(),
                                  "x_std": np.asarray(self.x_std, float).tolist()},
                "training": self.training, "history": [float(v) for v in self.history]}

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path/`` (``weights.pt`` + ``config.json``) atomically."""
        return _save_folder(path, self.encoder_state, self.config())


def load_pretrained(path: str | os.PathLike) -> Pretrained:
    """A :class:`Pretrained` saved by :meth:`Pretrained.save`.

    Raises
    ------
    ReadError
        Missing files, another format, or weights that do not fit.
    """
    cfg, state = _read_folder(path, FORMAT)
    arch = cfg["architecture"]
    enc = Encoder(**arch)
    try:
        enc.load_state_dict(state)
    except (RuntimeError, KeyError) as err:
        raise ReadError(Path(path) / "weights.pt", f"weights do not fit the architecture ({err})") from None
    norm = cfg["normalisation"]
    return Pretrained(state, WindowSpec.from_dict(cfg["window_spec"]), arch, np.asarray(norm["x_mean"]),
                      np.asarray(norm["x_std"]), cfg.get("history", []), cfg.get("training", {}))


def pretrain(
    windows: xr.Dataset,
    *,
    epochs: int = 20,
    seed: int = 0,
    mask_ratio: float = 0.3,
    span: tuple[int, int] | None = None,
    width: int = 32,
    depth: int = 5,
    kernel: int = 5,
    lr: float = 3e-3,
    batch_size: int = 64,
    weight_decay: float = 1e-4,
    max_seconds: float | None = None,
    progress: bool = False,
) -> Pretrained:
    """Masked-reconstruction pretraining of an encoder on unlabelled windows.

    Parameters
    ----------
    windows : xarray.Dataset
        Windows (labels, if any, are ignored).
    epochs, seed, lr, batch_size, weight_decay : training options
    mask_ratio : float, default 0.3
        Fraction of each window's samples masked.
    span : (int, int), optional
        Span lengths [samples]; default 0.08-0.32 s of the window's rate.
    width, depth, kernel : int
        Encoder architecture (the estimator fine-tuned from it inherits it).
    max_seconds : float, optional
        Stop after the epoch that passes this time.
    progress : bool, default False

    Returns
    -------
    Pretrained
        ``history`` holds the masked-sample MSE per epoch.

    Raises
    ------
    DataError
        Bad windows.
    ParameterError
        Bad options.
    """
    check_param("epochs", epochs, minimum=1, types=(int, np.integer))
    check_param("mask_ratio", mask_ratio, minimum=0.01, maximum=0.9, types=(int, float))
    spec, x = _check_windows(windows)
    length = spec.n_samples
    if span is None:
        span = (max(1, int(round(0.08 * spec.rate))), max(2, int(round(0.32 * spec.rate))))
    if (not isinstance(span, (tuple, list)) or len(span) != 2 or not 1 <= int(span[0]) <= int(span[1]) < length):
        raise ParameterError(f"span={span!r} must be (min, max) samples with 1 <= min <= max < {length}")
    span = (int(span[0]), int(span[1]))
    torch.manual_seed(int(seed))
    gen = torch.Generator().manual_seed(int(seed) + 7)
    x_mean, x_std = standardise(x)
    xt = torch.as_tensor((x - x_mean[None, :, None]) / x_std[None, :, None], dtype=torch.float32)
    model = _MaskedAutoencoder(xt.shape[1], int(width), int(depth), int(kernel))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = xt.shape[0]
    total_steps = int(epochs) * max(1, math.ceil(n / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total_steps, pct_start=0.15)
    history = []
    t0 = time.perf_counter()
    for ep in range(int(epochs)):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total, count = 0.0, 0
        for i in range(0, n, batch_size):
            xb = xt[perm[i:i + batch_size]]
            m = mask_spans(xb.shape[0], length, ratio=mask_ratio, span=span, generator=gen)[:, None, :]
            rec = model(xb.masked_fill(m, 0.0))
            mf = m.expand_as(xb).float()
            loss = (((rec - xb) ** 2) * mf).sum() / mf.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * xb.shape[0]
            count += xb.shape[0]
        history.append(total / max(count, 1))
        if progress:
            print(f"pretrain epoch {ep + 1}/{epochs}: masked MSE {history[-1]:.4f}", flush=True)
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break
    model.eval()
    arch = dict(in_channels=int(xt.shape[1]), width=int(width), depth=int(depth), kernel=int(kernel))
    training = dict(epochs=int(epochs), epochs_run=len(history), seed=int(seed), mask_ratio=float(mask_ratio),
                    span=list(span), lr=float(lr), batch_size=int(batch_size), n_windows=int(n),
                    seconds=round(time.perf_counter() - t0, 3), source=str(windows.attrs.get("source", ""))[:500])
    state = {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}
    return Pretrained(state, spec, arch, x_mean, x_std, history, training)


def finetune(pretrained: Pretrained, windows: xr.Dataset, labels: Any = None, *, epochs: int = 40, seed: int = 0,
             freeze: bool = False, **options: Any) -> Estimator:
    """An estimator whose encoder starts from ``pretrained`` (see :func:`twin.learn.train` for the options).

    Raises
    ------
    ParameterError
        ``pretrained`` is not a :class:`Pretrained`.
    DataError
        Windows of another spec, no labels.
    """
    if not isinstance(pretrained, Pretrained):
        raise ParameterError(f"pretrained must be a twin.learn.Pretrained (from pretrain), not {type(pretrained).__name__}")
    return train(windows, labels, epochs=epochs, seed=seed, pretrained=pretrained, freeze_encoder=freeze, **options)
