"""Nothing silently wrong: config and CLI values, label files and the progress watchdog.

Unit tests only (numpy, no compiled simulation); the property-based tests (hypothesis) feed
random and mutated configs, YAML files, label arrays and IDX files to the readers and require a
clean ``UserError`` or a valid result: never another exception, never a hang.
"""
import glob
import math
import os
import struct
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from fuzzing import EXAMPLES, no_hang
from stdp_toolkit import cli, experiment, validation as V
from stdp_toolkit.datasets import load_idx, load_mnist
from stdp_toolkit.errors import UserError
from stdp_toolkit.network.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = sorted(glob.glob(os.path.join(ROOT, "networks", "*.yaml")))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _idx(arr: np.ndarray, type_code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[type_code]
    header = struct.pack(">BBBB", 0, 0, type_code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.asarray(arr).astype(dtype).tobytes()


def _mnist_dir(path, images, labels, label_type=0x08):
    path.mkdir(exist_ok=True)
    (path / "train-images-idx3-ubyte").write_bytes(_idx(images))
    (path / "train-labels-idx1-ubyte").write_bytes(_idx(labels, label_type))
    return str(path)


# ------------------------------------------------------------------------------------------------
# shipped configs
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SHIPPED, ids=os.path.basename)
def test_every_shipped_config_loads_and_validates(path):
    cfg = Config.load(path)
    assert Config.from_dict(cfg.to_dict()) == cfg          # validation is idempotent
    assert cfg.min_memory_bytes() < 2**30                   # all of them fit in 1 GiB
    cfg.check_memory()


def test_there_are_shipped_configs():
    assert len(SHIPPED) >= 8


# ------------------------------------------------------------------------------------------------
# the cases of the issue: each one line naming the value, the bound and its unit
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, words", [
    ("w_init: .nan", ["w_init", "finite", "nan"]),
    ("w_init: .inf", ["w_init", "finite", "inf"]),
    ("theta_init: .nan", ["theta_init", "finite", "mV"]),
    ("excitatory: {tau_m: 0}", ["excitatory.tau_m", "> 0", "ms"]),
    ("excitatory: {tau_m: -10.0}", ["excitatory.tau_m", "> 0", "ms"]),
    ("inhibitory: {tau_m_i: .nan}", ["inhibitory.tau_m_i", "finite"]),
    ("method: euler\nw_ie: 1.0e+308", ["w_ie", "< 399", "dt (1 + w) / tau_m < 2"]),
    ("w_ie: 1e308", ["w_ie", "< 1e+06"]),                 # YAML 1.2 float: a number, not the text '1e308'
    ("input: {max_rate: .nan}", ["input.max_rate", "finite", "Hz"]),
    ("input: {max_rate: 1.0e+9}", ["1e+09 Hz", "exceeds 1/dt = 2000 Hz", "one spike per time step"]),
    ("input: {boost_rate: 500.0}", ["max_boosts x input.boost_rate", "5063.75 Hz"]),
    ("norm_total: .inf", ["norm_total", "finite", "inf"]),
    ("n_neurons: 1000000000", ["784,000,000,000 input synapses", "32-bit", "fewer n_neurons"]),
    ("n_neurons: 1.0e+9", ["784,000,000,000 input synapses"]),
    ("n_neurons: 100.5", ["n_neurons", "integer"]),
    ("n_neurons: 50000", ["inhibitory->excitatory synapses", "32-bit"]),
    ("chunk_presentations: 10000000", ["stimulus values per chunk", "chunk_presentations"]),
    ("excitatory: {tau_ge: 0.2}", ["excitatory.tau_ge", "dt/2 = 0.25 ms", "exponential_euler"]),
    ("rule_params: {tau_post2: 0.1}", ["rule_params.tau_post2", "too short"]),
    ("dt: 1.0e-9", ["steps of dt", "at most 10,000,000"]),
    ("input: {t_on: 350.2}", ["input.t_on", "whole number of time steps"]),
    ("delay_max: 1000", ["delay_max", "<= 150", "input.t_rest", "next sample"]),
    ("input: {t_rest: 5.0}", ["delay_max", "<= 5", "got 10.0"]),
    ("method: euler\nw_ei: 40", ["w_ei", "< 39"]),
    ("rule_params: {wmax: .inf}", ["rule_params.wmax", "finite"]),
    ("rule: power_law\nrule_params: {mu: -1}", ["rule_params.mu", ">= 0"]),
    ("excitatory: {theta_plus: -0.05}", ["excitatory.theta_plus", ">= 0", "mV"]),
    ("excitatory: {v_rest: -1.0e+6}", ["excitatory.v_rest", "mV"]),
    ("excitatory: {refractory_e: 1.0e+12}", ["excitatory.refractory_e", "in ms"]),
    ("max_boosts: 100000000000000000000000", ["max_boosts", "2,147,483,647"]),
    ("name: [1, 2]", ["name", "text"]),
    ("rule: [dc_trace]", ["unknown STDP rule"]),
    ("excitatory: {1: 2}", ["excitatory", "not names"]),
    ("1: 2\n", ["unknown setting", "'1'"]),
    ("ensembles: [{name: a/b, n_inputs: 4, n_neurons: 2}]", ["ensembles[0].name", "letters"]),
    ("n_neurons: 10\nn_neurons: 20", ["line 2, column 1", "duplicate key 'n_neurons'", "line 1"]),
    ("a: [1, 2\nb: 3", ["line 2", "column", "not valid YAML"]),
    ("x: 2020-02-30", ["not valid YAML", "quote it"]),
    ("excitatory:\n  tau_m: 100\n  tau_m: 50", ["line 3", "duplicate key 'tau_m'"]),
])
def test_bad_config_values_give_one_clean_line(tmp_path, capsys, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text + "\n")
    # --data-dir points nowhere: a config that wrongly validated would stop there, never train
    rc = cli.main(["train", str(path), "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1, err
    assert "data directory" not in lines[0], lines[0]
    for w in words:
        assert w in lines[0], lines[0]


def test_binary_config_is_one_line_from_the_command_line(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "weights.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    p = subprocess.run([sys.executable, "-m", "stdp_toolkit.cli", "train", str(path), "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=120)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(lines) == 1, p.stderr
    assert "not a text (UTF-8) YAML file" in lines[0]


def test_yaml_merge_keys_may_override_and_numbers_in_e_notation_are_numbers(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {tau_m: 100.0, tau_ge: 1.0}\n")
    data = V.load_yaml(str(path))
    assert data == {"base": {"tau_m": 100.0, "tau_ge": 1.0}}
    path.write_text("rule_params: {nu_pre: 1e-4, nu_post: 1.0e-2}\nw_init: 3e-1\n")
    cfg = Config.load(str(path))
    assert cfg.plasticity().params["nu_pre"] == 1e-4 and cfg.w_init == 0.3
    path.write_text("d: &d {a: 1, b: 2}\ne:\n  <<: *d\n  b: 3\n")   # an explicit key overrides a merged one
    assert V.load_yaml(str(path))["e"] == {"a": 1, "b": 3}


def test_integer_settings_given_as_whole_floats_become_ints():
    cfg = Config.from_dict({"n_neurons": 100.0, "chunk_presentations": 50.0, "epochs": np.int64(2)})
    assert cfg.n_neurons == 100 and type(cfg.n_neurons) is int
    assert type(cfg.chunk_presentations) is int and type(cfg.epochs) is int
    ens = Config.from_dict({"ensembles": [{"name": "a", "n_inputs": 16.0, "n_neurons": 4},
                                          {"name": "b", "n_inputs": 9, "n_neurons": 4.0}]})
    assert (ens.n_inputs, ens.n_neurons) == (25, 8)
    assert type(ens.ensembles[0]["n_inputs"]) is int and type(ens.ensembles[1]["n_neurons"]) is int


def test_numbers_keep_their_type_so_build_caches_stay_valid():
    cfg = Config(w_init=1, dt=0.5, norm_total=78).validate()
    assert type(cfg.w_init) is int and type(cfg.norm_total) is int
    assert type(Config(dt=np.float32(0.5)).validate().dt) is float


def test_stable_methods_allow_stronger_weights_but_not_absurd_ones():
    Config(method="implicit_euler", w_ie=500.0).validate()          # stable for any conductance
    Config(method="exponential_euler", excitatory={"tau_ge": 0.1}).validate()
    with pytest.raises(UserError, match="w_ie"):
        Config(method="implicit_euler", w_ie=1e7).validate()
    with pytest.raises(UserError, match="w_ie"):
        Config(method="euler", w_ie=500.0).validate()


def test_memory_is_checked_before_allocating(monkeypatch, tmp_path):
    cfg = Config(n_neurons=6400, chunk_presentations=500).validate()
    with pytest.raises(UserError, match=r"needs at least .* GiB of memory but this machine has 0.1 GiB; use fewer"):
        cfg.check_memory(available=2**27)
    cfg.check_memory(available=2**40)
    # train and respond check it before any array is built
    monkeypatch.setattr(V, "physical_memory", lambda: 2**20)
    monkeypatch.setattr(experiment, "Simulator", _must_not_build)
    with pytest.raises(UserError, match="memory"):
        experiment.train(Config(n_neurons=10).validate(), np.zeros((3, 784)), np.zeros(3, np.uint8), str(tmp_path))


def test_physical_memory_is_known_here():
    n = V.physical_memory()
    assert n is None or n > 2**20


def test_cli_seed_must_be_non_negative(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("n_neurons: 10\n")
    with pytest.raises(SystemExit) as ex:
        cli.main(["train", str(cfg), "--seed", "-1", "--out", str(tmp_path / "r")])
    assert ex.value.code == 2 and "--seed" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# the number validators
# ------------------------------------------------------------------------------------------------
def test_number_and_integer_messages():
    with pytest.raises(UserError, match=r"config value x must be a finite number > 0 \(in ms\), got nan; fix it"):
        V.number("x", float("nan"), low=0, low_open=True, unit="ms", fix="fix it")
    with pytest.raises(UserError, match=r"must be an integer >= 0 and <= 2,147,483,647, got 2147483648"):
        V.integer("n", 2**31, low=0)
    with pytest.raises(UserError, match="got True"):
        V.number("x", True)
    assert V.integer("n", 7.0) == 7 and V.number("x", np.float32(0.5)) == 0.5
    with pytest.raises(UserError) as err:
        V.integer("n", "1" * 100)                          # long values are cut in messages
    assert "..." in str(err.value) and len(str(err.value)) < 150


_ANY = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**40, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.lists(st.integers(), max_size=3), st.sampled_from([np.int64(3), np.float32(0.5), np.nan, 10**400]),
)


@PROPERTY
@given(value=_ANY, low=st.none() | st.floats(-1e6, 1e6), high=st.none() | st.floats(-1e6, 1e6),
       low_open=st.booleans(), high_open=st.booleans(), integer=st.booleans())
def test_property_number_validators_return_a_bounded_finite_number_or_a_user_error(value, low, high, low_open,
                                                                                     high_open, integer):
    check = V.integer if integer else V.number
    try:
        out = check("x", value, low=low, high=high, low_open=low_open, high_open=high_open)
    except UserError as exc:
        assert "\n" not in str(exc) and "x must be" in str(exc)
        event("user error")
        return
    event("accepted")
    assert type(out) is (int if integer else float) and (integer or math.isfinite(out))
    if low is not None:
        assert out > low if low_open else out >= low
    if high is not None:
        assert out < high if high_open else out <= high


# ------------------------------------------------------------------------------------------------
# property: random and mutated configs
# ------------------------------------------------------------------------------------------------
def _shipped_dicts():
    out = []
    for path in SHIPPED:
        with open(path) as fh:
            out.append(yaml.safe_load(fh))
    return out


SHIPPED_DICTS = _shipped_dicts()
_SECTION_KEYS = {
    "excitatory": ["v_rest", "v_reset", "v_thresh", "E_exc", "E_inh", "tau_m", "tau_ge", "tau_gi", "refractory_e",
                   "theta_plus", "theta_offset", "tau_theta", "bogus"],
    "inhibitory": ["v_rest_i", "v_reset_i", "v_thresh_i", "E_inh_i", "tau_m_i", "tau_ge", "refractory_i"],
    "input": ["max_rate", "boost_rate", "t_on", "t_rest"],
    "rule_params": ["nu_pre", "nu_post", "wmax", "tau_pre", "tau_post1", "tau_post2", "eta", "x_tar", "mu",
                    "a_plus", "tau_post"],
    "cross_modal": ["rule", "rule_params", "w_init", "strength"],
    "compression": ["interval", "prune", "quantize"],
    "audio": ["sample_rate", "n_mels", "n_frames", "window_ms", "hop_ms", "fmin", "fmax", "top_db", "scaling",
              "range_db", "floor_db", "gamma"],
}
_TOP_KEYS = list(Config.__dataclass_fields__) + ["bogus", 1]
_NASTY = st.one_of(
    _ANY,
    st.sampled_from([0, -1, 1, 0.0, -0.0, 1e-308, 5e-324, 1e308, 1.0, 100.0, 100.5, 2**31, 2**63, 1000000000,
                     "", "dc_trace", "power_law", "additive", "vogels", "izhikevich", "euler", "implicit_euler", "1e9", [], {}, [{}],
                     {"prune": {}}, {"quantize": {"levels": 4}}, {"tau_m": 0}, {"rule": "additive"},
                     [{"name": "image", "n_inputs": 784, "n_neurons": 2}, {"name": "audio", "n_inputs": 784,
                                                                           "n_neurons": 2}]]),
    st.dictionaries(st.text(max_size=6), st.integers() | st.floats(), max_size=3),
)


@st.composite
def mutated_config(draw):
    data = dict(draw(st.sampled_from(SHIPPED_DICTS)))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            data[draw(st.sampled_from(_TOP_KEYS))] = draw(_NASTY)
        else:
            section = draw(st.sampled_from(sorted(_SECTION_KEYS)))
            inner = dict(data.get(section) or {}) if isinstance(data.get(section), dict) else {}
            inner[draw(st.sampled_from(_SECTION_KEYS[section]))] = draw(_NASTY)
            data[section] = inner
        if draw(st.integers(0, 4)) == 0 and isinstance(data.get("ensembles"), list) and data["ensembles"]:
            ens = [dict(e) if isinstance(e, dict) else e for e in data["ensembles"]]
            k = draw(st.integers(0, len(ens) - 1))
            if isinstance(ens[k], dict):
                ens[k][draw(st.sampled_from(["name", "n_inputs", "n_neurons", "extra"]))] = draw(_NASTY)
            data["ensembles"] = ens
        if draw(st.integers(0, 5)) == 0 and data:
            data.pop(draw(st.sampled_from(sorted(data, key=str))))
    return data


def _assert_valid(cfg: Config):
    """What a config that passed validation guarantees."""
    for key in ("dt", "w_init", "w_ei", "w_ie", "norm_total", "theta_init", "delay_max"):
        assert math.isfinite(getattr(cfg, key)) and getattr(cfg, key) >= 0, key
    for key in ("n_neurons", "n_inputs", "chunk_presentations", "epochs", "max_boosts", "min_spikes"):
        assert type(getattr(cfg, key)) is int, key
    for model in (cfg.excitatory_model(), cfg.inhibitory_model(), cfg.input_model(), cfg.plasticity(),
                  cfg.inhibitory_plasticity() or cfg.plasticity()):
        assert all(math.isfinite(v) for v in model.params.values())
    inp = cfg.input_model().params
    assert (inp["max_rate"] + cfg.max_boosts * inp["boost_rate"]) * cfg.dt * 1e-3 <= 1
    assert 1 <= cfg.steps_per_presentation <= V.MAX_STEPS_PER_PRESENTATION
    assert cfg.n_input_synapses <= V.MAX_INT32 and cfg.min_memory_bytes() > 0
    assert Config.from_dict(cfg.to_dict()) == cfg


def _user_error_or_valid(data):
    """Config.from_dict gives a one-line UserError or a config that passes every check."""
    with no_hang():
        try:
            cfg = Config.from_dict(data)
        except UserError as exc:
            assert "\n" not in str(exc)
            event("user error")
            return
        event("valid config")
        _assert_valid(cfg)


@PROPERTY
@given(data=mutated_config())
def test_property_mutated_configs_give_a_user_error_or_a_valid_config(data):
    _user_error_or_valid(data)


@PROPERTY
@given(data=st.dictionaries(st.sampled_from(_TOP_KEYS), _NASTY, max_size=6))
def test_property_random_configs_give_a_user_error_or_a_valid_config(data):
    _user_error_or_valid(data)


@pytest.fixture(scope="module")
def yaml_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("yaml")


def _load_text(yaml_dir, payload: bytes):
    path = os.path.join(yaml_dir, "cfg.yaml")
    with open(path, "wb") as fh:
        fh.write(payload)
    with no_hang():
        try:
            cfg = Config.load(path)
        except UserError as exc:
            assert "\n" not in str(exc)
            event("user error")
            return
        event("valid config")
        _assert_valid(cfg)


SHIPPED_TEXTS = [open(p, "rb").read() for p in SHIPPED]


@st.composite
def mutated_yaml(draw):
    raw = bytearray(draw(st.sampled_from(SHIPPED_TEXTS)))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate_line"]))
        piece = draw(st.one_of(st.binary(min_size=1, max_size=4),
                               st.sampled_from([b":", b"-", b"[", b"{", b"\t", b" ", b"\n", b".nan", b".inf", b"0",
                                                b"-1", b"1e9", b"&a", b"*a", b"!!binary", b"<<: ", b"\xff", b"\x00"])))
        if op == "insert":
            raw[pos:pos] = piece
        elif op == "delete":
            del raw[pos: pos + len(piece)]
        elif op == "replace":
            raw[pos: pos + len(piece)] = piece
        else:
            lines = raw.split(b"\n")
            k = pos % max(1, len(lines))
            lines.insert(k, lines[k])
            raw = bytearray(b"\n".join(lines))
    return bytes(raw)


@PROPERTY
@given(payload=mutated_yaml())
def test_property_mutated_yaml_files_give_a_user_error_or_a_valid_config(yaml_dir, payload):
    _load_text(yaml_dir, payload)


@PROPERTY
@given(payload=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "replace"))))
def test_property_random_files_give_a_user_error_or_a_valid_config(yaml_dir, payload):
    _load_text(yaml_dir, payload)


