"""C3D reader: values against a second reader (the pure-Python ``c3d`` package) and ezc3d's
force-platform module, physics checks on the force plates, options, bad input, and a bounded
fuzz test whose reads run in a child process (ezc3d is C++ and could take pytest down with it).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import twin
from twin import schema
from twin.errors import DataError, FormatError, ParameterError, ReadError, TwinError, TwinWarning
from twin.io._common import to_opensim_axes
from twin.io.c3d import read_c3d

ezc3d = pytest.importorskip("ezc3d")
from ezc3d import ezc3d as _swig  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WALK = "kineticstoolkit/data/walk.c3d"
GAIT = "BMClab-BMC/data/Gait.c3d"
WALKING2 = "opensim-core/OpenSim/Tests/shared/walking2.c3d"
WALKING5 = "opensim-core/OpenSim/Tests/shared/walking5.c3d"
TEST_WALKING = "opensim-core/OpenSim/Sandbox/MatlabScripts/test_walking.c3d"
SUITE = "kineticstoolkit/data/c3d_test_suite"
QUALISYS = SUITE + "/ezc3d/Qualisys.c3d"
BTS = SUITE + "/ezc3d/BTS.c3d"
EB015_PI = SUITE + "/Sample01/Eb015pi.c3d"
EB015_VR = SUITE + "/Sample01/Eb015vr.c3d"


def _read(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TwinWarning)
        return read_c3d(path, **kw)


# --------------------------------------------------------------------------- a small C3D written here


def _set_param(c, group, name, value, *, integer=False):
    arr = np.asarray(value, dtype=float)
    c.add_parameter(group, name, arr)
    if integer:  # ezc3d's Python writer stores numbers as FLOAT unless told otherwise
        c["parameters"][group][name]["type"] = _swig.INT
        c["parameters"][group][name]["value"] = arr.astype(int)


def write_small_c3d(path: Path, *, fz: np.ndarray | float = -700.0) -> Path:
    """A 20-frame C3D (Z-up lab, mm): 4 markers, one AMTI-style type-2 plate, one EMG channel, 2 events.

    The plate's axes follow the AMTI convention of the real files (plate z down), and its Fz
    channel is the ground reaction (negative under load), so the GRF is +|fz| upward.
    """
    nf, nm, apf = 20, 4, 10
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = np.array([100.0])
    c["parameters"]["POINT"]["LABELS"]["value"] = ["LHEE", "RHEE", "LASI", "RASI"]
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    t = np.arange(nf) / 100.0
    pts = np.zeros((4, nm, nf))
    for k in range(nm):
        pts[0, k] = 1000.0 * t + 100.0 * k  # forward along lab X, 1 m/s
        pts[1, k] = 100.0 if k % 2 == 0 else -100.0  # Z-up lab, X forward: left is +Y
        pts[2, k] = 50.0 if k < 2 else 950.0
    c["data"]["points"] = pts
    c["parameters"]["ANALOG"]["RATE"]["value"] = np.array([100.0 * apf])
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ["Fx1", "Fy1", "Fz1", "Mx1", "My1", "Mz1", "EMG RF"]
    c["parameters"]["ANALOG"]["UNITS"]["value"] = ["N", "N", "N", "Nmm", "Nmm", "Nmm", "mV"]
    ns = nf * apf
    f = np.broadcast_to(np.asarray(fz, dtype=float), (ns,))
    ana = np.zeros((1, 7, ns))
    ana[0, 2] = f
    ana[0, 3] = -20.0 * f  # Mx = py * Fz with py = -20 mm
    ana[0, 4] = 30.0 * f  # My = -px * Fz with px = -30 mm
    ana[0, 6] = np.sin(np.arange(ns) / 3.0)
    c["data"]["analogs"] = ana
    _set_param(c, "FORCE_PLATFORM", "USED", [1], integer=True)
    _set_param(c, "FORCE_PLATFORM", "TYPE", [2], integer=True)
    _set_param(c, "FORCE_PLATFORM", "ZERO", [1, 0], integer=True)
    _set_param(c, "FORCE_PLATFORM", "CHANNEL", np.arange(1, 7).reshape(6, 1), integer=True)
    corners = np.array([[-232.0, 254, 0], [232, 254, 0], [232, -254, 0], [-232, -254, 0]])  # plate z down
    _set_param(c, "FORCE_PLATFORM", "CORNERS", corners.T.reshape(3, 4, 1))
    _set_param(c, "FORCE_PLATFORM", "ORIGIN", np.array([[0.0], [0.0], [-40.0]]))
    c.add_event([0, 0.05], context="Left", label="Foot Strike")
    c.add_event([0, 0.15], context="Right", label="Foot Off")
    c.write(str(path))
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    return write_small_c3d(tmp_path_factory.mktemp("c3d") / "small.c3d")


def test_small_file_values(small):
    ds = _read(small)
    schema.validate(ds)
    assert ds.attrs["kind"] == "recording" and ds.attrs["rate"] == 100.0 and ds.attrs["analog_rate"] == 1000.0
    assert ds.attrs["source"] == str(small)
    # markers: mm -> m and Z-up -> Y-up (X=X, Y=Z, Z=-Y)
    lhee = ds.markers.sel(marker="LHEE").values
    np.testing.assert_allclose(lhee[:, 0], ds.time.values, atol=1e-6)
    np.testing.assert_allclose(lhee[:, 1], 0.05, atol=1e-6)
    np.testing.assert_allclose(lhee[:, 2], -0.1, atol=1e-6)  # left of the body: Z < 0
    # force plate: ground reaction 700 N up, COP at lab (30, -20) mm -> OpenSim (0.03, 0, 0.02) m
    np.testing.assert_allclose(ds.grf.sel(plate="1").values, [[0.0, 700.0, 0.0]] * 200, atol=1e-9)
    np.testing.assert_allclose(ds.cop.sel(plate="1").values, [[0.03, 0.0, 0.02]] * 200, atol=1e-9)
    np.testing.assert_allclose(ds.free_moment.sel(plate="1").values, 0.0, atol=1e-9)
    assert ds.grf.dims == ("analog_time", "plate", "axis") and list(ds.plate.values) == ["1"]
    np.testing.assert_allclose(ds.analog_time.values, np.arange(200) / 1000.0)
    # analog and emg (mV -> V)
    assert ds.analog.sel(channel="Fz1").attrs["units"] == "see channel_units"
    assert list(ds.channel_units.values) == ["N", "N", "N", "Nmm", "Nmm", "Nmm", "mV"]
    np.testing.assert_allclose(ds.emg.sel(muscle="EMG RF").values, ds.analog.sel(channel="EMG RF").values * 1e-3)
    assert ds.emg.attrs["units"] == "V"
    # events
    np.testing.assert_allclose(ds.event_time.values, [0.05, 0.15], atol=1e-6)
    assert list(ds.event_label.values) == ["foot_strike", "foot_off"]
    assert list(ds.event_side.values) == ["left", "right"]
    history = ds.attrs["history"]
    for needle in ("POINT:UNITS 'mm' -> m", "OpenSim axes", "force plates", "threshold=20 N", "events: 2"):
        assert needle in history


def test_small_file_matches_ezc3d_force_platform(small):
    ds = _read(small)
    pf = ezc3d.c3d(str(small), extract_forceplat_data=True)["data"]["platform"][0]
    np.testing.assert_allclose(ds.grf.sel(plate="1").values, to_opensim_axes(pf["force"].T, "z"), atol=1e-9)
    np.testing.assert_allclose(ds.cop.sel(plate="1").values, to_opensim_axes(pf["center_of_pressure"].T, "z") * 1e-3,
                               atol=1e-12)


def test_dispatch_through_twin_read(small):
    a, b = _read(small), twin.read(small)
    assert a.identical(b)


def test_plate_storing_action_force_is_flipped_with_warning(tmp_path):
    path = write_small_c3d(tmp_path / "flip.c3d", fz=700.0)
    with pytest.warns(TwinWarning, match="sign flipped"):
        ds = read_c3d(path)
    np.testing.assert_allclose(ds.grf.sel(plate="1", axis="y").values, 700.0)
    np.testing.assert_allclose(ds.cop.sel(plate="1").values, [[0.03, 0.0, 0.02]] * 200, atol=1e-9)
    assert "sign flipped" in ds.attrs["history"]


def test_cop_below_threshold_is_nan_and_documented(tmp_path):
    ramp = -np.linspace(0.0, 700.0, 200)
    ds = _read(write_small_c3d(tmp_path / "ramp.c3d", fz=ramp), threshold=50.0)
    fy = ds.grf.sel(plate="1", axis="y").values
    cop = ds.cop.sel(plate="1").values
    below = fy < 50.0
    assert below.sum() > 5 and (~below).sum() > 5
    assert np.isnan(cop[below]).all() and np.isfinite(cop[~below]).all()
    assert np.isnan(ds.free_moment.sel(plate="1").values[below]).all()
    assert np.isfinite(ds.grf.values).all()  # the force itself is never masked
    assert "threshold=50 N" in ds.cop.attrs["nan_policy"] and ds.cop.attrs["threshold"] == 50.0
    assert f"NaN in {below.sum()} plate-samples" in ds.attrs["history"]


def test_options(small):
    ds = _read(small, markers=["RASI", "LHEE"], analogs=False)
    assert list(ds.marker.values) == ["RASI", "LHEE"]
    assert "analog" not in ds and "emg" not in ds and "grf" in ds
    ds = _read(small, force_plates=False)
    assert "grf" not in ds and "cop" not in ds and "analog" in ds
    ds_y = _read(small, up="y")  # no rotation
    np.testing.assert_allclose(ds_y.markers.sel(marker="LHEE", axis="z").values, 0.05, atol=1e-6)
    np.testing.assert_allclose(ds_y.markers.sel(marker="LHEE", axis="y").values, 0.1, atol=1e-6)
    assert "given by up=" in ds_y.attrs["history"]
    with pytest.raises(ParameterError, match="NOPE"):
        read_c3d(small, markers=["LHEE", "NOPE"])
    for bad in ({"up": "w"}, {"gaps": "zip"}, {"threshold": -1.0}, {"max_gap": -0.1}, {"analogs": "yes"},
                {"markers": "LHEE"}, {"markers": 5}, {"markers": [1, 2]}):
        with pytest.raises(ParameterError):
            read_c3d(small, **bad)


# --------------------------------------------------------------------------- a child process that reads C3D files

WORKER = r"""
import sys, warnings
warnings.simplefilter("ignore")
from twin.io.c3d import read_c3d
from twin.errors import TwinError
for line in sys.stdin:
    path = line.rstrip("\n")
    try:
        read_c3d(path)
        out = "OK"
    except TwinError as err:
        out = "TWIN " + type(err).__name__ + " " + str(err)
    except BaseException as err:
        out = "EXC " + type(err).__name__ + " " + str(err)
    sys.stdout.write(out.replace("\n", " ") + "\n")
    sys.stdout.flush()
