"""CapsNetClassifier: the capsule network as a scikit-learn classifier."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ._base import PARAMETERS_DOC, CapsNetBase
from .nn import capsule_lengths, lengths_to_proba

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
        Class labels, in the order of the class capsules.
    n_features_in_ : int
        Features per sample seen in :meth:`fit` (``C*H*W`` for images).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    input_shape_ : tuple of (int, int, int)
        ``(channels, height, width)`` the network was built for.
    input_offset_, input_scale_ : ndarray of shape (n_features_in_,)
        Inputs enter the network as ``(X - input_offset_) / input_scale_``: [0, 1] on
        the training data (one range for all pixels of images, one per tabular feature).
    device_ : str
        The torch device used.
    n_iter_ : int
        Epochs trained.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the :class:`~sklearn_capsnet.nn.CapsNet`.
    history_ : skorch.History
        Per-epoch losses and durations.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : A multi-layer perceptron classifier.

    Notes
    -----
    **Probabilities.** Each capsule's length ``p_k`` in [0, 1) is trained (margin
    loss) as the probability that class ``k`` is present, independently of the
    others. :meth:`predict_proba` conditions on exactly one class being present:
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

    def predict_proba(self, X):
        """Class probabilities from the capsule lengths (see Notes).

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`, with the features (or image shape) seen there.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns follow ``classes_``.
        """

        check_is_fitted(self, "net_")

        def proba(capsules):
            return lengths_to_proba(capsule_lengths(capsules).double())

        return self._map_capsules(X, proba, (len(self.classes_),), np.float64)

    def predict(self, X):
        """Predict the class of the longest capsule.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """

        def longest(capsules):
            return capsule_lengths(capsules).argmax(dim=1)

        index = self._map_capsules(X, longest, dtype=np.int64)
        return self.classes_[index]


CapsNetClassifier.__doc__ = CapsNetClassifier.__doc__.replace("{parameters}", PARAMETERS_DOC)
