"""Class labels to capsules: one capsule per class, or per label of a multilabel y."""

import numpy as np
from sklearn.utils.multiclass import check_classification_targets, type_of_target

__all__ = ["TargetsMixin"]


class TargetsMixin:
    """``classes_``/``multilabel_`` and the encoding of ``y`` for the CapsNet estimators."""

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _set_classes(self, labels) -> None:
        self.classes_ = np.unique(labels)
        self.multilabel_ = False
        if len(self.classes_) < 2:
            label = self.classes_[:1].tolist()[0]  # as written: 0, 0.0 or 'cat', not np.int64(0)
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes, but y holds only one "
                f"class: {label!r}. Add samples of another class."
            )

    def _encode_targets(self, y, *, reset: bool) -> np.ndarray:
        """Class indices ``[N]`` (int64), or 0/1 label indicators ``[N, J]`` (float32)."""
        if y.ndim == 2:
            return self._encode_indicators(y, reset=reset)
        check_classification_targets(y)
        if reset:
            self._set_classes(y)
        if self.multilabel_:
            raise ValueError(
                f"y holds one label per sample, but {type(self).__name__} was fitted on a "
                "multilabel indicator matrix; pass y of that form."
            )
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y has labels {unknown.tolist()} that are not in classes_ "
                f"{self.classes_.tolist()}: the network has one capsule per class, fixed "
                "when it was built; pass every label in `classes` on the first call to "
                "partial_fit."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _encode_indicators(self, y, *, reset: bool) -> np.ndarray:
        kind = type_of_target(y)
        if kind != "multilabel-indicator":
            raise ValueError(
                f"y has shape {y.shape} and holds {kind} targets; {type(self).__name__} takes "
                "one label per sample (1-D y) or a 0/1 multilabel indicator matrix."
            )
        if reset:
            self.classes_, self.multilabel_ = np.arange(y.shape[1]), True
        elif not self.multilabel_ or y.shape[1] != len(self.classes_):
            fitted = f"{len(self.classes_)} labels" if self.multilabel_ else "single labels"
            raise ValueError(
                f"y is an indicator matrix of {y.shape[1]} labels, but {type(self).__name__} "
                f"was fitted on {fitted}; pass y of the same form."
            )
        return np.asarray(y, dtype=np.float32)
