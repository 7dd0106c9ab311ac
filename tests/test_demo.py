"""The README's demo end to end (short twin simulations)."""

from __future__ import annotations

import pytest
import torch

from twin.twin import load_twin


def test_demo_writes_report_and_twin(data_dir, tmp_path):
    if not (data_dir / "opensim-models/Pipelines/Gait10dof18musc").exists():
        pytest.skip("subject01 pipeline not under TWIN_DATA_DIR")
    from twin.demo import DEMO_SCENARIOS, run_demo

    torch.set_num_threads(1)
    res = run_demo(out=tmp_path, show=False, twin_duration=1.0)
    html = res["report"].read_text()
    assert "digital twin" in html and "what if?" in html
    for s in DEMO_SCENARIOS:
        assert s in html
    t = load_twin(tmp_path / "twin.nc")
    assert t.reference is not None and t.baseline is not None
