"""Pruning and conductance quantization during STDP training, with a compression/energy report."""
