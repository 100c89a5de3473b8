"""Multimodal networks: ensembles side by side, cross-modal STDP synapses, pairing, noise, CLI."""
import json
import os

import numpy as np
import pytest
import yaml

from stdp_toolkit.datasets.noise import image_noise, parse_noise
from stdp_toolkit.errors import UserError
from stdp_toolkit.multimodal import accuracies, pair_by_class
from stdp_toolkit.network.builder import (build_network, cross_connectivity, ensemble_index, input_connectivity,
                                          input_weight_matrix)
from stdp_toolkit.network.config import Config
from stdp_toolkit.backends import Simulator
from stdp_toolkit.network.state import initial_state

from helpers import shared_data
from test_core_cli import assert_user_error, run_cli


def mm_config(n=6, cross=True, **extra):
    data = dict(name="mm-test", ensembles=[dict(name="image", n_inputs=16, n_neurons=n),
                                           dict(name="audio", n_inputs=9, n_neurons=n)],
                chunk_presentations=4, **extra)
    if cross:
        data["cross_modal"] = dict(rule="power_law", w_init=0.5, rule_params=dict(wmax=2.0, eta=0.05, x_tar=0.2))
    return Config.from_dict(data)


# ---- structure ------------------------------------------------------------------------------------
def test_sizes_are_the_sums_over_ensembles():
    cfg = mm_config(n=5)
    assert (cfg.n_inputs, cfg.n_neurons) == (25, 10)
    assert cfg.n_input_synapses == 16 * 5 + 9 * 5
    assert [e.name for e in cfg.ensemble_list()] == ["image", "audio"]


def test_input_synapses_stay_inside_their_ensemble():
    cfg = mm_config(n=5)
    i, j = input_connectivity(cfg)
    block_in = np.where(i < 16, 0, 1)
    assert np.array_equal(block_in, ensemble_index(cfg)[j])
    assert len(set(zip(i.tolist(), j.tolist()))) == cfg.n_input_synapses
    w = np.arange(1, cfg.n_input_synapses + 1, dtype=float)
    full = input_weight_matrix(cfg, w)
    assert full[:16, 5:].sum() == 0 and full[16:, :5].sum() == 0
    assert full.sum() == w.sum()


def test_cross_synapses_connect_only_different_ensembles_both_ways():
    cfg = mm_config(n=4)
    i, j = cross_connectivity(cfg)
    ens = ensemble_index(cfg)
    assert len(i) == 2 * 4 * 4
    assert np.all(ens[i] != ens[j])
    assert {(a, b) for a, b in zip(ens[i], ens[j])} == {(0, 1), (1, 0)}


def test_lateral_inhibition_stays_inside_an_ensemble():
    import brian2 as b2

    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    objs = build_network(mm_config(n=4), learning=False, n_presentations=1)
    ens = ensemble_index(mm_config(n=4))
    i, j = np.asarray(objs.syn_ie.i[:]), np.asarray(objs.syn_ie.j[:])
    assert len(i) == 2 * 4 * 3
    assert np.all(ens[i] == ens[j]) and np.all(i != j)


def test_cross_synapses_are_excitatory_plastic_and_absent_in_the_ablation():
    cfg = mm_config(n=6)
    sim = Simulator(cfg, learning=True, backend="runtime", codegen_target="numpy")
    syn = sim.objs.syn_cross
    pre_code = syn.pre.code
    assert "ge_post += w" in pre_code and "gi_post" not in pre_code
    assert syn.post is not None                        # learns at postsynaptic spikes
    rng = np.random.default_rng(0)
    x = (rng.random((4, cfg.n_inputs)) < 0.5).astype(float)
    state = initial_state(cfg, 0)
    r = sim.run(x, state, seed=1)
    w0, w1 = state["w_cross"], r.state["w_cross"]
    assert r.counts.sum() > 0
    assert not np.allclose(w0, w1)                     # plastic
    assert w1.min() >= 0 and w1.max() <= 2.0           # excitatory, bounded by wmax
    ablation = mm_config(n=6, cross=False)
    assert "w_cross" not in initial_state(ablation, 0)
    sim_a = Simulator(ablation, learning=True, backend="runtime", codegen_target="numpy")
    assert sim_a.objs.syn_cross is None
    assert not any("cross" in obj.name for obj in sim_a.objs.net.objects)


def test_a_spike_through_a_cross_synapse_excites_the_other_ensemble():
    """Drive only the image inputs: the audio ensemble receives conductance only via cross synapses."""
    cfg = mm_config(n=3, cross=True, delay_max=0.0)
    x = np.zeros((2, cfg.n_inputs))
    x[:, :16] = 1.0
    for w_cross, expect_audio in ((0.0, False), (30.0, True)):
        sim = Simulator(cfg, learning=False, backend="runtime", codegen_target="numpy")
        state = initial_state(cfg, 0)
        state["w"] = np.full(cfg.n_input_synapses, 1.0)
        state["w_cross"] = np.full(len(state["w_cross"]), w_cross)
        r = sim.run(x, state, seed=3)
        assert r.counts[:, :3].sum() > 0
        assert (r.counts[:, 3:].sum() > 0) == expect_audio


