"""The skorch net that trains a CapsNet: skorch's loop with the capsule loss."""

import contextlib

import torch
from skorch import NeuralNet
from skorch.utils import to_tensor

__all__ = ["CapsNetTrainer", "accelerated_trainer", "autocast"]


class CapsNetTrainer(NeuralNet):
    """skorch ``NeuralNet`` whose loss also decodes the masked capsules.

    The module returns class capsules ``[B, J, D]``; :meth:`get_loss` reconstructs
    the batch from the capsule of the true class and hands capsules, targets,
    reconstruction and (scaled, augmented) inputs to the criterion. With
    ``precision=torch.bfloat16`` the forward pass runs under autocast and its
    capsules come back in float32.
    """

    def __init__(self, *args, precision=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    def infer(self, x, **fit_params):
        with autocast(self.precision, x):
            return super().infer(x, **fit_params).float()

    def capsnet(self):
        """The CapsNet module itself (not a data-parallel wrapper around it)."""
        return self.module_

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=y_pred.device)
        reconstruction = None
        if self.criterion_.reconstruction_weight:
            reconstruction = self.capsnet().reconstruct(y_pred, y_true)
        return self.criterion_(y_pred, y_true, reconstruction, X)


def autocast(precision, x):
    """``torch.autocast`` to ``precision`` where ``x`` lives, or nothing when None."""
    if precision is None:
        return contextlib.nullcontext()
    device_type = x.device.type if isinstance(x, torch.Tensor) else "cpu"
    return torch.autocast(device_type, dtype=precision)


def accelerated_trainer():
    """The trainer with skorch's ``AccelerateMixin``: data-parallel through accelerate."""
    from skorch.hf import AccelerateMixin

    class AcceleratedCapsNetTrainer(AccelerateMixin, CapsNetTrainer):
        def capsnet(self):
            return self.accelerator.unwrap_model(self.module_)

        def evaluation_step(self, batch, training=False):
            # every process predicts every row itself: no gathering across processes
            return CapsNetTrainer.evaluation_step(self, batch, training=training)

    return AcceleratedCapsNetTrainer
