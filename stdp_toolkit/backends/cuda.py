"""GPU backend (``--backend cuda``): the network of builder.py as CUDA code from brian2cuda.

brian2cuda's ``cuda_standalone`` device is a C++ standalone device, so this backend works like
``standalone`` (:mod:`stdp_toolkit.backends.standalone`): the network is generated and compiled once (with nvcc) into a
cached build directory, and every chunk re-runs the same binary with weights, state and stimuli
passed as ``run_args``. This module holds what differs from C++ standalone:

* finding nvcc and cuRAND, the compute capability and the nvcc flags (:func:`settings`);
* the per-run seed (cuRAND's generator instead of the C++ one, :func:`seed_code`);
* refusing what brian2cuda would simulate wrongly (:func:`check_network`, see docs/gpu.md);
* spike monitors sorted like on the other devices, and clear errors without a GPU.

The compute capability is, in this order: ``$STDP_CUDA_COMPUTE_CAPABILITY`` (e.g. ``8.6``),
``prefs.devices.cuda_standalone.cuda_backend.compute_capability``, the first visible GPU's, else
:data:`DEFAULT_COMPUTE_CAPABILITY`. nvcc gets ``-arch=sm_XY``, which also embeds PTX, so newer GPUs
run the build too (JIT-compiled by the driver at the first start).
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UserError
from .build import default_build_root
from .standalone import SEED_ENV, StandaloneSimulator

CC_ENV = "STDP_CUDA_COMPUTE_CAPABILITY"
NVCC_PREF = "devices.cuda_standalone.cuda_backend.extra_compile_args_nvcc"
# Turing (T4, RTX 20xx): the oldest architecture CUDA 13 still compiles for (12.x: 5.0)
DEFAULT_COMPUTE_CAPABILITY = 7.5
INSTALL_HINT = 'pip install -e ".[cuda]" on Python >= 3.12 (see docs/gpu.md)'


@dataclass(frozen=True)
class CudaSettings:
    nvcc: str
    cuda_release: float                 # toolkit version from ``nvcc --version``
    compute_capability: float
    gpu_id: int
    nvcc_flags: tuple                   # brian2cuda's extra_compile_args_nvcc with ours
    library_dirs: tuple                 # cuRAND from the nvidia-curand wheel, when the toolkit lacks it
    runtime_library_dirs: tuple
    brian2cuda: str


# ------------------------------------------------------------------------------------------------
# what is installed
# ------------------------------------------------------------------------------------------------
def find_nvcc() -> str | None:
    """nvcc as brian2cuda looks for it: $CUDA_PATH, PATH, /usr/local/cuda, /opt/cuda."""
    candidates = [os.path.join(os.environ["CUDA_PATH"], "bin", "nvcc")] if os.environ.get("CUDA_PATH") else []
    candidates += [shutil.which("nvcc") or "", "/usr/local/cuda/bin/nvcc", "/opt/cuda/bin/nvcc"]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def unavailable_reason() -> str | None:
    """Why a cuda build cannot be made here (None: brian2cuda and nvcc are there)."""
    if sys.version_info < (3, 12):
        return f"the cuda backend needs Python >= 3.12 (brian2cuda 1.0b1 pins brian2 2.10.1); this is {sys.version.split()[0]}"
    try:
        import brian2cuda  # noqa: F401
    except ImportError as exc:
        return f"brian2cuda is not installed ({exc}): {INSTALL_HINT}"
    if find_nvcc() is None:
        return "nvcc (the CUDA toolkit compiler) was not found on PATH, in $CUDA_PATH or /usr/local/cuda"
    return None


def _nvcc_release(nvcc: str) -> float:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=False).stdout
    for part in out.replace(",", " ").split("release ")[1:]:
        with contextlib.suppress(ValueError):
            return float(part.split()[0])
    raise UserError(f"could not read the CUDA version from `{nvcc} --version`:\n{out}")


def visible_gpus() -> list[str]:
    """GPUs the NVIDIA driver shows (``nvidia-smi -L``); empty without driver or GPU."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line for line in out.stdout.splitlines() if line.startswith("GPU ")] if out.returncode == 0 else []


def _has_curand(nvcc: str) -> bool:
    """Whether nvcc finds cuRAND by itself (a full CUDA toolkit ships it)."""
    probe = subprocess.run([nvcc, "-E", "-x", "cu", "-", "-o", os.devnull], input="#include <curand.h>\n",
                           capture_output=True, text=True, check=False)
    return probe.returncode == 0


def _curand_from_wheel() -> tuple[str, str, str] | None:
    """(include dir, lib dir, library file) of the ``nvidia-curand`` wheel, if installed."""
    try:
        import nvidia
    except ImportError:
        return None
    for root in list(getattr(nvidia, "__path__", [])):
        for sub in ("cu13", "cu12", "curand"):
            inc, lib = os.path.join(root, sub, "include"), os.path.join(root, sub, "lib")
            libs = sorted(glob.glob(os.path.join(lib, "libcurand.so*")))
            if os.path.isfile(os.path.join(inc, "curand.h")) and libs:
                return inc, lib, libs[0]
    return None


