"""One home for checking what a user hands the toolkit: numbers, sizes, labels.

Every check raises :class:`~stdp_toolkit.errors.UserError` with one line that names the value, what
it must be (with its unit) and, where it is not obvious, how to fix it. Config values are plain
floats in the units of the models (``units`` in ``stdp_toolkit/models``): ms, mV, Hz; weights and
conductances are dimensionless (relative to the leak conductance).

Bounds, and why:

* every number is **finite**: NaN and inf pass ``<`` / ``>`` comparisons silently and then hang a
  run or break the C++ build;
* **time constants** (``tau_*``) are > 0 ms; under forward Euler a decay ``dx/dt = -x / tau`` is only
  stable for ``tau > dt / 2`` (one step multiplies ``x`` by ``1 - dt / tau``), see
  :func:`euler_tau_floor`;
* **durations** (refractory periods, ``t_on``, ``t_rest``) are >= 0 and at most
  :data:`MAX_DURATION_MS`; a longer one is almost always a unit mistake (values are in ms). A
  presentation is at most :data:`MAX_STEPS_PER_PRESENTATION` steps, ``t_on`` and ``t_rest`` whole
  numbers of steps, ``t_on`` at least one; input delays (``delay_max``) at most ``t_rest``, so no
  input spike of one sample arrives during the next;
* **voltages** lie within +-:data:`MAX_VOLTAGE_MV`;
* **rates** are >= 0 Hz and a Poisson input draws at most one spike per step, so the fastest rate
  (``max_rate + max_boosts * boost_rate``) times ``dt`` must be <= 1: <= 2 kHz at dt = 0.5 ms;
* **weights** (conductance steps) are >= 0; one spike's step ``w`` must keep one forward-Euler step
  of the membrane equation ``dv/dt = ((v_rest - v) + g (E - v)) / tau_m`` stable,
  ``dt (1 + w) / tau_m < 2`` (:func:`max_conductance_step`); the stable methods
  (exponential/implicit Euler) allow up to :data:`MAX_CONDUCTANCE`, far beyond any synapse, which
  keeps the arithmetic finite;
* **sizes** are integers; counts that the compiled code indexes with 32-bit integers (synapses,
  stimulus values) are at most :data:`MAX_INT32`, and a network is checked against the machine's
  memory (:func:`check_memory`) before anything is allocated;
* **labels** are integers 0..n_classes-1 (:func:`check_labels`).
"""
from __future__ import annotations

import math
import numbers
import os

import numpy as np

from .errors import UserError

MAX_INT32 = 2**31 - 1
MAX_DURATION_MS = 1e7            # ~2.8 h of simulated time
MAX_VOLTAGE_MV = 1000.0
MAX_CONDUCTANCE = 1e6            # relative to the leak
MAX_STEPS_PER_PRESENTATION = 10**7


