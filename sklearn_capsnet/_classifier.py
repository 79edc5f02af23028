"""CapsNetClassifier: the capsule network as a scikit-learn classifier."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils.multiclass import check_classification_targets

from ._base import CapsNetBase
from .nn import capsule_lengths, lengths_to_proba

__all__ = ["CapsNetClassifier"]


class CapsNetClassifier(ClassifierMixin, CapsNetBase):
    """Capsule network classifier (Sabour, Frosst & Hinton, 2017).

    A convolution, primary capsules, one 16-D capsule per class found by routing
    by agreement, and a decoder that reconstructs the input from the capsule of
    the true class. The class capsules' lengths are the network's output: the
    predicted class is the longest capsule. Trained with skorch and PyTorch on
    the GPU when there is one.

    Parameters
    ----------
    routing_iterations : int, default=3
        Iterations ``r >= 1`` of routing by agreement.
    routing : {"dynamic"}, default="dynamic"
        The routing algorithm between primary and class capsules.
    max_epochs : int, default=30
        Passes over the training data in :meth:`fit`.
    batch_size : int, default=64
        Examples per training step; also the prediction batch size.
    lr : float, default=1e-3
        Adam's learning rate at the first epoch.
    lr_decay : float, default=0.95
        The learning rate is multiplied by this after every epoch (exponential decay);
        1 keeps it constant.
    reconstruction_weight : float, default=0.0005
        Weight of the decoder's sum of squared errors in the loss; 0 turns the
        reconstruction off.
    shift : int or None, default=None
        Largest random translation, in pixels, applied to each training image in each
        epoch (zero-padded, drawn on the device). None scales the paper's 2 pixels on
        28×28 to the image size (1 pixel for 8×8). 0 turns it off. Tabular input is
        never shifted.
    input_shape : tuple of (channels, height, width) or None, default=None
        How one row of ``X`` is seen by the network. None infers it: arrays of shape
        ``(n, H, W)`` or ``(n, C, H, W)`` keep their shape; flat rows whose length is a
        square ``H*H`` become one-channel ``H×H`` images; anything else is tabular,
        ``(n_features, 1, 1)``, where the convolutions act as dense layers.
    conv_channels : int, default=256
        Channels of the first convolution.
    primary_types : int, default=32
        Primary capsule types (each a channel of 8-D capsules).
    primary_dim : int, default=8
        Dimension of the primary capsules.
    capsule_dim : int, default=16
        Dimension of the class capsules.
    decoder_hidden : tuple of int, default=(512, 1024)
        Hidden layer sizes of the reconstruction decoder.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Its arguments go in as ``optimizer__name=value`` keywords.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (the learning-rate decay and progress bar are added).
    train_split : callable or None, default=None
        A skorch ``train_split`` such as ``skorch.dataset.ValidSplit(0.1)`` to report a
        validation loss per epoch; None trains on all of ``X``.
    progress_bar : bool, default=False
        Show a tqdm progress bar over the batches of each epoch.
    verbose : int, default=0
        1 prints skorch's table of losses and durations after each epoch.
    device : str, default="auto"
        ``"auto"`` uses CUDA when PyTorch sees a GPU, else the CPU; ``"cpu"``,
        ``"cuda"`` or ``"cuda:N"`` force one (a missing GPU is an error).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and augmentation. The same value gives
        identical predictions on the same CPU. Torch's global random state is left as
        it was.
    **kwargs
        skorch-style nested parameters: ``optimizer__weight_decay=1e-4``,
        ``callbacks__lr_scheduler__gamma=0.9``, ...

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

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _set_classes(self, labels) -> None:
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes, but y holds only one "
                f"class: {self.classes_[0]!r}. Add samples of another class."
            )

    def _encode_targets(self, y, *, reset: bool) -> np.ndarray:
        check_classification_targets(y)
        if reset:
            self._set_classes(y)
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y has labels {unknown.tolist()} that are not in classes_ "
                f"{self.classes_.tolist()}; "
                "pass every label in `classes` on the first call to partial_fit."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one more epoch, starting a new model on the first call.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear; required on the first call, ignored after.

        Returns
        -------
        self
        """
        if not hasattr(self, "net_"):
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: the number of "
                    "class capsules is fixed when the network is built."
                )
            X, y = self._prepare_training_data(X, y)
            self._set_classes(np.asarray(classes))
            y = self._encode_targets(y, reset=False)
            self._init_net()
        else:
            X, y = self._validate_more_data(X, y)
        self._train(X, y, epochs=1)
        return self

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
        return np.concatenate(
            [
                lengths_to_proba(capsule_lengths(v).double()).cpu().numpy()
                for v in self._capsule_batches(X)
            ]
        )

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
        index = np.concatenate(
            [capsule_lengths(v).argmax(dim=1).cpu().numpy() for v in self._capsule_batches(X)]
        )
        return self.classes_[index]
