"""Neuron, input and plasticity models as data: Brian2 equation strings plus parameters."""
from .neurons import ADEX, ENCODINGS, EXCITATORY, INHIBITORY, IZHIKEVICH, NEURONS, NeuronModel, POISSON_INPUT
from .plasticity import RULES, PlasticityRule, get_rule

__all__ = ["ADEX", "ENCODINGS", "IZHIKEVICH", "NEURONS", "EXCITATORY", "INHIBITORY", "POISSON_INPUT", "NeuronModel", "RULES", "PlasticityRule", "get_rule"]