"""


class ReaderProcess:
    """``read_c3d`` in a child process: a crash (segfault/abort) or hang is reported, not inherited."""

    def __init__(self):
        self.proc = None
        self.start()

    def start(self):
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, cwd=REPO, env=env)

    def read(self, path: Path, timeout: float = 30.0) -> str:
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.start()
            return f"HANG (> {timeout} s)"
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.start()
            return f"CRASH (exit status {rc})"
        return line.rstrip("\n")

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def reader():
    r = ReaderProcess()
    yield r
    r.close()


def _patched(raw: bytes, **edits) -> bytes:
    b = bytearray(raw)
    for offset, value in edits.get("bytes", []):
        b[offset] = value
    return bytes(b)


def _param_record(raw: bytes, group: str, name: str) -> int:
    """Byte offset of the type byte of parameter GROUP:NAME in an Intel C3D."""
    p0 = 512 * (raw[0] - 1)
    pos, groups, found = p0 + 4, {}, {}
    while True:
        n = raw[pos] - 256 if raw[pos] > 127 else raw[pos]
        if n == 0:
            break
        gid = raw[pos + 1] - 256 if raw[pos + 1] > 127 else raw[pos + 1]
        end = pos + 2 + abs(n)
        label = raw[pos + 2 : end].decode("latin-1")
        offset = int.from_bytes(raw[end : end + 2], "little")
        if gid < 0:
            groups[-gid] = label
        else:
            found[(gid, label)] = end + 2
        if offset == 0:
            break
        pos = end + offset
    gid = next(k for k, v in groups.items() if v == group)
    return found[(gid, name)]


def _bad_inputs(small: Path) -> dict[str, tuple[bytes | None, type]]:
    raw = small.read_bytes()
    desc = _param_record(raw, "POINT", "DESCRIPTIONS")  # a CHAR parameter
    used = _param_record(raw, "POINT", "USED")  # an INT scalar
    scale = _param_record(raw, "ANALOG", "SCALE")
    rng = np.random.default_rng(0)
    return {
        "random bytes": (rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), FormatError),
        "text file": (b"PathFileType\t4\t(X/Y/Z)\tsubject01.trc\nDataRate\tCameraRate\n", FormatError),
        "png": (b"\x89PNG\r\n\x1a\n" + bytes(600), FormatError),
        "header only": (raw[:512], ReadError),
        "truncated in parameters": (raw[:700], ReadError),
        "truncated in data": (raw[: len(raw) - 100], ReadError),
        "truncated to half": (raw[: len(raw) // 2], ReadError),
        "wrong key byte": (_patched(raw, bytes=[(1, 0x51)]), FormatError),
        "processor type 99": (_patched(raw, bytes=[(512 + 3, 99)]), FormatError),
        "parameter block past the end": (_patched(raw, bytes=[(0, 200)]), ReadError),
        "data start block 0": (_patched(raw, bytes=[(16, 0), (17, 0)]), ReadError),
        # these two made ezc3d 1.7.2 segfault when handed over unchecked
        "CHAR parameter with 0 dimensions": (_patched(raw, bytes=[(desc + 1, 0)]), ReadError),
        "parameter with negative dimension count": (_patched(raw, bytes=[(used + 1, 0xFF)]), ReadError),
        "ANALOG:SCALE shorter than ANALOG:USED": (_patched(raw, bytes=[(scale + 2, 3)]), ReadError),
    }


def test_bad_input_raises_twin_error_naming_the_file(small, tmp_path, reader):
    failures = []
    for name, (content, expected) in _bad_inputs(small).items():
        path = tmp_path / (name.replace(" ", "_").replace(":", "") + ".c3d")
        path.write_bytes(content)
        got = reader.read(path)
        kind = got.split()[1] if got.startswith("TWIN ") else ""
        ok_kinds = {expected.__name__} | ({"FormatError"} if expected is ReadError else set())
        if not (kind in ok_kinds and str(path) in got):
            failures.append(f"{name}: expected {expected.__name__} naming the file, got {got}")
    assert not failures, "\n".join(failures)


def test_missing_empty_folder_zero_frames(tmp_path):
    with pytest.raises(ReadError, match="no such file"):
        read_c3d(tmp_path / "nope.c3d")
    (tmp_path / "empty.c3d").write_bytes(b"")
    with pytest.raises(ReadError, match="empty"):
        read_c3d(tmp_path / "empty.c3d")
    with pytest.raises(ReadError, match="folder"):
        read_c3d(tmp_path)
    zero = tmp_path / "zero.c3d"
    _swig.c3d().write(str(zero))  # a valid C3D with no point and no analog frame
    with pytest.raises(ReadError, match="no frames"):
        read_c3d(zero)


# --------------------------------------------------------------------------- bounded fuzzing

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _fuzz_source(kind: str, small: Path) -> bytes:
    if kind == "ezc3d-written":
        return small.read_bytes()
    root = os.environ.get("TWIN_DATA_DIR")
    if not root or not Path(root).is_dir():
        pytest.skip("TWIN_DATA_DIR absent: the Eb015pi.c3d fuzz seed is not available")
    p = Path(root) / EB015_PI
    if not p.exists():
        pytest.skip(f"{EB015_PI} not found")
    return p.read_bytes()


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("kind", ["ezc3d-written", "Eb015pi"])
@FUZZ
@given(data=st.data())
def test_fuzzed_c3d_gives_dataset_or_twin_error(kind, small, fuzz_dir, reader, data):
    raw = _fuzz_source(kind, small)
    header_end = 512 * (int.from_bytes(raw[16:18], "little") - 1)  # header + parameters
    b = bytearray(raw)
    edits = data.draw(st.lists(st.tuples(st.integers(0, header_end - 1), st.integers(0, 255)), max_size=8),
                      label="byte edits in header/parameters")
    for pos, val in edits:
        b[pos] = val
    if data.draw(st.booleans(), label="zero a span"):
        start = data.draw(st.integers(0, len(b) - 1))
        length = data.draw(st.integers(1, 256))
        b[start : start + length] = bytes(len(b[start : start + length]))
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(b) - 1)), label="truncate at")
    if cut is not None:
        b = b[:cut]
    path = fuzz_dir / f"fuzz_{kind}.c3d"
    path.write_bytes(bytes(b))
    got = reader.read(path)
    event(" ".join(got.split()[:2]) if got.startswith("TWIN ") else got.split()[0])
    if not got.startswith(("OK", "TWIN ")):
        keep = fuzz_dir / f"failing_{kind}_{len(list(fuzz_dir.glob('failing_*')))}.c3d"
        shutil.copy(path, keep)
        pytest.fail(f"{got}: input kept at {keep} (edits {edits}, truncated at {cut})")


# --------------------------------------------------------------------------- reference data: second reader


def _c3d_package(path: Path):
    """Markers, residuals and analog samples read by the pure-Python ``c3d`` package."""
    c3d = pytest.importorskip("c3d")
    with open(path, "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = c3d.Reader(fh)
        labels = [str(s).strip() for s in r.point_labels]
        analog_labels = [str(s).strip() for s in r.analog_labels]
        units = r.get("POINT:UNITS").string_value.strip("\x00 ")
        frames = list(r.read_frames(copy=True))
    pts = np.stack([f[1] for f in frames])  # (frame, point, [x y z residual cameras])
    ana = np.concatenate([f[2].T for f in frames]) if frames[0][2].size else np.zeros((0, 0))
    return labels, pts, analog_labels, ana, units


@pytest.mark.parametrize("rel", [WALK, GAIT, EB015_VR, QUALISYS])
def test_markers_agree_with_c3d_package(data_file, rel):
    path = data_file(rel)
    ds = _read(path, gaps="keep")
    labels, pts, _, _, units = _c3d_package(path)
    assert units == "mm"
    missing = (pts[:, :, 3] < 0) | np.all(pts[:, :, :3] == 0, axis=2)
    xyz = np.where(missing[..., None], np.nan, pts[:, :, :3]) * 1e-3
    ref = to_opensim_axes(xyz, "z")
    seen: dict[str, int] = {}
    index = {}
    for k, lab in enumerate(labels):  # the k-th repeat of a label is LABEL_k in twin
        seen[lab] = seen.get(lab, 0) + 1
        index[lab if seen[lab] == 1 else f"{lab}_{seen[lab]}"] = k
    for name in ds.marker.values:
        np.testing.assert_allclose(ds.markers.sel(marker=name).values, ref[:, index[str(name)]], rtol=0, atol=1e-6,
                                   equal_nan=True, err_msg=f"{rel}: marker {name}")


@pytest.mark.parametrize("rel", [WALK, GAIT, EB015_PI, BTS])
def test_analogs_agree_with_c3d_package(data_file, rel):
    path = data_file(rel)
    ds = _read(path, force_plates=False)
    _, _, labels, ana, _ = _c3d_package(path)
    assert ana.shape == ds.analog.shape
    got = ds.analog.values
    scale = np.maximum(np.abs(ana).max(axis=0), 1e-6)
    assert np.all(np.abs(got - ana) <= 1e-5 * scale + 1e-9), f"{rel}: analog channels differ"
    n = ds.sizes["channel"]
    assert [str(v) for v in ds.channel.values] == labels[:n] or len(set(labels[:n])) < n


# --------------------------------------------------------------------------- reference data: force plates


def _ezc3d_platforms(path: Path):
    return ezc3d.c3d(str(path), extract_forceplat_data=True)["data"]["platform"]


@pytest.mark.parametrize("rel,up", [(WALK, "z"), (WALKING2, "z"), (QUALISYS, "z"), (BTS, "y")])
def test_force_plates_agree_with_ezc3d(data_file, rel, up):
    """No FORCE_PLATFORM:ZERO baseline in these files: twin and ezc3d must give the same numbers."""
    path = data_file(rel)
    ds = _read(path)
    plates = _ezc3d_platforms(path)
    assert ds.sizes["plate"] == len(plates)
    for i, pf in enumerate(plates):
        grf = ds.grf.isel(plate=i).values
        np.testing.assert_allclose(grf, to_opensim_axes(pf["force"].T, up), atol=1e-6)
        cop = ds.cop.isel(plate=i).values
        ok = np.isfinite(cop[:, 0])
        np.testing.assert_array_equal(ok, grf[:, 1] >= 20.0)
        np.testing.assert_allclose(cop[ok], to_opensim_axes(pf["center_of_pressure"].T, up)[ok] * 1e-3, atol=1e-9)
        np.testing.assert_allclose(ds.free_moment.isel(plate=i).values[ok],
                                   to_opensim_axes(pf["Tz"].T, up)[ok] * 1e-3, atol=1e-6)


def test_force_plate_type4_against_manual_computation(data_file):
    """Gait.c3d: type-4 plates with CAL_MATRIX, ORIGIN and a ZERO baseline, recomputed by hand from the
    ``c3d`` package's analog samples and parameters, and compared with twin and (forces) with ezc3d."""
    c3d = pytest.importorskip("c3d")
    path = data_file(GAIT)
    ds = _read(path)
    with open(path, "rb") as fh:
        r = c3d.Reader(fh)
        corners = r.get("FORCE_PLATFORM:CORNERS").float_array  # (plate, corner, xyz)
        origin = r.get("FORCE_PLATFORM:ORIGIN").float_array  # (plate, xyz)
        channel = r.get("FORCE_PLATFORM:CHANNEL").int16_array  # (plate, 6)
        cal = r.get("FORCE_PLATFORM:CAL_MATRIX").float_array  # (plate, col, row)
        zero = r.get("FORCE_PLATFORM:ZERO").int16_array
        apf = int(r.analog_per_frame)
    _, _, _, ana, _ = _c3d_package(path)
    plates = _ezc3d_platforms(path)
    for i in range(2):
        raw = ana[:, channel[i] - 1].astype(float)
        raw = raw - raw[(zero[0] - 1) * apf : zero[1] * apf].mean(axis=0)  # FORCE_PLATFORM:ZERO baseline
        c = corners[i]
        ex = (c[0] - c[1]) / np.linalg.norm(c[0] - c[1])
        ey = (c[0] - c[3]) / np.linalg.norm(c[0] - c[3])
        ez = np.cross(ex, ey)
        ey = np.cross(ez, ex)
        rot = np.column_stack([ex, ey, ez])
        o = origin[i] if origin[i][2] <= 0 else -origin[i]  # surface centre relative to the transducer
        fz_loaded = np.flatnonzero(ds.grf.isel(plate=i).sel(axis="y").values > 300.0)[::25]
        assert fz_loaded.size > 5
        for k in fz_loaded:
            v = cal[i].T @ raw[k]  # calibrated [Fx Fy Fz Mx My Mz] in the plate frame (N, N mm)
            f, m = v[:3], v[3:] + np.cross(v[:3], o)  # moment about the plate surface centre
            cop_plate = np.array([-m[1] / f[2], m[0] / f[2], 0.0])
            tz = m[2] - (cop_plate[0] * f[1] - cop_plate[1] * f[0])
            f_lab = rot @ f
            cop_lab = rot @ cop_plate + c.mean(axis=0)
            t_lab = rot @ np.array([0.0, 0.0, tz])
            np.testing.assert_allclose(ds.grf.isel(plate=i, analog_time=k).values, to_opensim_axes(f_lab, "z"),
                                       rtol=1e-5, atol=1e-3)
            np.testing.assert_allclose(ds.cop.isel(plate=i, analog_time=k).values,
                                       to_opensim_axes(cop_lab, "z") * 1e-3, atol=1e-6)
            np.testing.assert_allclose(ds.free_moment.isel(plate=i, analog_time=k).values,
                                       to_opensim_axes(t_lab, "z") * 1e-3, atol=1e-4)
        # ezc3d does not apply the ZERO baseline: compare forces once it is removed
        f_ez = plates[i]["force"].T
        f_ez = f_ez - f_ez[(zero[0] - 1) * apf : zero[1] * apf].mean(axis=0)
        np.testing.assert_allclose(ds.grf.isel(plate=i).values, to_opensim_axes(f_ez, "z"), atol=1e-6)
    assert "baseline of FORCE_PLATFORM:ZERO frames 1-10 subtracted" in ds.attrs["history"]


