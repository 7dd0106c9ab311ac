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
