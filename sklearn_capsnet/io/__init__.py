"""Files: the safe model file, ONNX export, atomic writes.

Internal: the public names are re-exported by :mod:`sklearn_capsnet`.
"""
