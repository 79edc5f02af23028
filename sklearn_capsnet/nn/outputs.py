"""From class capsules to answers: each output rule in one function.

The estimators (``predict``, ``predict_proba``, ``decision_function``,
``reconstruct``), skorch's ``net_.predict`` / ``net_.predict_proba`` (which its
scoring callbacks read), the ONNX graph and the displays all call these; none
decides on its own which capsule wins, how lengths become probabilities or where
the multilabel threshold lies.
"""

import numpy as np
import torch

from .functional import capsule_lengths, capsule_log_odds, lengths_to_proba, longest_capsule

__all__ = ["active_labels", "labels", "probabilities", "scores", "threshold_log_odds"]


def probabilities(capsules: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """``predict_proba``'s values ``[b, J]`` from class capsules ``[b, J, D]``.

    Multilabel targets: each capsule's length. One label per sample: the lengths
    read as presence probabilities, conditioned on one class present (float64).

    Examples
    --------
    >>> import torch
    >>> capsules = torch.tensor([[[0.5, 0.0], [0.0, 0.5]]])
    >>> probabilities(capsules, multilabel=False)
    tensor([[0.5000, 0.5000]], dtype=torch.float64)
    >>> probabilities(capsules, multilabel=True)
    tensor([[0.5000, 0.5000]])
    """
    lengths = capsule_lengths(capsules)
    return lengths if multilabel else lengths_to_proba(lengths.double())


def active_labels(capsules: torch.Tensor, threshold: float) -> torch.Tensor:
    """0/1 indicators ``[b, J]`` (int64) of the capsules longer than ``threshold``."""
    return (capsule_lengths(capsules) > threshold).long()


def labels(capsules: torch.Tensor, multilabel: bool, threshold: float) -> torch.Tensor:
    """The prediction as positions in ``classes_``: the longest capsule ``[b]``, or for
    multilabel targets the indicators of those longer than ``threshold`` ``[b, J]``."""
    return active_labels(capsules, threshold) if multilabel else longest_capsule(capsules)


def scores(capsules: torch.Tensor) -> torch.Tensor:
    """``decision_function``'s per-class scores ``[b, J]``: the lengths' log-odds."""
    return capsule_log_odds(capsule_lengths(capsules))


def threshold_log_odds(threshold: float) -> float:
    """The log-odds of ``threshold``: multilabel scores are the lengths' log-odds minus it,
    so that a positive score is a predicted label.

    Examples
    --------
    >>> threshold_log_odds(0.5)
    0.0
    """
    return float(np.log(threshold / (1 - threshold)))
