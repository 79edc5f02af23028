"""skorch callbacks the estimators add to every training run."""

import math

import torch
from skorch.callbacks import Callback

__all__ = ["EpochSeed", "StopOnNonFiniteLoss"]


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


class StopOnNonFiniteLoss(Callback):
    """Stop training with a clear error as soon as a batch loss is NaN or infinite."""

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        loss = net.history[-1, "batches", -1, "train_loss" if training else "valid_loss"]
        if not math.isfinite(loss):
            epoch, n_batches = len(net.history), len(net.history[-1]["batches"])
            lr = net.optimizer_.param_groups[0]["lr"]
            raise FloatingPointError(
                f"the {'training' if training else 'validation'} loss became {loss} in epoch "
                f"{epoch}, batch {n_batches}; training stopped. Lower lr (now {lr:.3g}) or "
                "check X for extreme values."
            )
