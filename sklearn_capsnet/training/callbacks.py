"""skorch callbacks the estimators add to their training runs."""

import copy
import os
import re
import sys

import torch
from skorch.callbacks import Callback, LRScheduler, PrintLog, ProgressBar

__all__ = ["EpochProgressBar", "EpochSeed", "EpochTable", "ExponentialDecay", "StopOnPlateau"]

_COLOUR_CODE = re.compile(r"\x1b\[[0-9;]*m")


class EpochTable(PrintLog):
    """skorch's epoch table, coloured only where colours show: on a terminal.

    skorch marks each best score with terminal colour codes (``\\x1b[36m``), which a
    file, a CI log or a notebook's saved output shows as raw characters. Here the
    codes are written only when the table goes to ``print`` on a terminal
    (``sys.stdout.isatty()``) and ``NO_COLOR`` is not set; otherwise the same table
    in plain text, its columns aligned as before.

    Examples
    --------
    >>> EpochTable.plain("\x1b[36m0.5000\x1b[0m")
    '0.5000'
    """

    @staticmethod
    def plain(text: str) -> str:
        """``text`` without terminal colour codes."""
        return _COLOUR_CODE.sub("", text)

    def _colours_show(self) -> bool:
        isatty = getattr(sys.stdout, "isatty", None)
        terminal = bool(isatty and isatty())
        return self.sink is print and terminal and not os.environ.get("NO_COLOR")

    def _sink(self, text, verbose):
        super()._sink(text if self._colours_show() else self.plain(text), verbose)


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


class StopOnPlateau(Callback):
    """``MLPClassifier``'s early stopping, on a score in skorch's history.

    After each epoch, a score below the best so far plus ``tol`` counts as an epoch
    without improvement; when more than ``patience`` of them come in a row, training
    stops (``MLPClassifier``'s ``n_iter_no_change``; skorch ends its loop on
    ``KeyboardInterrupt``). The weights of the epoch with the highest score are kept
    and put back at the end of training; with ``net.verbose`` both are announced. Resumed from a
    checkpoint, the count goes on from the scores in the history; the weights of
    epochs before the resume are not known, so they are not put back.

    Not skorch's ``EarlyStopping(load_best=True)``, whose rule is another one: it stops
    at ``patience`` misses (``MLPClassifier``: more than ``n_iter_no_change``), moves its
    best score only on an improvement of ``threshold`` (``MLPClassifier`` keeps the
    highest score, and counts a miss below best plus ``tol``), and starts its count
    afresh on a resumed fit.
    """

    def __init__(self, monitor: str, patience: int, tol: float):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol

    def on_train_begin(self, net, **kwargs):
        self.best_score_ = -float("inf")
        self.best_epoch_ = None
        self.best_weights_ = None
        self.misses_ = 0
        for epoch, row in enumerate(net.history, start=1):  # resumed from a checkpoint
            if self.monitor in row:
                self._count(row[self.monitor], epoch)  # the earlier weights are not known

    def on_epoch_end(self, net, **kwargs):
        if self._count(net.history[-1, self.monitor], len(net.history)):
            self.best_weights_ = copy.deepcopy(net.module_.state_dict())
        if self.misses_ > self.patience:
            if net.verbose:
                print(
                    f"Stopping early: {self.monitor} has not risen by tol={self.tol:g} over "
                    f"the best for {self.misses_} epochs in a row.",
                    flush=True,
                )
            raise KeyboardInterrupt  # skorch's way to end training after this epoch

    def _count(self, score: float, epoch: int) -> bool:
        """Count a miss or a reset for ``score``; True when it is the best so far."""
        self.misses_ = self.misses_ + 1 if score < self.best_score_ + self.tol else 0
        if score > self.best_score_:
            self.best_score_, self.best_epoch_ = score, epoch
            return True
        return False

    def on_train_end(self, net, **kwargs):
        if self.best_weights_ is not None and self.best_epoch_ != len(net.history):
            net.module_.load_state_dict(self.best_weights_)
            if net.verbose:
                print(
                    f"Keeping the weights of epoch {self.best_epoch_} "
                    f"({self.monitor} {self.best_score_:.4g}).",
                    flush=True,
                )

    def __getstate__(self):
        return {**self.__dict__, "best_weights_": None}  # the net holds the weights


class EpochProgressBar(ProgressBar):
    """skorch's progress bar over the batches, titled ``epoch n/N``, losses shown to
    four significant digits.

    ``last_epoch`` (N) is set by the training code before each run.
    """

    last_epoch = None

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        total = f"/{self.last_epoch}" if self.last_epoch else ""
        self.pbar_.set_description(f"epoch {len(net.history)}{total}")

    def on_epoch_end(self, net, **kwargs):
        self.pbar_.set_postfix(self._get_postfix_dict(net))  # the epoch's last losses, shown
        super().on_epoch_end(net, **kwargs)

    def _get_postfix_dict(self, net):
        losses = super()._get_postfix_dict(net)
        return {key: f"{value:.4g}" for key, value in losses.items()}


class ExponentialDecay(LRScheduler):
    """skorch's :class:`~skorch.callbacks.LRScheduler` (the estimators give it
    ``ExponentialLR``), pickled without its torch scheduler.

    The torch scheduler (``lr_scheduler_``) holds the optimizer, and through it every
    weight and Adam's state. skorch pickles those once, with the net; pickled again
    here they would double a pickle's size. Nothing is lost: skorch builds the
    scheduler anew at the start of every training run, from the epochs in the history
    (``on_train_begin``), so ``partial_fit`` after unpickling goes on with the same
    learning rates.

    Examples
    --------
    >>> import pickle, torch
    >>> decay = ExponentialDecay(policy=torch.optim.lr_scheduler.ExponentialLR, gamma=0.95)
    >>> decay.lr_scheduler_ = "anything the fit built"
    >>> pickle.loads(pickle.dumps(decay)).lr_scheduler_ is None
    True
    """

    def __getstate__(self) -> dict:
        return {**self.__dict__, "lr_scheduler_": None}