# ------------------------------------------------------------------------------------------------
# numbers
# ------------------------------------------------------------------------------------------------
def is_number(value) -> bool:
    """A real number (Python or numpy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:      # an int too large for a float
        return False


def is_whole(value) -> bool:
    """An integer, or a finite float with no fractional part (YAML's 100.0)."""
    if isinstance(value, numbers.Integral):
        return not isinstance(value, (bool, np.bool_))
    return is_number(value) and _finite(value) and float(value).is_integer()


def show(value, limit: int = 60) -> str:
    """repr of a value for a one-line message, cut to ``limit`` characters.

    Bounded work too: YAML aliases can make a small file a structure whose full repr is huge.
    """
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 3, 4, 6, 6, 6
    r.maxstring = r.maxother = r.maxlong = limit
    text = " ".join(r.repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bound(x) -> str:
    return f"{x:,}" if isinstance(x, numbers.Integral) else f"{x:g}"


def _range_text(low, high, low_open, high_open) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {_bound(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {_bound(high)}")
    return " and ".join(parts)


def _fail(name, value, kind, low, high, low_open, high_open, unit, fix, what):
    rng = _range_text(low, high, low_open, high_open)
    text = f"{what} {name} must be {kind}"
    if rng:
        text += f" {rng}"
    if unit and unit != "1":
        text += f" (in {unit})"
    text += f", got {show(value)}"
    if fix:
        text += f"; {fix}"
    raise UserError(text)


def _in_range(value, low, high, low_open, high_open) -> bool:
    if low is not None and not (value > low if low_open else value >= low):
        return False
    if high is not None and not (value < high if high_open else value <= high):
        return False
    return True


def number(name: str, value, *, low=None, high=None, low_open: bool = False, high_open: bool = False,
           unit: str = "", fix: str = "", what: str = "config value", kind: str = "a finite number") -> float:
    """``value`` as a float if it is a finite number within the bounds, else a UserError."""
    ok = is_number(value) and _finite(value) and _in_range(value, low, high, low_open, high_open)
    if not ok:
        _fail(name, value, kind, low, high, low_open, high_open, unit, fix, what)
    return float(value)


def integer(name: str, value, *, low=None, high=MAX_INT32, low_open: bool = False, high_open: bool = False,
            unit: str = "", fix: str = "", what: str = "config value") -> int:
    """``value`` as an int if it is a whole number within the bounds (100.0 is accepted as 100)."""
    ok = is_whole(value)
    if ok:
        value = int(value)
        ok = _in_range(value, low, high, low_open, high_open)
    if not ok:
        _fail(name, value, "an integer", low, high, low_open, high_open, unit, fix, what)
    return value


def option_type(whole: bool, low=None, high=None, low_open=False, high_open=False):
    """An argparse ``type=`` for a finite number (or whole number) within bounds: one line on a bad value.

    Example::

        p.add_argument("--epochs", type=option_type(True, low=1))
    """
    import argparse

    def parse(text):
        t = str(text).strip()
        try:
            value = int(t) if whole else float(t)
        except ValueError:
            value = None
            if whole:   # 1e3 is a whole number too
                try:
                    value = float(t)
                except ValueError:
                    pass
        if value is None:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if whole else 'a number'}, got {text!r}")
        try:
            if whole:
                return integer("value", value, low=low, high=MAX_INT32 if high is None else high,
                               low_open=low_open, high_open=high_open, what="")
            return number("value", value, low=low, high=high, low_open=low_open, high_open=high_open, what="")
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc).strip()) from None

    parse.__name__ = "integer" if whole else "number"
    return parse


MAX_SEED = 2**32 - 1                                  # numpy and Brian2 seeds: 0 .. 2^32-1
COUNT = option_type(True, low=1)                      # sizes, samples, epochs, workers: a whole number >= 1
SEED = option_type(True, low=0, high=MAX_SEED)


def choice(name: str, value, options, what: str = "config value") -> str:
    """``value`` if it is one of the strings ``options``."""
    if not isinstance(value, str) or value not in options:
        raise UserError(f"{what} {name} must be one of {', '.join(options)}; got {show(value)}")
    return value


def string_keys(name: str, mapping: dict, what: str = "config section") -> dict:
    """``mapping`` if it is a dict whose keys are all strings (YAML allows 1: or [a]: as keys)."""
    if not isinstance(mapping, dict):
        raise UserError(f"{what} {name} must be a mapping of setting: value, got {show(mapping)}")
    bad = [k for k in mapping if not isinstance(k, str)]
    if bad:
        raise UserError(f"{what} {name} has key(s) {show(sorted(map(repr, bad)))} that are not names; "
                        "keys must be words such as tau_m")
    return mapping


def unknown_keys(keys, known) -> list[str]:
    """Keys not in ``known``, sorted as text (keys of mixed types cannot be sorted themselves)."""
    return sorted(map(str, set(keys) - set(known)))


# ------------------------------------------------------------------------------------------------
# model parameters by unit
# ------------------------------------------------------------------------------------------------
# units a model parameter may be declared in (Brian2 names)
MODEL_UNITS = ("1", "ms", "second", "mV", "volt", "Hz", "pF", "farad", "nS", "siemens", "pA", "nA", "amp")


def in_unit(name: str, value, unit: str):
    """A Brian2 quantity (``50*ms``) as a number in ``unit``; numbers pass through (they are in ``unit``)."""
    if not type(value).__module__.startswith("brian2"):
        return value
    import brian2 as b2

    target = b2.Unit(1) if unit == "1" else getattr(b2, unit)
    if not isinstance(value, b2.Quantity) or value.size != 1:
        raise UserError(f"{name} must be one number or quantity in {unit}, got {show(value)}")
    if b2.get_dimensions(value) != b2.get_dimensions(target):
        raise UserError(f"{name} = {value} has the wrong unit: it is a quantity in {unit}, e.g. "
                        f"{name.rsplit('.', 1)[-1]}=20*{unit if unit != '1' else 'b2.Unit(1)'}")
    return float(value / target)


def model_parameter(where: str, key: str, value, unit: str, low=None, low_open: bool = False) -> float:
    """A neuron, input or plasticity parameter in its unit (ms, mV, Hz or dimensionless).

    ``low`` overrides the unit's lower bound (e.g. 0 for ``theta_plus``, > 0 for ``wmax``).
    """
    name = f"{where}.{key}"
    value = in_unit(name, value, unit)
    if unit == "ms" and key.startswith("tau"):
        return number(name, value, low=0.0 if low is None else low, low_open=True if low is None else low_open,
                      unit="ms", kind="a finite time constant")
    if unit == "ms":
        return number(name, value, low=0.0 if low is None else low, low_open=low_open, high=MAX_DURATION_MS,
                      unit="ms", fix="values are in ms (350 is 0.35 s)")
    if unit == "mV":
        return number(name, value, low=-MAX_VOLTAGE_MV if low is None else low, low_open=low_open,
                      high=MAX_VOLTAGE_MV, unit="mV")
    if unit == "Hz":
        return number(name, value, low=0.0 if low is None else low, low_open=low_open, unit="Hz")
    return number(name, value, low=low, low_open=low_open, unit=unit)


def equation_variables(equations: str, where: str) -> dict:
    """Variables that Brian2 ``equations`` define and a run changes (all but subexpressions), in
    the order written, with their physical dimensions; a syntax error is one line naming ``where``."""
    if not equations.strip():
        return {}
    import brian2 as b2
    from brian2.equations.equations import SUBEXPRESSION

    try:
        eqs = b2.Equations(equations)
    except Exception as exc:  # Brian2 raises EquationError, SyntaxError or ValueError here
        raise UserError(f"{where}: not valid Brian2 equations ({' '.join(str(exc).split())})") from None
    return {name: eq.dim for name, eq in eqs.items() if eq.type != SUBEXPRESSION}


def euler_tau_floor(dt_ms: float) -> float:
    """Shortest time constant (exclusive) a forward-Euler decay integrates stably at ``dt``."""
    return dt_ms / 2.0


def max_conductance_step(tau_m_ms: float, dt_ms: float, method: str) -> float:
    """Largest weight (conductance step relative to the leak) one spike may add to a neuron.

    Forward Euler of ``dv/dt = ((v_rest - v) + g (E - v)) / tau_m`` is stable while
    ``dt (1 + g) / tau_m < 2``; exponential and linearly implicit Euler are stable for any g, and
    there :data:`MAX_CONDUCTANCE` only keeps the arithmetic finite.
    """
    if method == "euler":
        return min(MAX_CONDUCTANCE, 2.0 * tau_m_ms / dt_ms - 1.0)
    return MAX_CONDUCTANCE


# ------------------------------------------------------------------------------------------------
# memory
# ------------------------------------------------------------------------------------------------
def physical_memory() -> int | None:
    """Bytes of memory this process may use: physical memory, or a smaller cgroup limit; None if unknown."""
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit():
            sizes.append(int(text))
    sizes = [s for s in sizes if s > 0]
    return min(sizes) if sizes else None


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def check_memory(nbytes: float, what: str, fix: str, available: int | None = None) -> None:
    """UserError if ``nbytes`` (a lower bound of what ``what`` needs) exceeds this machine's memory."""
    available = physical_memory() if available is None else available
    if available is not None and nbytes > available:
        raise UserError(f"{what} needs at least {_gib(nbytes)} of memory but this machine has {_gib(available)}; {fix}")


# ------------------------------------------------------------------------------------------------
# labels
# ------------------------------------------------------------------------------------------------
def check_labels(labels, source: str, n_classes: int = 10) -> np.ndarray:
    """``labels`` as uint8 if they are integers 0..n_classes-1 (any integer dtype), else a UserError.

    Checked before any cast, so an int32 label 300 is reported instead of becoming 44.
    """
    arr = np.asarray(labels)
    # integers of any width; floats only when every value is a whole number (labels kept in a float array)
    whole = arr.dtype.kind in "iu" or (arr.dtype.kind == "f" and bool(np.isfinite(arr).all())
                                       and bool((arr == np.round(arr)).all()))
    if not whole:
        raise UserError(f"{source}: labels must be whole class numbers 0..{n_classes - 1}, got dtype "
                        f"{arr.dtype}; store them as integers (e.g. an IDX unsigned-byte label file)")
    if arr.ndim != 1:
        raise UserError(f"{source}: labels must be one number per sample (a 1-D array), got shape {arr.shape}")
    if arr.size:
        lo, hi = arr.min(), arr.max()
        if lo < 0 or hi >= n_classes:
            raise UserError(f"{source}: labels outside 0..{n_classes - 1} (found {lo:g}..{hi:g}); the readout has "
                            f"{n_classes} classes, so relabel the data to 0..{n_classes - 1}")
    return arr.astype(np.uint8) if n_classes <= 256 else arr.astype(np.int64)


# ------------------------------------------------------------------------------------------------
# YAML
# ------------------------------------------------------------------------------------------------
def _yaml_loader():
    import re

    import yaml

    class StrictLoader(yaml.SafeLoader):
        """Safe YAML that refuses duplicate keys and reads 1e-4 / 1e9 as numbers (YAML 1.2), not text."""

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":   # << merges may be overridden
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = seen.get(key)
                    except TypeError:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"a list or mapping cannot be a key ({show(key)})",
                            key_node.start_mark) from None
                    if first is not None:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {show(key)} (first given on line {first.line + 1}); "
                            "keep one of them", key_node.start_mark)
                    seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep=deep)

    StrictLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"))
    return StrictLoader