def test_walk_vertical_grf_matches_body_weight(data_file):
    ds = _read(data_file(WALK))
    bw = ds.attrs["subject_mass"] * 9.81
    fy = ds.grf.sel(axis="y")
    assert float(fy.min()) > -5.0, "vertical GRF must be the ground reaction (positive up)"
    t = ds.analog_time.values
    ev = {(str(lab), str(side)): [] for lab, side in zip(ds.event_label.values, ds.event_side.values)}
    for time_, lab, side in zip(ds.event_time.values, ds.event_label.values, ds.event_side.values):
        ev[(str(lab), str(side))].append(float(time_))
    # a full stride right foot strike -> right foot strike, both feet on plates throughout:
    # the mean vertical force over a stride is body weight (no net vertical momentum change)
    t0, t1 = ev[("foot_strike", "right")][:2]
    window = (t >= t0) & (t < t1)
    mean_stride = float(fy.sum("plate").values[window].mean())
    assert 0.93 * bw < mean_stride < 1.07 * bw, (mean_stride / bw)
    # single support (left foot off -> left foot strike): one plate carries ~ body weight
    lo = ev[("foot_off", "left")][0]
    ls = ev[("foot_strike", "left")][0]
    ss = (t > lo + 0.01) & (t < ls - 0.01)
    assert 0.8 * bw < float(fy.sum("plate").values[ss].mean()) < 1.1 * bw
    # stance peaks of single-foot plates (plate 2 carries two feet at the end of the trial)
    for plate in ("2", "4"):
        peak = float(fy.sel(plate=plate).max())
        assert 1.0 * bw < peak < 1.3 * bw, (plate, peak / bw)
    # contacts start at the file's foot strikes
    starts = {p: float(t[np.argmax(fy.sel(plate=p).values > 20.0)]) for p in ("2", "4")}
    assert abs(starts["4"] - ev[("foot_strike", "right")][0]) < 0.01
    assert abs(starts["2"] - ev[("foot_strike", "left")][0]) < 0.01


