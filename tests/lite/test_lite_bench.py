"""bench/lite_snn.py --seeds: one folder per seed, a different run per seed, and the mean ± sd summary."""
import importlib.util
import json
import statistics
from pathlib import Path

import pytest

pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "lite_snn.py"


def test_bench_seeds_run_apart_and_are_summarised(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("lite_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # the recall task at L = 25 with a tenth of its 12 epochs: one epoch per seed, seconds
    argv = ["--only", "recall", "--lengths", "25", "--models", "gru", "--epochs-scale", "0.1",
            "--seeds", "3,4", "--out", str(tmp_path)]
    assert bench.main(argv) == 0
    runs = [json.loads((tmp_path / f"seed-{s}" / "recall_gru_L25.json").read_text()) for s in (3, 4)]
    assert [r["config"]["seed"] for r in runs] == [3, 4]
    assert runs[0]["history"][0]["train_loss"] != runs[1]["history"][0]["train_loss"]   # the seed reached the run
    acc = [100 * r["test_accuracy"] for r in runs]
    out = capsys.readouterr().out
    assert "test accuracy over seeds 3,4" in out
    assert f"{statistics.mean(acc):6.2f} ± {statistics.stdev(acc):4.2f}" in out
    # a second call finds both runs done and summarises them without training again
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("skip ") == 2 and f"{statistics.mean(acc):6.2f}" in out
