import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from stdp_toolkit.cli import main


def _run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bridge_cli_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import stdp_toolkit.cli.bridge as c, argparse\n"
            "p = argparse.ArgumentParser(); c.register(p.add_subparsers())\n"
            "print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_user_errors_exit_2(capsys, tmp_path):
    code, out, err = _run(capsys, ["convert", "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "x.pt")])
    assert code == 2 and "checkpoint not found" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    code, _, err = _run(capsys, ["snn-eval", "--checkpoint", str(tmp_path / "bad.pt"), "--data-dir", str(tmp_path)])
    assert code == 2 and "corrupt or not a torch file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_pipeline_end_to_end(capsys, tmp_path, data_dir):
    common = ["--data-dir", data_dir, "--threads", "1", "--no-progress", "--json"]
    ann = str(tmp_path / "ann.pt")
    code, out, _ = _run(capsys, ["ann-train", "--arch", "mlp", "--hidden", "64", "--epochs", "1", "--limit-train", "1500",
                                 "--limit-test", "200", "--out", ann] + common)
    r1 = json.loads(out)
    assert code == 0 and r1["epochs"] == 1 and r1["test_acc"] > 0.6
    # resume continues from the checkpoint's epoch
    code, out, _ = _run(capsys, ["ann-train", "--arch", "mlp", "--hidden", "64", "--epochs", "2", "--limit-train", "1500",
                                 "--limit-test", "200", "--out", ann, "--resume"] + common)
    r2 = json.loads(out)
    assert r2["epochs"] == 2 and r2["history"][0] == r1["history"][0]

    conv = str(tmp_path / "conv.pt")
    code, out, _ = _run(capsys, ["convert", "--checkpoint", ann, "--out", conv, "--timesteps", "16", "--curve", "4,8",
                                 "--balance-samples", "64", "--balance-steps", "16", "--limit-test", "100"] + common)
    rc = json.loads(out)
    assert code == 0 and set(rc["curve"]) == {"4", "8", "16"} and len(rc["thresholds"]) == 1
    assert rc["input_scale"] > 2.0  # auto: max |normalised pixel| of MNIST = 2.82

    hyb = str(tmp_path / "hybrid.pt")
    code, out, _ = _run(capsys, ["hybrid-train", "--checkpoint", conv, "--out", hyb, "--timesteps", "8", "--epochs", "1",
                                 "--max-batches", "3", "--limit-train", "500", "--limit-test", "100"] + common)
    rh = json.loads(out)
    assert code == 0 and rh["surrogate"] == "stdb" and rh["epochs"] == 1

    diet = str(tmp_path / "diet.pt")
    code, out, _ = _run(capsys, ["diet-train", "--checkpoint", ann, "--out", diet, "--epochs", "1", "--max-batches", "3",
                                 "--limit-train", "500", "--limit-test", "100"] + common)
    rd = json.loads(out)
    assert code == 0 and rd["timesteps"] == 5 and all(0 <= v <= 1 for v in rd["leaks"])

    code, out, _ = _run(capsys, ["snn-eval", "--checkpoint", diet, "--limit-test", "100"] + common)
    re_ = json.loads(out)
    assert code == 0 and re_["latency_steps"] == 5 and re_["snn_energy_uJ"] > 0 and len(re_["spike_rate"]) == 1
    assert re_["accuracy"] == pytest.approx(rd["test_acc"])  # same samples, deterministic direct input

    nir_path = str(tmp_path / "diet.nir")
    code, out, _ = _run(capsys, ["export", "--checkpoint", diet, "--format", "nir", "--out", nir_path] + common)
    assert code == 0 and os.path.isfile(nir_path) and "lif0" in json.loads(out)["nodes"]

    code, _, err = _run(capsys, ["hybrid-train", "--checkpoint", ann, "--out", hyb] + common)
    assert code == 2 and "holds an ANN" in err