@pytest.mark.parametrize("rel,up", [(WALK, "z"), (GAIT, "z"), (QUALISYS, "z"), (EB015_VR, "z"), (BTS, "y"),
                                    (WALKING2, "z")])
def test_cop_lies_within_plate_corners(data_file, rel, up):
    path = data_file(rel)
    ds = _read(path)
    corners = ezc3d.c3d(str(path))["parameters"]["FORCE_PLATFORM"]["CORNERS"]["value"]  # (xyz, corner, plate)
    checked = 0
    for i in range(ds.sizes["plate"]):
        cn = to_opensim_axes(corners[:, :, i].T * 1e-3, up)
        fy = ds.grf.isel(plate=i).sel(axis="y").values
        loaded = fy > max(200.0, 0.3 * fy.max())
        if not loaded.any():
            continue
        cop = ds.cop.isel(plate=i).values[loaded]
        for ax in (0, 2):
            assert cop[:, ax].min() > cn[:, ax].min() - 0.01 and cop[:, ax].max() < cn[:, ax].max() + 0.01, (rel, i)
        np.testing.assert_allclose(cop[:, 1], cn[:, 1].mean(), atol=0.005)
        checked += 1
    assert checked >= 1


# --------------------------------------------------------------------------- reference data: content


def test_walk_content(data_file):
    path = data_file(WALK)
    ds = _read(path)
    schema.validate(ds)
    assert ds.attrs["rate"] == 100.0 and ds.attrs["analog_rate"] == 2000.0
    assert ds.attrs["subject_mass"] == pytest.approx(73.4) and ds.attrs["subject_height"] == pytest.approx(1.639)
    assert ds.attrs["c3d_first_frame"] == 153
    assert ds.time.values[0] == pytest.approx(1.52) and ds.analog_time.values[0] == pytest.approx(1.52)
    assert ds.sizes["time"] == 221 and ds.sizes["analog_time"] == 4420 and ds.sizes["plate"] == 4
    names = list(ds.marker.values)
    assert "LHipAngles" not in names and "LGroundReactionForce" not in names and "RHipPower" not in names
    assert {"LASI", "RASI", "LHEE", "RTOE", "LKJC"} <= set(names)  # modelled joint centres are positions: kept
    assert "skipped 38 non-marker points" in ds.attrs["history"]
    pelvis = ds.markers.sel(marker=["LASI", "RASI"], axis="y")
    assert 0.8 < float(pelvis.mean()) < 1.1  # ASIS height in m, Y up
    # events: 4 foot strikes and 4 foot offs, on the point clock
    assert ds.sizes["event"] == 8
    assert sorted(set(ds.event_label.values)) == ["foot_off", "foot_strike"]
    assert set(ds.event_side.values) == {"left", "right"}
    assert np.all(np.diff(ds.event_time.values) >= 0)
    assert ds.time.values[0] <= ds.event_time.values.min() and ds.event_time.values.max() <= ds.time.values[-1]
    assert ds.emg.sizes["muscle"] == 32 and ds.emg.attrs["units"] == "V"
    assert ds.analog.sizes["channel"] == 248
    assert "mm/s²" in set(ds.channel_units.values)  # Latin-1 unit decoded
    assert "unknown" in set(ds.channel_units.values)  # channels without a unit say so


