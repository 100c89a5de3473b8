"""Small real-data runs must beat chance clearly (the full-size figures are in docs/benchmarks.md, section 4)."""
import pytest

pytest.importorskip("torch")

from stdp_toolkit.lite.train import TrainConfig, train  # noqa: E402


@pytest.mark.slow
def test_lite_nmnist_small_beats_chance(nmnist_dir, tmp_path):
    # 300 training recordings, 4 epochs; chance is 10 % (P(>=25/100 correct by chance) ~ 1e-5)
    r = train(TrainConfig(task="nmnist", model="lite", data_dir=str(nmnist_dir), out=str(tmp_path), epochs=4,
                          train_limit=300, n_bins=6, lr=2e-3, channels=32), log=lambda s: None)
    assert r["n"] == 100
    assert r["test_accuracy"] >= 0.25, r["test_accuracy"]
    assert r["acs_per_sample"] > 0 and 0 < r["spike_rate"] < 1


@pytest.mark.slow
def test_lite_sst2_small_beats_chance(sst2_dir, tmp_path):
    # 8,000 training phrases, 2 epochs, 400 test sentences; chance 50 % (the test split is balanced),
    # 58 % is 3.2 standard deviations above it
    r = train(TrainConfig(task="sst2", model="lite", data_dir=str(sst2_dir), out=str(tmp_path), epochs=2,
                          train_limit=8000, eval_limit=400, lr=2e-3, batch_size=64, steps_per_item=2, max_len=30),
              log=lambda s: None)
    assert r["n"] == 400
    assert r["test_accuracy"] >= 0.58, r["test_accuracy"]
    assert r["time_steps_per_sample"] > 2 * 10  # two steps per word, ~20 words per test sentence
