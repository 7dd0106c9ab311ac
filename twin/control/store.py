"""Shipped controllers: small JSON files (vector + names + body + objective + command + metrics).

Examples
--------
>>> import tempfile, os
>>> from twin.control.reflex import ReflexController
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "c.json")
>>> save_controller(p, ReflexController.default_vector(), command="(doctest)")
>>> c = load_controller(p); len(c["vector"]) == len(ReflexController.parameter_names())
True
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

from ..errors import ReadError

__all__ = ["save_controller", "load_controller", "DEFAULT_CONTROLLER"]

#: The shipped default walking controller (relative to the repository's data/ folder).
DEFAULT_CONTROLLER = "controllers/walk_default.json"


def save_controller(path: str | os.PathLike, vector: Any, *, initial: Any = None, body: str = "default(lumbar=False)",
                    objective: str = "", command: str = "", metrics: dict | None = None,
                    initial_state: dict | None = None, rigid_tendon: bool = True) -> None:
    """Write a controller JSON atomically.

    ``rigid_tendon``: the engine's tendon model the controller was made
    for (``"engine": {"rigid_tendon": ...}`` in the file; files without it
    are rigid-tendon controllers).

    ``initial_state`` (optional): a full start state on the controller's own
    gait cycle, ``{"coordinates": [...], "q": [...], "qdot": [...],
    "muscles": [...], "activation": [...], "time": s}`` (see
    :func:`twin.control.sim.capture_gait_state`).
    """
    from ..io.store import atomic_path
    from .reflex import ReflexController
    from .sim import INIT_NAMES

    doc = {
        "format": "twin.control.reflex/1",
        "controller": "ReflexController (Geyer & Herr 2010 style)",
        "names": list(ReflexController.parameter_names()),
        "vector": [float(x) for x in np.asarray(vector, dtype=float)],
        "initial_names": list(INIT_NAMES),
        "initial": None if initial is None else [float(x) for x in np.asarray(initial, dtype=float)],
        "body": body,
        "objective": objective,
        "command": command,
        "metrics": _clean(metrics or {}),
        "engine": {"rigid_tendon": bool(rigid_tendon)},
    }
    if initial_state is not None:
        doc["initial_state"] = _clean({k: (list(map(float, v)) if k in ("q", "qdot", "activation") else v)
                                       for k, v in initial_state.items()})
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def load_controller(path: str | os.PathLike) -> dict:
    """Read a controller JSON; ``vector``/``initial`` as arrays in the current parameter order.

    Raises
    ------
    ReadError
        Unreadable file, or parameter names that do not match the controller.
    """
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as err:
        raise ReadError(path, f"cannot read controller JSON: {err}") from None
    given = doc.get("names")
    vec = doc.get("vector")
    if not isinstance(given, list) or not isinstance(vec, list) or len(given) != len(vec):
        raise ReadError(path, "controller JSON needs 'names' and 'vector' lists of equal length")
    try:
        doc["vector"] = in_parameter_order(given, vec)
    except ValueError as err:
        raise ReadError(path, f"controller JSON {err}; regenerate it with its 'command'") from None
    if doc.get("initial") is not None:
        doc["initial"] = np.asarray(doc["initial"], dtype=float)
    doc["rigid_tendon"] = rigid_tendon(doc)
    return doc


def in_parameter_order(names: Sequence[str], vector: Sequence[float]) -> np.ndarray:
    """A reflex parameter vector given as ``names`` / ``vector`` (e.g. of an older file), in today's order.

    Parameters added to the controller since (``ADDED_PARAMETERS``) that the
    names lack get their defaults, which leave the controller's behaviour
    unchanged; any other missing name raises ``ValueError``.

    >>> from twin.control.reflex import ReflexController
    >>> old = [n for n in ReflexController.parameter_names() if n != "knee_land"]
    >>> v = in_parameter_order(old, [0.5] * len(old))
    >>> names = ReflexController.parameter_names()
    >>> len(v) == len(names), float(v[names.index("knee_sw_tgt")]), float(v[names.index("knee_land")])
    (True, 0.5, 0.1)
    """
    from .reflex import ADDED_PARAMETERS, PARAMETERS, ReflexController

    given, vec = [str(n) for n in names], [float(x) for x in vector]
    defaults = {p[0]: p[1] for p in PARAMETERS}
    added = [n for n in ADDED_PARAMETERS if n not in given]  # newer parameters: their no-effect defaults
    lookup = dict(zip(given + added, vec + [defaults[n] for n in added]))
    missing = [n for n in ReflexController.parameter_names() if n not in lookup]
    if missing:
        raise ValueError(f"lacks parameters {', '.join(missing)}")
    return np.array([lookup[n] for n in ReflexController.parameter_names()])


def rigid_tendon(doc: dict) -> bool:
    """The tendon model a controller document was made for: True (rigid; also files from before
    the ``engine`` entry) or False (compliant). Engine parameters for running it:
    ``walking_params(..., rigid_tendon=rigid_tendon(doc))``.

    >>> rigid_tendon({"engine": {"rigid_tendon": False}}), rigid_tendon({})
    (False, True)
    """
    engine = doc.get("engine") if isinstance(doc, dict) else None
    return bool((engine or {}).get("rigid_tendon", True))
