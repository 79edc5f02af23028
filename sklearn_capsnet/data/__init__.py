"""X and y as users hold them, read once.

Arrays, scikit-learn's checks, the layout rule, the fitted input spec, targets,
and the loader that hands batches to the network.

Internal: the public names are re-exported by :mod:`sklearn_capsnet`.
"""
