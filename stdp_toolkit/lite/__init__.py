"""LITE-SNN: lightweight spiking sequence models (event-camera data and text) and their baselines.

Modules: :mod:`.events` (N-MNIST reader, binning), :mod:`.text` (SST-2 tokeniser/vocabulary),
:mod:`.models` (vanilla LIF stack, LITE, LSTM/GRU/ReLU-CNN baselines), :mod:`.metrics`
(parameters, synaptic operations, energy), :mod:`.synthetic` (length-controlled recall task),
:mod:`.train` (training loops, checkpoints), :mod:`.report` (comparison table and plot) and :mod:`.cli`
(``lite-train``, ``lite-seqlen``, ``lite-report``).
Only :mod:`.cli`, :mod:`.events` and :mod:`.text` import without torch.
"""