# ------------------------------------------------------------------------------------------------
# labels (part 4)
# ------------------------------------------------------------------------------------------------
def test_labels_250_to_255_are_refused_at_load_time(tmp_path):
    d = _mnist_dir(tmp_path / "m", np.zeros((6, 28, 28), np.uint8), np.arange(250, 256))
    with pytest.raises(UserError, match=r"train-labels-idx1-ubyte: labels outside 0..9 \(found 250..255\)"):
        load_mnist(d)


def test_int32_labels_above_255_are_refused_not_wrapped(tmp_path):
    d = _mnist_dir(tmp_path / "m", np.zeros((3, 28, 28), np.uint8), np.array([256, 512, 768]), label_type=0x0C)
    with pytest.raises(UserError, match="found 256..768"):
        load_mnist(d)
    d = _mnist_dir(tmp_path / "ok", np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 9]), label_type=0x0C)
    x, y = load_mnist(d)                              # int32 files with labels 0..9 are fine
    assert y.dtype == np.uint8 and y.tolist() == [1, 2, 9]


def test_float_labels_must_be_whole_numbers(tmp_path):
    d = _mnist_dir(tmp_path / "m", np.zeros((2, 28, 28), np.uint8), np.array([1.5, 2.0]), label_type=0x0D)
    with pytest.raises(UserError, match="whole class numbers"):
        load_mnist(d)
    assert V.check_labels(np.array([1.0, 2.0]), "x").tolist() == [1, 2]


