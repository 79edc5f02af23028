"""ONNX export of a fitted net: raw rows in, class probabilities and capsules out.

Knows the skorch net's ``input_spec`` and module, nothing of the estimators.
"""

import contextlib
import copy
import logging
import os
import warnings

import torch
from torch import nn

from ..data.loader import RowReader
from ..nn.outputs import probabilities

__all__ = ["ONNX_OPSET", "export_onnx"]

ONNX_OPSET = 18
INPUT_NAME = "X"
OUTPUT_NAMES = ("probabilities", "capsules")


class RowsToProbabilities(nn.Module):
    """What ``predict_proba`` computes from rows of ``X``, as one torch module.

    ``rows`` ``[N, F]`` float32 in the order of ``X``'s values are scaled to
    ``(rows - offset) / scale``, rearranged to channels first, routed by the CapsNet,
    and turned into probabilities (multilabel: the capsule lengths).
    """

    def __init__(self, capsnet, spec, multilabel: bool) -> None:
        super().__init__()
        self.read = RowReader(spec)
        self.capsnet = capsnet
        self.multilabel = multilabel

    def forward(self, rows: torch.Tensor):
        capsules = self.capsnet(self.read(rows))  # [N, J, D]
        return probabilities(capsules, self.multilabel).float(), capsules


def export_onnx(net, path, *, multilabel: bool, metadata=None, opset: int = ONNX_OPSET) -> None:
    """Write the fitted skorch ``net`` as an ONNX graph with a dynamic batch size.

    A float32 copy of the module on the CPU is exported with torch's ONNX exporter
    (``dynamo=True``, which needs ``onnxscript``); the net itself is not touched.
    ``metadata`` (str to str) goes into the file's ``metadata_props``.
    """
    try:
        import onnxscript  # noqa: F401  (torch's exporter imports it)
    except ImportError:
        raise ImportError(
            "to_onnx needs the optional packages onnx and onnxscript (and onnxruntime to "
            "run the file): pip install 'sklearn-capsnet[onnx]'."
        ) from None
    capsnet = copy.deepcopy(net.capsnet()).float().cpu().eval()
    model = RowsToProbabilities(capsnet, net.input_spec, multilabel).eval()
    n_features = net.input_spec.n_features
    example = torch.zeros(2, n_features)
    batch = torch.export.Dim("batch")
    with torch.no_grad(), _quiet_exporter():
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes=({0: batch},),
            opset_version=opset,
            external_data=False,
            verbose=False,
        )
    program.save(os.fspath(path))
    if metadata:
        import onnx

        model = onnx.load(os.fspath(path))
        onnx.helper.set_model_props(model, dict(metadata))
        onnx.save(model, os.fspath(path))


@contextlib.contextmanager
def _quiet_exporter():
    """Hide the exporter's notes that concern torch, not the user (missing torchvision
    operators, internal deprecations); errors still show."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)
