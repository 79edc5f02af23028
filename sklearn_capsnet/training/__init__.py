"""The skorch net that trains a CapsNet, and its hooks.

Building and running it, callbacks, checkpoints, the precision and thread
choices, batched prediction.

Internal: the public names are re-exported by :mod:`sklearn_capsnet`.
"""