def test_idx_file_with_zero_images_is_one_clear_error(tmp_path):
    d = _mnist_dir(tmp_path / "m", np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    with pytest.raises(UserError, match="holds no image data"):
        load_mnist(d)
    assert load_idx(os.path.join(d, "train-images-idx3-ubyte")).shape == (0, 28, 28)
    with pytest.raises(UserError, match="no training samples"):   # the in-memory path, without a reshape traceback
        experiment.train(Config(n_neurons=10).validate(), np.zeros((0, 28, 28), np.uint8), np.zeros(0), "unused")


def test_training_and_evaluation_refuse_bad_labels_before_simulating(monkeypatch, tmp_path):
    monkeypatch.setattr(experiment, "Simulator", _must_not_build)
    cfg = Config(n_neurons=10).validate()
    x = np.zeros((3, 784), np.uint8)
    with pytest.raises(UserError, match="training labels: labels outside 0..9"):
        experiment.train(cfg, x, np.array([1, 2, 300]), str(tmp_path))
    run = experiment.RunState(cfg=cfg, seed=0, state={}, assignments=np.zeros(10, int),
                              proportions=np.zeros((10, 10)))
    with pytest.raises(UserError, match="test labels: labels outside 0..9 \\(found 0..250\\)"):
        experiment.evaluate(run, x, np.array([0, 5, 250]))
    with pytest.raises(UserError, match="labelling labels"):
        experiment.label(run, x, np.array([-1, 0, 1]))


def test_images_must_be_finite_pixels():
    with pytest.raises(UserError, match="NaN or infinite"):
        experiment.to_unit(np.array([[0.0, np.nan]]))
    with pytest.raises(UserError, match=r"values in \[-1, 2\]"):
        experiment.to_unit(np.array([[-1.0, 2.0]]))
    assert experiment.to_unit(np.zeros((0, 28, 28))).shape == (0, 784)


def test_cifar_and_ann_train_loader_check_labels(tmp_path):
    pytest.importorskip("torch")
    from stdp_toolkit.torch_bridge.data import load_dataset

    _mnist_dir(tmp_path / "mnist", np.zeros((2, 28, 28), np.uint8), np.array([3, 200]))
    os.rename(tmp_path / "mnist" / "train-images-idx3-ubyte", tmp_path / "mnist" / "t10k-images-idx3-ubyte")
    os.rename(tmp_path / "mnist" / "train-labels-idx1-ubyte", tmp_path / "mnist" / "t10k-labels-idx1-ubyte")
    with pytest.raises(UserError, match="labels outside 0..9"):
        load_dataset("mnist", str(tmp_path), "test")


@PROPERTY
@given(labels=hnp.arrays(dtype=st.one_of(hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(),
                                         hnp.boolean_dtypes()),
                         shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6)))
