"""CapsNetClassifier: the capsule network as a scikit-learn classifier."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..nn import outputs as _outputs
from .answers import map_capsules
from .base import CapsNetBase
from .params import parameters_doc

__all__ = ["CapsNetClassifier"]


class CapsNetClassifier(ClassifierMixin, CapsNetBase):
    """Capsule network classifier (Sabour, Frosst & Hinton, 2017).

    A convolution, primary capsules, one 16-D capsule per class found by routing
    by agreement, and a decoder that reconstructs the input from the capsule of
    the true class. The class capsules' lengths are the network's output: the
    predicted class is the longest capsule. Trained with skorch and PyTorch on
    the GPU when there is one.

    {parameters}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the order of the class capsules (``0 … n_labels-1`` for a
        multilabel indicator ``y``).
    multilabel_ : bool
        Whether ``y`` was a multilabel indicator matrix.
    n_features_in_ : int
        Features per sample seen in :meth:`fit` (``C*H*W`` for images).
    feature_names_in_ : ndarray of shape (n_features,)
        Column names, when ``X`` was a DataFrame with string column names.
    input_spec_ : InputSpec
        What ``fit`` read of ``X``, in one immutable object: the shape the network
        sees, the order of the values of one sample, the scaling, whether samples are
        images or table rows. The four attributes below are its fields, by their
        scikit-learn names.
    input_shape_ : tuple of (int, int, int)
        ``(channels, height, width)`` the network was built for.
    data_format_ : {"channels_first", "channels_last"}
        The order of the values of one sample of ``X`` (see ``data_format``).
    input_offset_, input_scale_ : ndarray of shape (n_features,)
        Inputs enter the network as ``(X - input_offset_) / input_scale_``: [0, 1] on
        the training data (one range for all pixels of images, one per tabular feature).
    device_ : str
        The torch device used.
    n_iter_ : int
        Epochs trained.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the :class:`~sklearn_capsnet.nn.CapsNet`.
        ``net_.predict`` and ``net_.predict_proba`` give class indices (positions in
        ``classes_``) and probabilities, so skorch's callbacks such as
        ``EpochScoring("accuracy")`` work.
    history_ : skorch.History
        Per-epoch losses, durations and ``precision`` (``"bf16"`` or ``"float32"``).
    training_precision_ : {"bf16", "float32"}
        What the last epoch trained in (``mixed_precision="auto"`` measures on a CPU).
    loss_curve_ : list of float
        The training loss of each epoch.
    validation_scores_ : list of float or None
        The held-out accuracy after each epoch, with ``early_stopping``.
    best_validation_score_ : float or None
        The best of them; the model keeps that epoch's weights.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : A multi-layer perceptron classifier.

    Notes
    -----
    **Multilabel.** With ``y`` a 0/1 indicator matrix (one column per label), the
    capsules predict each label independently, which lets the network recognise
    overlapping objects: :meth:`predict` marks the capsules longer than
    ``threshold`` and the decoder learns to reconstruct from all true labels'
    capsules at once.

    **Probabilities.** Each capsule's length ``p_k`` in [0, 1) is trained (margin
    loss) as the probability that class ``k`` is present, independently of the
    others (``routing="inverted_attention"``: the sigmoid of a score trained with
    cross-entropy, so that ``predict_proba`` is the softmax of the scores).
    :meth:`predict_proba` conditions on exactly one class being present:
    ``P(k) = o_k / Σ_j o_j`` with odds ``o_k = p_k / (1 - p_k)``. Rows sum to 1 and
    the most probable class is the longest capsule.

    References
    ----------
    Sabour, S., Frosst, N. and Hinton, G. E. "Dynamic Routing Between Capsules",
    NeurIPS 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_capsnet import CapsNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = CapsNetClassifier(max_epochs=2, conv_channels=32, primary_types=8,
    ...                         random_state=0).fit(X[:300], y[:300])
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.predict_proba(X[:3]).sum(axis=1).round(6)
    array([1., 1., 1.])
    """

    # fit and partial_fit are defined here so that Python's own errors (a missing or
    # unknown argument) name this class; the work and the docs are CapsNetBase's.
    def fit(self, X, y, sample_weight=None):
        return super().fit(X, y, sample_weight=sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)

    def predict_proba(self, X):
        """Class probabilities from the capsule lengths (see Notes).

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`, with the features (or image shape) seen there.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``. Rows sum to 1; for multilabel ``y`` each column
            is that label's own probability, its capsule length.
        """
        check_is_fitted(self, "net_")

        def to_proba(capsules):
            return _outputs.probabilities(capsules, self.multilabel_)

        return map_capsules(self, X, to_proba, (len(self.classes_),), np.float64)

    def predict(self, X):
        """Predict the class of the longest capsule (multilabel: every long capsule).

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_``; for multilabel ``y``, a 0/1 indicator matrix
            marking the capsules longer than ``threshold``.
        """
        check_is_fitted(self, "net_")

        def labels(capsules):
            return _outputs.labels(capsules, self.multilabel_, self.threshold)

        if self.multilabel_:
            return map_capsules(self, X, labels, (len(self.classes_),), dtype=np.int64)
        return self.classes_[map_capsules(self, X, labels, dtype=np.int64)]

    def decision_function(self, X):
        """Log-odds of the capsule lengths: scores that rank like :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples,)
            ``log(p_k / (1 - p_k))`` per class, whose softmax is :meth:`predict_proba`;
            for two classes, the second's minus the first's (positive: ``classes_[1]``);
            for multilabel ``y``, minus the log-odds of ``threshold`` (positive:
            label predicted).
        """
        check_is_fitted(self, "net_")
        scores = map_capsules(self, X, _outputs.scores, (len(self.classes_),), np.float64)
        if self.multilabel_:
            return scores - _outputs.threshold_log_odds(self.threshold)
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


CapsNetClassifier.__doc__ = CapsNetClassifier.__doc__.replace(
    "{parameters}", parameters_doc("CapsNetClassifier")
)
