import json
import subprocess
import sys

import pytest

from stdp_toolkit.cli import main


def test_cli_module_does_not_import_torch():
    code = ("import sys, argparse; import stdp_toolkit.cli.lite as c; "
            "p = argparse.ArgumentParser(); c.register(p.add_subparsers()); "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_commands_registered(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for cmd in ("lite-train", "lite-seqlen", "lite-report"):
        assert cmd in text


def test_train_resume_report(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "runs"
    # 512 sequences at lr 0.01: one epoch learns the task (64 sequences at lr 1e-3 stay at chance)
    args = ["lite-train", "--task", "recall", "--model", "lite", "--length", "20", "--n-train", "512",
            "--eval-limit", "64", "--epochs", "1", "--lr", "0.01", "--channels", "16", "--out", str(out), "--json"]
    assert main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["epochs_run"] == 1 and r["params"] > 0 and r["n"] == 64
    # the printed result is the one saved; chance is 25 % (4 classes): seeds 0-47 scored 77-100 %, seed 0 98 %
    assert json.loads((out / "recall_lite_L20.json").read_text())["test_accuracy"] == r["test_accuracy"]
    assert r["test_accuracy"] >= 0.6, r["test_accuracy"]
    assert r["acs_per_sample"] > 0 and r["energy_synaptic_J"] > 0 and r["time_steps_per_sample"] == 20
    assert (out / "recall_lite_L20.pt").exists()
    # resume: one more epoch on top of the checkpoint
    more = [a if a != "1" else "2" for a in args] + ["--resume"]
    assert main(more) == 0
    r2 = json.loads(capsys.readouterr().out)
    assert r2["epochs_run"] == 2 and len(r2["history"]) == 2
    assert main([a if a != "16" else "8" for a in more]) == 2  # other sizes: refuse to resume
    assert "cannot resume" in capsys.readouterr().err
    assert main(["lite-train", "--task", "recall", "--model", "gru", "--length", "20", "--n-train", "64",
                 "--eval-limit", "64", "--epochs", "1", "--out", str(out)]) == 0
    assert "recall gru: test accuracy" in capsys.readouterr().out
    png = tmp_path / "cmp.png"
    assert main(["lite-report", "--runs", str(out), "--plot", str(png), "--markdown", str(tmp_path / "t.md")]) == 0
    table = capsys.readouterr().out
    assert "| recall L=20 | lite (SNN) |" in table and "| recall L=20 | gru |" in table
    assert "Sequence-length study" in table and "| 20 | lite (SNN) |" in table
    assert png.stat().st_size > 1000


def test_seqlen_json(tmp_path, capsys):
    pytest.importorskip("torch")
    assert main(["lite-seqlen", "--lengths", "15", "--models", "vanilla,lite", "--n-train", "32", "--eval-limit", "32",
                 "--epochs", "1", "--channels", "8", "--hidden", "8", "--out", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["length"], r["model"]) for r in rows] == [(15, "vanilla"), (15, "lite")]
    for r in rows:  # each row reports the run it trained
        saved = json.loads((tmp_path / f"recall_{r['model']}_L15.json").read_text())
        assert {k: saved[k] for k in ("test_accuracy", "grad_early_ratio_init", "params")} == \
            {k: r[k] for k in ("test_accuracy", "grad_early_ratio_init", "params")}
    # LITE's attention gives the cue a direct gradient path: more of the gradient reaches the first 5 steps than
    # in the vanilla LIF stack (so at each of seeds 0-59, by at least 0.05; seed 0: 1.82 against 1.49)
    vanilla, lite = (r["grad_early_ratio_init"] for r in rows)
    assert lite > vanilla > 0


@pytest.mark.parametrize("argv, message", [
    (["lite-seqlen", "--lengths", "a,b"], "--lengths"),
    (["lite-seqlen", "--models", "lite,bert"], "--models"),
    (["lite-train", "--task", "recall", "--length", "5"], "length"),
    (["lite-train", "--task", "recall", "--epochs", "0"], "--epochs"),
    (["lite-report", "--runs", "/nonexistent/dir"], "does not exist"),
])
def test_user_errors(argv, message, capsys, tmp_path):
    pytest.importorskip("torch")
    assert main(argv + ([] if argv[0] == "lite-report" else ["--out", str(tmp_path)])) == 2
    assert message in capsys.readouterr().err


def test_missing_data_dir_is_user_error(monkeypatch, capsys, tmp_path):
    pytest.importorskip("torch")
    monkeypatch.delenv("STDP_DATA_DIR", raising=False)
    assert main(["lite-train", "--task", "sst2", "--out", str(tmp_path)]) == 2
    assert "STDP_DATA_DIR" in capsys.readouterr().err