def test_property_labels_are_classes_0_to_9_or_a_user_error(labels):
    try:
        out = V.check_labels(labels, "labels")
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("labels: ")
        event("user error")
        return
    event("valid labels")
    assert out.dtype == np.uint8 and out.ndim == 1 and (out <= 9).all()
    np.testing.assert_array_equal(out, labels)         # nothing was cast into another value


@st.composite
def idx_payload(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]))
    raw = bytearray(_idx(np.zeros(shape), code))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(raw)))
        piece = draw(st.binary(min_size=1, max_size=4))
        if draw(st.booleans()):
            raw[pos: pos + len(piece)] = piece
        else:
            del raw[pos: pos + len(piece)]
    return bytes(raw)


@PROPERTY
@given(payload=st.one_of(idx_payload(), st.binary(max_size=64)))
def test_property_idx_reader_gives_an_array_or_a_user_error(yaml_dir, payload):
    path = os.path.join(yaml_dir, "data-idx")
    with open(path, "wb") as fh:
        fh.write(payload)
    with no_hang():
        try:
            arr = load_idx(path)
        except UserError as exc:
            assert "\n" not in str(exc) and path in str(exc)
            event("user error")
            return
    event("array")
    assert isinstance(arr, np.ndarray) and arr.dtype.byteorder in "=|"