_LOADER = None


def load_yaml(path: str, what: str = "config file"):
    """The YAML document in ``path``; any problem is a UserError with the line and column."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _yaml_loader()
    if not os.path.isfile(path):
        raise UserError(f"{what} not found: {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not a text (UTF-8) YAML file: undecodable byte at offset {exc.start}; "
                        f"give the YAML {what}, not a binary file") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        context = f" ({' '.join(str(exc.context).split())})" if exc.context and exc.problem else ""
        raise UserError(f"{path}{where}: not valid YAML: {problem}{context}") from None
    except yaml.reader.ReaderError as exc:
        raise UserError(f"{path}: not valid YAML: character {exc.character!r} at position {exc.position} "
                        "cannot appear in a YAML file; remove it") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise UserError(f"{path}: YAML nested too deeply to be a config") from None
    except (ValueError, OverflowError) as exc:    # e.g. a date 2020-02-30, which the timestamp resolver takes
        raise UserError(f"{path}: not valid YAML: a value cannot be read ({exc}); quote it if it is text") from None


# ------------------------------------------------------------------------------------------------
# output paths: checked before any work, so a long run never fails at its first save
# ------------------------------------------------------------------------------------------------
def _nearest_existing(path: str) -> str:
    p = os.path.abspath(path)
    while not os.path.lexists(p) and os.path.dirname(p) != p:
        p = os.path.dirname(p)
    return p


def check_output_dir(path: str, option: str = "--out") -> str:
    """``path`` is, or can be created as, a folder this process can write; else one UserError line.

    Nothing is created: a probe file is opened (and removed at once) in the nearest existing
    folder, which is the only test that also sees read-only file systems and quotas.
    """
    import tempfile

    if not str(path).strip():
        raise UserError(f"{option} is empty; give a folder")
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{option} {path} is a file, not a folder; choose a folder (e.g. runs/NAME)")
    base = _nearest_existing(path)
    if not os.path.isdir(base):
        raise UserError(f"{option} {path} lies under {base}, which is a file, not a folder; choose another {option}")
    try:
        with tempfile.TemporaryFile(dir=base):
            pass
    except OSError as exc:
        raise UserError(f"cannot write to {base} ({exc.strerror}); choose another {option}") from None
    return path


def check_output_file(path: str, option: str = "--out") -> str:
    """``path`` can be written as a file: not a folder, not under a file, in a writable folder."""
    if not str(path).strip():
        raise UserError(f"{option} is empty; give a file path")
    if os.path.isdir(path) or str(path).endswith(("/", os.sep)):
        raise UserError(f"{option} {path} is a folder; give a file name inside it")
    base = _nearest_existing(os.path.dirname(os.path.abspath(path)))
    if not os.path.isdir(base):
        raise UserError(f"{option} {path} lies under {base}, which is a file, not a folder; choose another {option}")
    check_output_dir(os.path.dirname(os.path.abspath(path)), option)
    return path
