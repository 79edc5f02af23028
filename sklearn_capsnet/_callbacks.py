"""skorch callbacks the estimators add to every training run."""

import torch
from skorch.callbacks import Callback

__all__ = ["EpochSeed"]


class EpochSeed(Callback):
    """Seed torch at the start of each epoch from the run's seed and the epoch number.

    Epoch ``k`` then draws the same shuffling and shifts however training got there:
    in one ``fit``, over several ``partial_fit`` calls, or resumed from a checkpoint.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # the new epoch's row is already in the history
        torch.manual_seed((self.seed + epoch) % 2**63)
