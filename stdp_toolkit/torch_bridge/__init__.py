"""PyTorch bridge: ANN→SNN conversion, hybrid STDB training, DIET-SNN, export to Brian2 and NIR.

Needs the optional ``torch`` extra (``pip install 'stdp-toolkit[torch]'``).  Importing this package
does not import torch; import the submodules (``functional``, ``layers``, ``models``, ``snn``,
``convert``, ``train``, ``metrics``, ``export_brian2``, ``export_nir``, ``data``) directly.
"""