# ---- configuration errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("data, words", [
    (dict(cross_modal={"w_init": 0.1}), ["cross_modal", "two ensembles"]),
    (dict(ensembles=[{"name": "a", "n_inputs": 4}]), ["ensembles[0]", "name, n_inputs, n_neurons"]),
    (dict(ensembles=[{"name": "a", "n_inputs": 4, "n_neurons": 0}]), ["ensembles[0].n_neurons", "> 0"]),
    (dict(ensembles=[{"name": "a", "n_inputs": 4, "n_neurons": 2}] * 2), ["unique"]),
    (dict(n_neurons=7, ensembles=[{"name": "a", "n_inputs": 4, "n_neurons": 2},
                                  {"name": "b", "n_inputs": 4, "n_neurons": 2}]), ["sums over the ensembles"]),
    (dict(ensembles=[{"name": "a", "n_inputs": 4, "n_neurons": 2}, {"name": "b", "n_inputs": 4, "n_neurons": 2}],
          cross_modal={"strength": 1}), ["unknown setting", "strength"]),
    (dict(ensembles=[{"name": "a", "n_inputs": 4, "n_neurons": 2}, {"name": "b", "n_inputs": 4, "n_neurons": 2}],
          cross_modal={"rule": "additive"}), ["postsynaptic traces"]),
    (dict(ensembles=[{"name": "a", "n_inputs": 4, "n_neurons": 2}, {"name": "b", "n_inputs": 4, "n_neurons": 2}],
          compression={"prune": {"target": 0.5}}), ["compression", "multi-ensemble"]),
])
def test_invalid_multimodal_settings(data, words):
    with pytest.raises(UserError) as err:
        Config.from_dict(data)
    for w in words:
        assert w in str(err.value)


# ---- pairing and noise ----------------------------------------------------------------------------------
def test_pairing_matches_classes_uses_recordings_evenly_and_is_seeded():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 10, 1000)
    aud = np.repeat(np.arange(10), 7)
    p = pair_by_class(img, aud, seed=3)
    assert np.array_equal(aud[p], img)
    for c in range(10):
        uses = np.bincount(p[img == c], minlength=len(aud))[aud == c]
        assert uses.max() - uses.min() <= 1
    assert np.array_equal(p, pair_by_class(img, aud, seed=3))
    assert not np.array_equal(p, pair_by_class(img, aud, seed=4))
    with pytest.raises(UserError, match="no recording of digit 9"):
        pair_by_class(np.array([9]), np.array([0, 1]), seed=0)


def test_image_noise_levels():
    x = np.zeros((200, 784), np.float32)
    noisy = image_noise(x, "pixel", 0.3, seed=1)
    assert abs((noisy > 0).mean() - 0.3) < 0.01
    assert np.array_equal(noisy, image_noise(x, "pixel", 0.3, seed=1))
    ones = np.ones((5, 784), np.float32)
    occ = image_noise(ones, "occlusion", 0.25, seed=0)
    assert np.allclose((occ == 0).mean(axis=1), 14 * 14 / 784)
    assert np.array_equal(image_noise(ones, "gaussian", 0.0), ones)


@pytest.mark.parametrize("spec, words", [
    ("image:blur:0.3", ["unknown image noise kind", "pixel"]),
    ("image:pixel:1.5", ["[0, 1]"]),
    ("sound:snr:3", ["bad noise spec", "MODALITY:KIND:LEVELS"]),
    ("audio:snr:loud", ["bad noise levels"]),
])
def test_bad_noise_spec(spec, words):
    with pytest.raises(UserError) as err:
        parse_noise(spec)
    for w in words:
        assert w in str(err.value)


def test_accuracies_flattens_both_votes_of_every_readout():
    readouts = {"image": dict(accuracy=0.5, accuracy_proportion=0.6, mean_spikes=3.0),
                "both": dict(accuracy=0.9, accuracy_proportion=0.95, mean_spikes=7.0)}
    assert accuracies(readouts) == {"image": 0.5, "image_proportion": 0.6, "both": 0.9, "both_proportion": 0.95}


def test_noise_spec_levels():
    s = parse_noise("audio:snr:20,10,-5")
    assert (s.modality, s.kind, s.levels) == ("audio", "snr", (20.0, 10.0, -5.0))


# ---- real data: a small multimodal run through the CLI ---------------------------------------------------
MM_SMALL = """name: mm-small
ensembles:
  - {name: image, n_inputs: 784, n_neurons: 40}
  - {name: audio, n_inputs: 784, n_neurons: 40}
cross_modal: {rule: power_law, w_init: 0.0, rule_params: {eta: 0.05, x_tar: 0.1, wmax: 2.0}}
method: implicit_euler
label_samples: 600
chunk_presentations: 400
"""


