"""twin.cli: the command line (most subcommands are tested with their modules; here what is the CLI's own)."""

from __future__ import annotations

import json

from twin import cli


def test_bench_passes_the_benchmarks_own_options(tmp_path, monkeypatch, capsys):
    (tmp_path / "bench_echo.py").write_text(
        "import json, sys\nopen(sys.argv[0] + '.args', 'w').write(json.dumps(sys.argv[1:]))\n")
    monkeypatch.setattr(cli, "_benchmarks_dir", lambda: tmp_path)
    seen = tmp_path / "bench_echo.py.args"
    assert cli.main(["bench", "echo", "--quick"]) == 0
    assert json.loads(seen.read_text()) == ["--quick"]
    assert cli.main(["bench", "echo", "--quick", "--controller", "x.json"]) == 0
    assert json.loads(seen.read_text()) == ["--quick", "--controller", "x.json"]
    assert cli.main(["bench", "echo", "--keep", "/tmp/k"]) == 0
    assert json.loads(seen.read_text()) == ["--keep", "/tmp/k"]
    assert cli.main(["bench", "nope"]) == 2
    assert "no benchmark named 'nope'; available: echo" in capsys.readouterr().err


def test_create_passes_the_fit_options(tmp_path, monkeypatch):
    """twin create hands --generations, --no-fit and --fit-body to Twin.from_recording and saves the twin."""
    from twin import twin as twin_module

    seen = {}

    def fake(recording, **kw):
        seen.update(kw, recording=recording)
        return twin_module.Twin.default()

    monkeypatch.setattr(twin_module.Twin, "from_recording", staticmethod(fake))
    out = tmp_path / "me.nc"
    argv = ["create", "walk_IK.mot", "--mass", "70", "--height", "1.75", "--generations", "3", "--out", str(out)]
    assert cli.main(argv) == 0 and out.exists()
    assert seen["recording"] == "walk_IK.mot" and seen["generations"] == 3 and seen["mass"] == 70.0
    assert seen["fit_controller"] is True and seen["fit_body"] is False
    assert cli.main(argv + ["--fit-body"]) == 0 and seen["fit_body"] is True
    assert cli.main(argv + ["--no-fit"]) == 0 and seen["fit_controller"] is False
