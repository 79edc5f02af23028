"""CapsuleTransformer: the class capsules of a trained CapsNet as features."""

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..nn import capsule_lengths
from .answers import map_capsules
from .base import CapsNetBase
from .fit import built
from .params import constraints, parameters_doc

__all__ = ["CapsuleTransformer"]


class CapsuleTransformer(TransformerMixin, CapsNetBase):
    """Class-capsule features from a CapsNet trained on labelled data.

    ``fit(X, y)`` trains a capsule network exactly as
    :class:`~sklearn_capsnet.CapsNetClassifier` does; ``transform(X)`` returns the
    class (DigitCaps) capsules: for each class a 16-D vector whose length says how
    present the class is and whose direction encodes how it looks (pose, stroke,
    ...). Use it as a step before any scikit-learn estimator. Like
    :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis` it is supervised:
    ``fit`` and ``fit_transform`` need ``y`` (a Pipeline passes it on).

    {parameters}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the order of the capsules (``0 … n_labels-1`` for a
        multilabel indicator ``y``).
    multilabel_ : bool
        Whether ``y`` was a multilabel indicator matrix.
    n_features_in_ : int
        Features per sample seen in :meth:`fit`.
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
        Inputs enter the network as ``(X - input_offset_) / input_scale_``.
    device_ : str
        The torch device used.
    n_iter_ : int
        Epochs trained.
    net_ : skorch.NeuralNet
        The trained skorch net.
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
    CapsNetClassifier : The same network as a classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_capsnet import CapsuleTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> caps = CapsuleTransformer(max_epochs=2, conv_channels=32, primary_types=8,
    ...                           random_state=0)
    >>> caps.fit_transform(X[:300], y[:300]).shape
    (300, 160)
    >>> caps.get_feature_names_out()[:2]
    array(['capsule_0_dim0', 'capsule_0_dim1'], dtype=object)
    >>> model = make_pipeline(caps, LogisticRegression(max_iter=500)).fit(X[:300], y[:300])
    """

    _parameter_constraints: dict = constraints("CapsuleTransformer")

    def __init__(
        self,
        *,
        routing_iterations=3,
        routing="dynamic",
        max_epochs=40,
        batch_size=32,
        predict_batch_size=None,
        lr=1e-3,
        lr_decay=0.95,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        class_weight=None,
        reconstruction_weight=0.0005,
        shift=None,
        flip=False,
        input_shape=None,
        data_format="auto",
        front_end="conv",
        primary_grid="auto",
        conv_channels="auto",
        primary_types="auto",
        primary_dim=8,
        share_transforms="none",
        capsule_dim=16,
        decoder_hidden=(512, 1024),
        optimizer=torch.optim.Adam,
        callbacks=None,
        train_split=None,
        progress_bar=False,
        verbose=0,
        device="auto",
        mixed_precision="auto",
        compile=False,
        memory_format="contiguous",
        threshold=0.5,
        checkpoint=None,
        accelerator=None,
        random_state=None,
        output="vectors",
        **kwargs,
    ):
        super().__init__(
            routing_iterations=routing_iterations,
            routing=routing,
            max_epochs=max_epochs,
            batch_size=batch_size,
            predict_batch_size=predict_batch_size,
            lr=lr,
            lr_decay=lr_decay,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            class_weight=class_weight,
            reconstruction_weight=reconstruction_weight,
            shift=shift,
            flip=flip,
            input_shape=input_shape,
            data_format=data_format,
            front_end=front_end,
            primary_grid=primary_grid,
            conv_channels=conv_channels,
            primary_types=primary_types,
            primary_dim=primary_dim,
            share_transforms=share_transforms,
            capsule_dim=capsule_dim,
            decoder_hidden=decoder_hidden,
            optimizer=optimizer,
            callbacks=callbacks,
            train_split=train_split,
            progress_bar=progress_bar,
            verbose=verbose,
            device=device,
            mixed_precision=mixed_precision,
            compile=compile,
            memory_format=memory_format,
            threshold=threshold,
            checkpoint=checkpoint,
            accelerator=accelerator,
            random_state=random_state,
            **kwargs,
        )
        self.output = output

    # fit and partial_fit are defined here so that Python's own errors (a missing or
    # unknown argument) name this class; the work and the docs are CapsNetBase's.
    def fit(self, X, y, sample_weight=None):
        return super().fit(X, y, sample_weight=sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)

    def transform(self, X):
        """The class capsules of ``X`` (or their lengths), as float32 features.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`, with the features (or image shape) seen there.

        Returns
        -------
        ndarray of shape (n_samples, n_classes * capsule_dim) or (n_samples, n_classes)
            Columns are named by :meth:`get_feature_names_out`.
        """
        check_is_fitted(self, "net_")
        n_classes = len(self.classes_)
        if self.output == "lengths":
            return map_capsules(self, X, capsule_lengths, (n_classes,))
        return map_capsules(
            self,
            X,
            lambda capsules: capsules.flatten(1),
            (n_classes * built(self, "capsule_dim"),),
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: ``capsule_<class>_dim<d>`` or ``capsule_<class>_length``.

        Parameters
        ----------
        input_features : None
            Ignored (the output does not follow the input columns).

        Returns
        -------
        ndarray of str objects
        """
        check_is_fitted(self, "net_")
        if self.output == "lengths":
            names = [f"capsule_{label}_length" for label in self.classes_]
        else:
            names = [
                f"capsule_{label}_dim{d}"
                for label in self.classes_
                for d in range(built(self, "capsule_dim"))
            ]
        return np.asarray(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


CapsuleTransformer.__doc__ = CapsuleTransformer.__doc__.replace(
    "{parameters}", parameters_doc("CapsuleTransformer")
)