@pytest.mark.slow
def test_small_real_data_multimodal_run_beats_chance(tmp_path):
    data = os.path.dirname(shared_data("mnist"))
    audio = shared_data("fsdd")
    cfg = tmp_path / "mm.yaml"
    cfg.write_text(MM_SMALL)
    out = tmp_path / "run"
    p = run_cli("train", str(cfg), "--data-dir", data, "--audio-dir", audio, "--train-samples", "800",
                "--out", str(out), "--quiet")
    assert p.returncode == 0, p.stderr
    p = run_cli("evaluate", str(out), "--data-dir", data, "--audio-dir", audio, "--test-samples", "300",
                "--noise", "image:pixel:0.5", "--json", "--workers", "1")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["test_samples"] == 300
    assert {"image", "audio", "both"} <= set(res["readouts"])
    assert res["accuracy"] > 0.3 and res["accuracy_image"] > 0.25 and res["accuracy_audio"] > 0.25
    assert res["noise"][0]["level"] == 0.5 and 0 <= res["noise"][0]["both"] <= 1
    assert all(0 <= res["noise"][0][f"{name}_proportion"] <= 1 for name in res["readouts"])
    p = run_cli("evaluate", str(out), "--data-dir", data, "--audio-dir", audio, "--test-samples", "100",
                "--noise", "audio:snr:0", "--workers", "1", "--quiet")
    assert p.returncode == 0, p.stderr
    assert "(mean-rate vote (proportion vote))" in p.stdout and "audio snr 0: image " in p.stdout
    assert "both_normalised_proportion" not in p.stdout   # each name once, its two votes beside it
    p = run_cli("plot", str(out), "--data-dir", data, "--audio-dir", audio, "--raster-samples", "2")
    assert p.returncode == 0, p.stderr
    names = set(os.listdir(out / "figures"))
    assert {"receptive_fields_image.png", "receptive_fields_audio.png", "cross_weights.png", "rasters.png",
            "noise_curves.png"} <= names


@pytest.mark.slow
def test_validation_split_holds_out_images_and_recordings():
    """'fit' and 'val' cut the training pairs: no image and no recording is in both, test is untouched."""
    from stdp_toolkit import multimodal as M
    from stdp_toolkit.datasets import fsdd_recording_number, load_digits, load_fsdd
    data = os.path.dirname(shared_data("mnist"))
    audio = shared_data("fsdd")
    cfg = Config.from_dict(yaml.safe_load(MM_SMALL))
    fit, val = (M.load_pairs(cfg, data, audio, s, 1000, seed=3) for s in ("fit", "val"))
    images, labels, _ = load_digits(data, "train")
    first_val = len(images) - 10_000
    assert list(fit.image_index) == list(range(1000))
    assert list(val.image_index) == list(range(first_val, first_val + 1000))
    np.testing.assert_array_equal(val.x[:, :784] * 255, images[val.image_index].reshape(1000, -1))
    np.testing.assert_array_equal(val.labels, labels[val.image_index])
    files = load_fsdd(audio, "train").files
    number = np.array([fsdd_recording_number(f) for f in files])
    assert set(number[val.audio_index]) <= set(range(5, 10)) and not set(number[fit.audio_index]) & set(range(5, 10))
    assert len(set(val.audio_index)) == 300  # every validation recording, each paired with its digit
    assert all(os.path.basename(files[a]).startswith(f"{y}_") for a, y in zip(val.audio_index, val.labels))
    with pytest.raises(UserError, match="unknown split"):
        M.load_pairs(cfg, data, audio, "validation", 10)
    with pytest.raises(UserError, match="only 10000"):
        M.load_pairs(cfg, data, audio, "val", 10_001)


def test_multimodal_cli_errors(tmp_path):
    cfg = tmp_path / "mm.yaml"
    cfg.write_text(MM_SMALL)
    p = run_cli("train", str(cfg), "--audio-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"),
                env={"STDP_DATA_DIR": ""})
    assert_user_error(p, "FSDD folder not found", "nowhere")
    bad = tmp_path / "fsdd"
    bad.mkdir()
    for d in range(10):
        (bad / f"{d}_theo_0.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
        (bad / f"{d}_theo_9.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    p = run_cli("train", str(cfg), "--audio-dir", str(bad), "--out", str(tmp_path / "r"), "--train-samples", "10")
    assert_user_error(p, "_theo_")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(MM_SMALL.replace("n_inputs: 784, n_neurons: 40}\ncross", "n_inputs: 700, n_neurons: 40}\ncross"))
    p = run_cli("train", str(wrong), "--audio-dir", str(bad), "--out", str(tmp_path / "r"))
    assert_user_error(p, "audio ensemble has 700 inputs")


@pytest.mark.slow
def test_multimodal_notebook(tmp_path):
    from helpers import execute_notebook, images, notebook_outputs

    data = os.path.dirname(shared_data("fsdd"))
    nb = execute_notebook("multimodal.ipynb", timeout=900, env={
        "STDP_DATA_DIR": data, "NB_NEURONS": "20", "NB_TRAIN": "400", "NB_TEST": "100",
        "NB_RUN_DIR": str(tmp_path / "run"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"})
    outputs = notebook_outputs(nb)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert len(images(outputs)) == 7     # each figure shown once: 2 + 3 + 1 + 1