def test_events_abbreviations_and_header_events(data_file):
    ds = _read(data_file(QUALISYS))
    assert list(ds.event_label.values[:2]) == ["foot_strike", "foot_off"]  # LHS, RTO
    assert list(ds.event_side.values[:2]) == ["left", "right"]
    assert ds.time.values[0] == pytest.approx(704 / 200)
    assert ds.time.values[0] <= ds.event_time.values.min() <= ds.event_time.values.max() <= ds.time.values[-1]
    ds = _read(data_file(EB015_PI))  # events only in the C3D header's event block: RIC, RHS, RTO
    np.testing.assert_allclose(ds.event_time.values, [2.72, 5.40, 7.32], atol=1e-5)
    assert list(ds.event_label.values) == ["foot_strike", "foot_strike", "foot_off"]
    assert "header event block" in ds.attrs["history"]
    assert ds.attrs["subject_mass"] == pytest.approx(82.7) and ds.attrs["subject_height"] == pytest.approx(1.63)


def test_emg_unit_conversion_and_duplicate_labels(data_file):
    ds = _read(data_file(BTS))
    assert ds.sizes["muscle"] == 8 and "(units mV -> V)" in ds.attrs["history"]
    m = str(ds.muscle.values[0])
    np.testing.assert_allclose(ds.emg.sel(muscle=m).values, ds.analog.sel(channel=m).values * 1e-3)
    ds = _read(data_file(GAIT))
    assert {"RKNE", "RKNE_2", "LFOO", "LFOO_2"} <= set(ds.marker.values)
    assert "RKNE -> RKNE_2" in ds.attrs["history"]
    assert "LGRF" not in set(ds.muscle.values) and {"LSOL", "RJUM"} <= set(ds.muscle.values)