# ------------------------------------------------------------------------------------------------
# the progress watchdog
# ------------------------------------------------------------------------------------------------
def _must_not_build(*args, **kwargs):
    raise AssertionError("a simulator was built although the input was invalid")


class FakeSimulator:
    """Stands in for backends.Simulator: finishes ``plan[k]`` samples in its k-th run."""

    def __init__(self, cfg, plan, n_presentations=None):
        self.cfg, self.plan, self.calls = cfg, list(plan), 0
        self.n_presentations = n_presentations or cfg.chunk_presentations
        self.backend, self.build_seconds = "runtime", 0.0

    def run(self, images, state, seed):
        k = self.plan[self.calls] if self.calls < len(self.plan) else self.plan[-1]
        self.calls += 1
        k = min(k, len(images))
        return SimpleNamespace(consumed=k, counts=np.ones((k, self.cfg.n_neurons), np.int32),
                               boosts=np.zeros(k, np.int32), state={"w": np.asarray(state["w"]) + 0.0}, runaway=False)


def _install(monkeypatch, plan):
    made = []

    def factory(cfg, learning, backend="standalone", codegen_target=None, **kw):
        made.append(FakeSimulator(cfg, plan))
        return made[-1]

    monkeypatch.setattr(experiment, "Simulator", factory)
    return made


