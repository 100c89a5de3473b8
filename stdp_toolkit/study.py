"""Seeds x configs as one study on Dask: every run trained, labelled and tested, then one table.

Each (config, seed) pair is an independent task (:func:`stdp_toolkit.pipeline.fit`, then
:func:`stdp_toolkit.pipeline.evaluate_run`) in its own run folder, ``OUT/<config>-s<seed>``, so an
interrupted study resumes every run from its last checkpoint when run again. A local cluster of
processes runs the tasks on this machine's cores; ``scheduler="tcp://host:8786"`` on an existing
Dask cluster (every worker needs this package, the configs and the data at the same paths).

The table gives, per config, the mean and standard deviation over seeds (ddof 1) of both votes,
next to the test set's own standard error, sqrt(p (1 - p) / n): a seed spread well above it is
variation between trained networks, not between test digits.

Example::

    res = st.study.run_study(["networks/dc100.yaml", "networks/dc400.yaml"], [0, 1, 2], "runs/study",
                             data_dir="../shared/data")
    print(st.study.markdown(res["summary"]))
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from . import checkpoint, cluster
from .errors import UserError


def _train_and_test(config_path: str, seed: int, run_dir: str, data_dir, audio_dir, train_samples, test_samples) -> dict:
    """One run of the study (in a Dask worker): fit, evaluate, and what the table needs."""
    from . import pipeline
    from .network.config import Config

    t0 = time.perf_counter()
    cfg = Config.load(config_path)
    x, y, source = pipeline.load_data(cfg, data_dir, "train", train_samples, audio_dir=audio_dir, seed=seed)
    # one process per run: the study's parallelism is its Dask workers (which cannot start processes)
    run, metrics = pipeline.fit(cfg, x, y, run_dir, seed=seed, quiet=True, source=source, workers=1)
    ev = pipeline.evaluate_run(run_dir, data_dir, test_samples, workers=1, quiet=True, audio_dir=audio_dir)
    return dict(config=cfg.name, config_path=config_path, seed=int(seed), run_dir=run_dir,
                train_samples=int(len(x)), samples_seen=int(run.samples_seen),
                ms_per_train_sample=1e3 * metrics["seconds_per_sample"],
                accuracy=ev["accuracy"], accuracy_proportion=ev["accuracy_proportion"],
                test_samples=ev["test_samples"], spikes_per_sample=ev["mean_spikes_per_sample"],
                minutes=(time.perf_counter() - t0) / 60, worker_pid=os.getpid())


def summarise(runs: list[dict], keys=("accuracy", "accuracy_proportion", "spikes_per_sample")) -> list[dict]:
    """Per config (in the order given): mean ± sd over seeds of ``keys`` and the test set's standard error."""
    out = []
    for name in dict.fromkeys(r["config"] for r in runs):
        rs = [r for r in runs if r["config"] == name]
        row = dict(config=name, seeds=[r["seed"] for r in rs], test_samples=rs[0]["test_samples"])
        for key in keys:
            v = np.array([r[key] for r in rs], float)
            row[key] = [float(a) for a in v]
            row[key + "_mean"] = float(v.mean())
            row[key + "_sd"] = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
        p, n = row["accuracy_mean"], row["test_samples"]
        row["test_standard_error"] = math.sqrt(p * (1 - p) / n) if n else float("nan")
        out.append(row)
    return out


def _percent(row: dict, key: str) -> str:
    """``mean ± sd %`` of one vote (the sd is left out for a single seed)."""
    sd = row[key + "_sd"]
    return f"{100 * row[key + '_mean']:.2f}" + ("" if math.isnan(sd) else f" ± {100 * sd:.2f}") + " %"


def markdown(summary: list[dict]) -> str:
    """The table as Markdown (percentages)."""
    lines = ["| config | seeds | mean-rate vote | proportion vote | test-set SE | spikes/sample |",
             "|---|---|---|---|---|---|"]
    for r in summary:
        lines.append(f"| {r['config']} | {len(r['seeds'])} | {_percent(r, 'accuracy')} | "
                     f"{_percent(r, 'accuracy_proportion')} | {100 * r['test_standard_error']:.2f} | "
                     f"{r['spikes_per_sample_mean']:.1f} |")
    return "\n".join(lines)


def run_study(configs, seeds, out: str, *, data_dir=None, audio_dir=None, train_samples=None, test_samples=None,
              scheduler: str | None = None, workers: int | None = None) -> dict:
    """Train and test every config with every seed on Dask; write ``OUT/study.json``, ``OUT/study.md``
    and ``OUT/figures/study.png``.

    Returns ``{"runs": [...], "summary": [...]}`` (one row per run; one per config, see :func:`summarise`).
    """
    from .network.config import Config
    from .backends import Simulator

    if not configs:
        raise UserError("a study needs at least one config (e.g. networks/dc100.yaml)")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"a study needs distinct seeds, got {seeds}")
    cfgs = [Config.load(c) for c in configs]          # every config is checked before any work
    names = [c.name for c in cfgs]
    if len(set(names)) != len(names):
        raise UserError(f"two configs share the name {sorted(n for n in names if names.count(n) > 1)[0]!r}: "
                        "their runs would share folders; give each config its own name")
    for c in cfgs:
        c.check_memory()
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    data_dir = os.path.abspath(data_dir) if data_dir else None
    audio_dir = os.path.abspath(audio_dir) if audio_dir else None
    client = cluster.client_for(scheduler, workers)   # a bad address fails before any build
    try:
        # build (or find) every binary here, so that workers never compile one concurrently
        for c in cfgs:
            for learning in (True, False):
                Simulator(c, learning=learning, backend="standalone").close()
        cluster.prepare_workers(client)
        futures = [client.submit(_train_and_test, os.path.abspath(path), s, os.path.join(out, f"{c.name}-s{s}"),
                                 data_dir, audio_dir, train_samples, test_samples, pure=False)
                   for path, c in zip(configs, cfgs) for s in seeds]
        runs = client.gather(futures)
    finally:
        cluster.close(client, scheduler)
    result = {"runs": runs, "summary": summarise(runs)}
    checkpoint.write_json(os.path.join(out, "study.json"), result)
    checkpoint.atomic_write(os.path.join(out, "study.md"),
                            lambda fh: fh.write((markdown(result["summary"]) + "\n").encode()))
    from . import plots
    plots.save(plots.study(result["summary"]), os.path.join(out, "figures", "study.png"))
    return result