def test_gap_policies(data_file):
    path = data_file(GAIT)
    with pytest.raises(DataError, match="gaps="):
        read_c3d(path, gaps="raise")
    keep = _read(path, gaps="keep")
    fill = _read(path, gaps="fill")
    assert np.isnan(keep.markers.values).sum() >= np.isnan(fill.markers.values).sum() > 0
    assert "kept NaN gaps" in keep.attrs["history"]
    with pytest.warns(TwinWarning, match="max_gap"):
        read_c3d(path)


def test_every_c3d_read_or_rejected(data_dir, reader):
    """The C3D test suite (and the other example C3D files): each is read or rejected with a TwinError,
    in a child process so that a crash would be reported rather than take the test run down."""
    files = sorted(data_dir.glob(SUITE + "/**/*.c3d")) + [data_dir / p for p in (WALK, GAIT, WALKING2, WALKING5,
                                                                                  TEST_WALKING)]
    files = [f for f in files if f.exists()]
    assert len(list(data_dir.glob(SUITE + "/**/*.c3d"))) >= 6
    results = {str(f.relative_to(data_dir)): reader.read(f) for f in files}
    bad = {k: v for k, v in results.items() if not v.startswith(("OK", "TWIN "))}
    assert not bad, bad
    read = sum(v == "OK" for v in results.values())
    print(f"\n{read} C3D files read, {len(results) - read} rejected with a TwinError, 0 crashed")


def test_read_speed_against_raw_ezc3d(data_file):
    path = data_file(WALK)
    _read(path)
    ezc3d.c3d(str(path))
    raw, ours = [], []
    for _ in range(7):
        t = time.perf_counter()
        ezc3d.c3d(str(path))
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            twin.read(path)
        ours.append(time.perf_counter() - t)
    ratio = min(ours) / min(raw)
    print(f"\ntwin.read {min(ours) * 1e3:.1f} ms vs ezc3d.c3d {min(raw) * 1e3:.1f} ms: ratio {ratio:.2f}")
    assert ratio <= 1.5


def test_errors_are_twin_errors():
    assert issubclass(FormatError, ReadError) and issubclass(ReadError, TwinError)
