"""The skorch net that trains a CapsNet: skorch's loop with the capsule loss."""

from skorch import NeuralNet
from skorch.utils import to_tensor

__all__ = ["CapsNetTrainer"]


class CapsNetTrainer(NeuralNet):
    """skorch ``NeuralNet`` whose loss also decodes the masked capsules.

    The module returns class capsules ``[B, J, D]``; :meth:`get_loss` reconstructs
    the batch from the capsule of the true class and hands capsules, targets,
    reconstruction and (scaled, augmented) inputs to the criterion.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        reconstruction = None
        if self.criterion_.reconstruction_weight:
            reconstruction = self.module_.reconstruct(y_pred, y_true)
        return self.criterion_(y_pred, y_true, reconstruction, X)
