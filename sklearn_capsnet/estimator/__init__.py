"""The public estimators and their parameter policy.

The one table of hyper-parameters (:mod:`.params`), get/set_params, fit, the
answers over X, the capsule methods, save and load.

Internal: the public names are re-exported by :mod:`sklearn_capsnet`.
"""