def test_training_on_blank_images_with_short_chunks_stops_with_the_cause(monkeypatch, tmp_path):
    made = _install(monkeypatch, [0])
    cfg = Config(n_neurons=3, n_inputs=4, chunk_presentations=4, max_boosts=10).validate()
    with no_hang(), pytest.raises(UserError) as err:
        experiment.train(cfg, np.zeros((6, 4)), np.zeros(6, np.uint8), str(tmp_path), quiet=True)
    msg = str(err.value)
    assert "no sample finished in 10 chunks" in msg and "max_boosts + 1 = 11" in msg
    assert "raise chunk_presentations above max_boosts" in msg and "\n" not in msg
    assert made[0].calls == experiment.STALL_CHUNKS


def test_a_stall_with_room_for_every_sample_is_reported_as_a_bug(monkeypatch, tmp_path):
    _install(monkeypatch, [0])
    cfg = Config(n_neurons=3, n_inputs=4, chunk_presentations=20, max_boosts=10).validate()
    with pytest.raises(RuntimeError, match="this is a bug"):
        experiment.train(cfg, np.zeros((6, 4)), np.zeros(6, np.uint8), str(tmp_path), quiet=True)


def test_slow_progress_is_not_a_stall(monkeypatch, tmp_path):
    # nine empty chunks, then one sample, over and over: always progressing, never stopped
    plan = ([0] * (experiment.STALL_CHUNKS - 1) + [1]) * 4
    made = _install(monkeypatch, plan)
    cfg = Config(n_neurons=3, n_inputs=4, chunk_presentations=4).validate()
    run = experiment.train(cfg, np.zeros((4, 4)), np.zeros(4, np.uint8), str(tmp_path), quiet=True)
    assert run.samples_seen == 4 and made[0].calls == len(plan)


