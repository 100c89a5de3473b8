"""Neuron, input and plasticity models as data: Brian2 equation strings plus parameters."""
from .neurons import EXCITATORY, INHIBITORY, NeuronModel, POISSON_INPUT
from .plasticity import RULES, PlasticityRule, get_rule

__all__ = ["EXCITATORY", "INHIBITORY", "POISSON_INPUT", "NeuronModel", "RULES", "PlasticityRule", "get_rule"]
