"""The trainer: datasets, augmentation, captions, contrastive losses, training, evaluation and the
recipes that build the packaged checkpoints (``prism train``, ``prism model ...``).

Imports the runtime encoder (:mod:`backend.model`); no server module imports this package
(tests/foundation/test_layering.py, tests/foundation/test_runtime_imports.py).
"""