def test_evaluation_of_blank_images_stops_with_the_cause(monkeypatch):
    cfg = Config(n_neurons=3, n_inputs=4, chunk_presentations=4).validate()
    from stdp_toolkit.network.state import initial_state

    run = experiment.RunState(cfg=cfg, seed=0, state=initial_state(cfg, 0))
    sim = FakeSimulator(cfg, [2, 0])     # the first round finishes two samples, then nothing
    with no_hang(), pytest.raises(UserError, match="test: no sample finished in 10 chunks in a row"):
        experiment.respond(run, np.zeros((9, 4)), "test", sim=sim, quiet=True)
    counts, _ = experiment.respond(run, np.zeros((9, 4)), "test", sim=FakeSimulator(cfg, [1]), quiet=True)
    assert counts.shape == (9, 3) and (counts == 1).all()


# the real (runtime, numpy) simulator: a tiny network, a few presentations
TINY = dict(n_inputs=16, n_neurons=4, input={"t_on": 20.0, "t_rest": 15.0})


def test_real_blank_images_with_short_chunks_stop_instead_of_looping(tmp_path):
    cfg = Config(chunk_presentations=3, max_boosts=3, **TINY).validate()
    with no_hang(120), pytest.raises(UserError, match="no sample finished in 10 chunks in a row"):
        experiment.train(cfg, np.zeros((5, 16), np.uint8), np.zeros(5, np.uint8), str(tmp_path), seed=0,
                         backend="runtime", codegen_target="numpy", quiet=True)


