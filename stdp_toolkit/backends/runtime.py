"""Brian2 runtime mode: the network's objects stay alive in this process between chunks.

Cython by default (``codegen_target="numpy"`` needs no compiler); good for notebooks, small runs
and a user's model while it is being written.
"""
from __future__ import annotations

import brian2 as b2

from ..network.builder import build_network
from . import fpenv
from .base import Simulator, _retire_previous


class RuntimeSimulator(Simulator):
    """The network in Brian2's runtime device; ``build_root`` is not used."""

    backend = "runtime"

    def _setup(self, record_input, record_inhibitory, *, build_root, codegen_target):
        _retire_previous(self)
        if b2.get_device().__class__.__name__ != "RuntimeDevice":
            b2.set_device("runtime")
        b2.prefs.codegen.target = codegen_target or "cython"
        b2.defaultclock.dt = self.cfg.dt * b2.ms
        self.objs = build_network(self.cfg, self.learning, self.n_presentations, record_input, record_inhibitory,
                                  self.traces)
        ctrl, net = self.objs.ctrl, self.objs.net

        # simulate only the presentations needed: a chunk of 20 samples ends after ~20 presentations,
        # not after chunk_presentations (one Python call per presentation)
        @b2.network_operation(clock=self.objs.presentations.clock, when="start", name="stop_when_done")
        def stop_when_done():
            if ctrl.sample[0] >= ctrl.n_valid[0] or ctrl.runaway[0] > 0:
                net.stop()

        net.add(stop_when_done)
        stop_when_done._network = net.id    # the network's own object (see build_network)
        net.run(0 * b2.ms, namespace={})  # generate the code now: a model's mistake shows before any data is read

    def _run(self, stim, n_valid, state, seed):
        o = self.objs
        o.stimulus.values[:] = stim
        o.ctrl.n_valid = n_valid
        o.ctrl.sample = 0
        o.ctrl.boosts = 0
        o.ctrl.count = 0
        o.ctrl.spike_limit = self.spike_limit
        o.ctrl.runaway = 0
        t_offset = float(o.net.t / b2.second)
        for view, value in self._state_values(state, t_offset):
            view[:] = value
        if self.cfg.delay_max > 0:
            o.syn_input.delay = o.syn_input.d[:]
        offsets = {m.name: len(m.i) for m in (o.spikes_exc, o.spikes_input, o.spikes_inh) if m is not None}
        offsets["presentations"] = len(o.presentations.t)
        if o.traces is not None:
            offsets["traces"] = len(o.traces.t)
        b2.seed(int(seed) % (2**32))
        with fpenv.flush_denormals() as self.flushes_subnormals:
            o.net.run(self.n_presentations * self.cfg.presentation_ms * b2.ms, namespace={})
        pres_sample, pres_boosts, si, st, extra = self._read_monitors(t_offset, offsets)
        return (pres_sample, pres_boosts, si, st, self._read_state(float(o.ctrl.elapsed[0])), extra,
                float(o.ctrl.sample[0]), float(o.ctrl.runaway[0]))
