"""The CapsNet estimators' base class: the constructor, and the mixins by idea.

The estimator is a plain scikit-learn estimator whose ``__init__`` only stores its
arguments; each idea of its behaviour lives in one module:

==================  ================================================================
``set_params.py``   ``get_params``/``set_params`` with skorch-style keywords
``fit.py``          ``fit``, ``partial_fit``, rollback on failure, the fitted input spec
``data/targets.py`` ``classes_`` and the encoding of ``y``
``answers.py``      batched answers: a function of each batch mapped over ``X``
                    (plain functions of the estimator, not a mixin)
``capsule_methods`` class capsules, the decoder, reconstruction errors, coupling
``saving.py``       ``save``/``load`` (safe format) and ``to_onnx``
==================  ================================================================

The classifier and the transformer add their answers (``predict``, ``transform``)
from the output rules of :mod:`~sklearn_capsnet.nn.outputs`.
"""

import torch
from sklearn.base import BaseEstimator

from .capsule_methods import CapsulesMixin
from .fit import FittingMixin
from .params import constraints
from .saving import FilesMixin
from .set_params import KeywordParamsMixin

__all__ = ["CapsNetBase"]


class CapsNetBase(
    KeywordParamsMixin,
    FittingMixin,
    CapsulesMixin,
    FilesMixin,
    BaseEstimator,
):
    """Base class of the CapsNet estimators; not for direct use."""

    _parameter_constraints: dict = constraints("CapsNetClassifier")

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
        **kwargs,
    ):
        self.routing_iterations = routing_iterations
        self.routing = routing
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size
        self.lr = lr
        self.lr_decay = lr_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.class_weight = class_weight
        self.reconstruction_weight = reconstruction_weight
        self.shift = shift
        self.flip = flip
        self.input_shape = input_shape
        self.data_format = data_format
        self.front_end = front_end
        self.primary_grid = primary_grid
        self.conv_channels = conv_channels
        self.primary_types = primary_types
        self.primary_dim = primary_dim
        self.share_transforms = share_transforms
        self.capsule_dim = capsule_dim
        self.decoder_hidden = decoder_hidden
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.train_split = train_split
        self.progress_bar = progress_bar
        self.verbose = verbose
        self.device = device
        self.mixed_precision = mixed_precision
        self.compile = compile
        self.memory_format = memory_format
        self.threshold = threshold
        self.checkpoint = checkpoint
        self.accelerator = accelerator
        self.random_state = random_state
        vars(self).update(kwargs)