def _compute_capability(gpus: list[str]) -> tuple[float, int]:
    from brian2 import prefs

    text = os.environ.get(CC_ENV)
    if text:
        try:
            return float(text), 0
        except ValueError:
            raise UserError(f"${CC_ENV} must be a compute capability like 7.5 or 8.6, got {text!r}") from None
    pref = prefs["devices.cuda_standalone.cuda_backend.compute_capability"]
    if pref is not None:
        return float(pref), 0
    if gpus:
        from brian2cuda.utils.gputools import select_gpu

        gpu_id, cc = select_gpu()  # brian2cuda's choice: the GPU with the highest compute capability
        return float(cc), int(gpu_id)
    return DEFAULT_COMPUTE_CAPABILITY, 0


def settings(build_root: str) -> CudaSettings:
    """Toolkit, architecture and flags of a cuda build; UserError when something is missing."""
    reason = unavailable_reason()
    if reason:
        raise UserError(reason)
    import brian2cuda
    from brian2 import prefs

    nvcc = find_nvcc()
    release = _nvcc_release(nvcc)
    cc, gpu_id = _compute_capability(visible_gpus())
    oldest = 7.5 if release >= 13 else 5.0  # brian2cuda itself needs >= 5.0
    if cc < oldest:
        raise UserError(f"compute capability {cc} is not supported by CUDA {release} with brian2cuda "
                        f"(oldest: {oldest}); set ${CC_ENV} to your GPU's (see docs/gpu.md)")
    # CUDA 13's Thrust/CUB (used by brian2cuda's templates) need C++17; brian2 passes -std=c++11
    flags = [f for f in prefs[NVCC_PREF] if not f.startswith("-std=")] + ["-std=c++17"]
    lib_dirs, rpath = [], []
    if not _has_curand(nvcc):
        wheel = _curand_from_wheel()
        if wheel is None:
            raise UserError(f"{nvcc} does not find cuRAND (curand.h), which brian2cuda needs: install the "
                            "CUDA toolkit's cuRAND, or `pip install nvidia-curand` (cuRAND for CUDA 13)")
        inc, lib, libfile = wheel
        # the wheel has only libcurand.so.10: a libcurand.so link for ``-lcurand``, rpath to the real one
        link_dir = os.path.join(build_root, "cuda-curand")
        os.makedirs(link_dir, exist_ok=True)
        link = os.path.join(link_dir, "libcurand.so")
        if os.path.realpath(link) != os.path.realpath(libfile):
            tmp = f"{link}.{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            os.symlink(libfile, tmp)
            os.replace(tmp, link)  # atomic: parallel builds never see a missing link
        flags.append(f"-I{inc}")
        lib_dirs, rpath = [link_dir], [lib]
    return CudaSettings(nvcc, release, cc, gpu_id, tuple(flags), tuple(lib_dirs), tuple(rpath),
                        brian2cuda.__version__)


def build_key(base_key: str, s: CudaSettings) -> str:
    spec = json.dumps({"base": base_key, **asdict(s)}, sort_keys=True)
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


@contextlib.contextmanager
def build_prefs(s: CudaSettings):
    """Brian2 preferences for generating and compiling one cuda build; restored afterwards."""
    from brian2 import prefs

    cpp_args = "codegen.cpp.extra_compile_args" if prefs["codegen.cpp.extra_compile_args"] is not None \
        else "codegen.cpp.extra_compile_args_gcc"
    new = {
        # never query GPUs while generating code: the build also works on a machine without one
        "devices.cuda_standalone.cuda_backend.detect_gpus": False,
        "devices.cuda_standalone.cuda_backend.gpu_id": s.gpu_id,
        "devices.cuda_standalone.cuda_backend.compute_capability": s.compute_capability,
        NVCC_PREF: list(s.nvcc_flags),
        cpp_args: [a for a in prefs[cpp_args] if not a.startswith("-std=")] + ["-std=c++17"],
        "codegen.cpp.library_dirs": list(prefs["codegen.cpp.library_dirs"]) + list(s.library_dirs),
        "codegen.cpp.runtime_library_dirs": list(prefs["codegen.cpp.runtime_library_dirs"]) + list(s.runtime_library_dirs),
        # one nvcc job per core: each takes ~10 s of CPU and up to 1 GB (make's bare -j starts ~40 at once)
        "devices.cpp_standalone.extra_make_args_unix": [f"-j{os.cpu_count() or 1}"],
    }
    old = {name: prefs[name] for name in new}
    for name, value in new.items():
        prefs[name] = value
    try:
        yield
    finally:
        for name, value in old.items():
            prefs[name] = value


# ------------------------------------------------------------------------------------------------
# building
# ------------------------------------------------------------------------------------------------
def seed_code(env: str) -> str:
    """main() code seeding cuRAND from the environment: a fresh, reproducible stream per chunk."""
    return (f'{{ const char* _s = std::getenv("{env}");\n'
            "  if (_s) random_number_buffer.set_seed(std::strtoull(_s, NULL, 10)); }")