def test_real_resumed_run_stays_identical_with_the_watchdog(tmp_path):
    cfg = Config(chunk_presentations=4, max_boosts=2, **TINY).validate()
    rng = np.random.default_rng(0)
    x, y = (rng.random((6, 16)) * 255).astype(np.uint8), rng.integers(0, 10, 6)
    kw = dict(seed=3, backend="runtime", codegen_target="numpy", quiet=True)
    full = experiment.train(cfg, x, y, str(tmp_path / "a"), **kw)
    experiment.train(cfg, x, y, str(tmp_path / "b"), stop_after_chunks=1, **kw)
    resumed = experiment.train(cfg, x, y, str(tmp_path / "b"), **kw)
    assert full.samples_seen == resumed.samples_seen == 6 and full.chunks_done == resumed.chunks_done
    for key in full.state:
        np.testing.assert_array_equal(full.state[key], resumed.state[key], err_msg=key)
    assert full.curve == resumed.curve


def test_sub_configs_are_typed_parsed_once_and_never_stale():
    """compression, cross_modal and audio come back as typed settings, parsed by validate() and reused;
    editing a section afterwards gives the edited settings, never the cached ones."""
    from stdp_toolkit.compression.settings import CompressionSettings
    from stdp_toolkit.network.config import CrossModalSettings

    cfg = Config.from_dict(dict(ensembles=[dict(name="image", n_inputs=784, n_neurons=20),
                                           dict(name="audio", n_inputs=784, n_neurons=20)],
                                cross_modal=dict(w_init=0.05), audio=dict(n_mels=28)))
    s = cfg.cross_modal_settings()
    assert isinstance(s, CrossModalSettings) and s.w_init == 0.05 and s.rule == "power_law"
    assert cfg.cross_modal_settings() is s and cfg.audio_settings() is cfg.audio_settings()
    cfg.cross_modal["w_init"] = 0.1
    assert cfg.cross_modal_settings().w_init == 0.1

    plain = Config(compression=dict(interval=1000, prune=dict(target=0.5))).validate()
    c = plain.compression_settings()
    assert isinstance(c, CompressionSettings) and c.prune.target == 0.5 and plain.compression_settings() is c
    plain.compression["prune"]["target"] = 0.7
    assert plain.compression_settings().prune.target == 0.7
    assert Config().validate().compression_settings() is None