def check_network(objs) -> None:
    """Refuse what brian2cuda 1.0b1 would simulate wrongly (its documented known issues)."""
    import brian2 as b2

    if np.dtype(b2.prefs["core.default_float_dtype"]) != np.float64:
        # brian2cuda issue #254: the single-precision rewrite of literals can break generated code
        raise UserError("the cuda backend runs in double precision only; reset "
                        "prefs.core.default_float_dtype to float64")
    for obj in objs.net.objects:
        for pathway in getattr(obj, "_pathways", ()):  # Synapses only
            if obj.clock.dt_ != pathway.source.clock.dt_:
                # brian2cuda issue #222: spikes are lost when the synapses' dt differs from their source's
                raise UserError(f"synapses {obj.name} ({pathway.prepost}) run with another dt than their "
                                f"source group {pathway.source.name}: brian2cuda loses spikes there")


def _snapshot(directory: str) -> dict:
    files = {}
    for path in glob.glob(os.path.join(directory, "*")) + glob.glob(os.path.join(directory, "code_objects", "*")):
        if path.endswith((".cu", ".h", ".cpp")) or os.path.basename(path) == "makefile":
            with open(path) as fh:
                files[path] = (fh.read(), os.stat(path))
    return files


def build(device, directory: str, verbose: bool) -> None:
    """Generate the CUDA project and compile it with nvcc, recompiling only what changed.

    As for C++ standalone (build._build_incremental): some generated files list objects in an
    order that depends on Python's string hashing. A file whose new text holds the same lines in
    another order keeps its old text and time stamp, so ``make`` does not recompile it.
    """
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    before = _snapshot(directory)
    device.build(directory=directory, compile=False, run=False, with_output=verbose)
    for path, (old, st) in before.items():
        if not os.path.exists(path):
            continue
        with open(path) as fh:
            new = fh.read()
        if sorted(new.split()) == sorted(old.split()):
            if new != old:
                with open(path, "w") as fh:
                    fh.write(old)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    compiler, _ = get_compiler_and_args()
    try:
        device.compile_source(directory, compiler, False, False)
    except RuntimeError as exc:
        raise UserError(f"nvcc could not compile the CUDA network in {directory} ({exc}); the compiler's "
                        "messages are above. See docs/gpu.md for the architecture and toolkit settings.") from None


# ------------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------------
def require_gpu(build_dir: str) -> None:
    if not visible_gpus() and not glob.glob("/dev/nvidia[0-9]*"):
        raise UserError(f"no NVIDIA GPU is visible here (nvidia-smi lists none): the cuda build in {build_dir} "
                        "is compiled but can only run on a machine with a GPU and its driver. "
                        "Use --backend standalone on this machine.")


def run_failed(results_dir: str, exc: Exception) -> UserError:
    """The binary's own message (a CUDA error such as a missing driver) as a UserError."""
    tail = ""
    with contextlib.suppress(OSError):
        with open(os.path.join(results_dir, "stdout.txt")) as fh:
            tail = "".join(fh.readlines()[-5:]).strip()
    return UserError(f"the CUDA simulation failed: {tail or exc}. It needs an NVIDIA GPU with compute capability "
                     f"of at least the build's and a driver for this CUDA version (see docs/gpu.md).")


def sort_spikes(i: np.ndarray, t: np.ndarray):
    """Spikes by time, then neuron, as other devices record them (brian2cuda issue #46)."""
    order = np.lexsort((i, t))
    return i[order], t[order]


class CudaSimulator(StandaloneSimulator):
    """The standalone program on brian2cuda's cuda_standalone device."""

    backend = "cuda"

    def _setup(self, record_input, record_inhibitory, *, build_root, codegen_target):
        """The standalone set-up on brian2cuda's cuda_standalone device, compiled with nvcc.

        Builds without a GPU (for the compute capability of :func:`settings`); running needs one.
        """
        root = build_root or default_build_root()
        found = settings(root)  # UserError when brian2cuda, nvcc or cuRAND are missing
        self._setup_compiled("cuda_standalone", root, "cuda-",
                             build_key(self._key(record_input, record_inhibitory), found),
                             build_prefs(found), seed_code(SEED_ENV), build,
                             record_input, record_inhibitory, check=check_network)

    def _run(self, stim, n_valid, state, seed):
        require_gpu(self.build_dir)
        try:
            pres_sample, pres_boosts, si, st, new_state, extra, sample, runaway = super()._run(
                stim, n_valid, state, seed)
        except RuntimeError as exc:
            raise run_failed(self._device.results_dir, exc) from None
        extra = (*(None if sp is None else sort_spikes(*sp) for sp in extra[:2]), extra[2])
        return (pres_sample, pres_boosts, *sort_spikes(si, st), new_state, extra, sample, runaway)
