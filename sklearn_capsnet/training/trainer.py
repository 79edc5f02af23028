"""The skorch net that trains a CapsNet: skorch's loop with the capsule loss."""

import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.hf import AccelerateMixin
from skorch.utils import to_tensor

from ..nn.device import autocast
from ..nn.outputs import labels, probabilities
from .callbacks import EpochTable
from .precision import precision_name

__all__ = ["CapsNetTrainer", "AcceleratedCapsNetTrainer"]


class CapsNetTrainer(NeuralNet):
    """skorch ``NeuralNet`` whose loss also decodes the masked capsules.

    The module returns class capsules ``[B, J, D]``; :meth:`get_loss` reconstructs
    the batch from the capsule of the true class and hands capsules, targets,
    reconstruction and (scaled, augmented) inputs to the criterion. With
    ``precision=torch.bfloat16`` the forward pass runs under autocast and its
    capsules come back in float32.

    Every loader of the net (``iterator_train``, ``iterator_valid``, and the
    prediction loaders of :mod:`~sklearn_capsnet.training.prediction`) reads rows through the one
    ``input_spec`` (:class:`~sklearn_capsnet.data.input_spec.InputSpec`) onto the device of
    the net's data (:meth:`data_device`), so an unpickled net whose weights skorch
    mapped to the CPU loads its data there too.

    The epoch loop is skorch's own. After skorch has recorded each batch, the net's
    :meth:`on_batch_end` raises ``FloatingPointError`` for a loss that is not finite;
    once the callbacks have seen the batch, :meth:`notify` ends the epoch when
    ``stop_requested`` (Ctrl-C during ``fit``, see
    :func:`~sklearn_capsnet.training.train.train`).

    On the CPU, oneDNN's bf16 convolution now and then returns NaN weight gradients
    from finite inputs (``benchmarks/bench_bf16_gradients.py``; torch 2.13: 6 steps in
    40,000 on a network with 1×1 feature maps). A bf16 step on the CPU whose
    gradients are not all finite is computed again in float32; on the CPU that check
    costs no wait, on a GPU it would, and there it is not done.
    """

    # the criterion is a plain callable (:class:`~sklearn_capsnet.nn.CapsuleLoss`), which
    # skorch would not register as a component: its ``criterion__*`` parameters are named
    # here so that the net accepts them when it is built (they are read at initialisation
    # only: a fitted net's criterion is not rebuilt by ``set_params``)
    prefixes_ = [*NeuralNet.prefixes_, "criterion"]

    def __init__(
        self, *args, input_spec, precision=None, multilabel=False, threshold=0.5, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.input_spec = input_spec
        self.precision = precision
        self.multilabel = multilabel
        self.threshold = threshold
        self.stop_requested = False  # set by a Ctrl-C handler: end at the batch's end

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """skorch's new history row, which also records the epoch's ``precision``
        (``"bf16"`` or ``"float32"``: the autocast the training steps ran under)."""
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        self.history.record("precision", precision_name(self.precision))

    @property
    def _default_callbacks(self):
        """skorch's defaults, with an epoch table in plain text where colours do not show."""
        return [
            (name, EpochTable() if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
        ]

    def predict_proba(self, X):
        """Class probabilities of ``X`` (a dataset, rows, or images laid out as in ``fit``),
        as the estimator gives them: what skorch's scoring callbacks read.

        For multilabel targets, each capsule's length.
        """
        return probabilities(self._all_capsules(X), self.multilabel).numpy()

    def predict(self, X):
        """Class indices (``classes_`` positions), or 0/1 indicators of the capsules longer
        than ``threshold`` for multilabel targets: the estimator's rule
        (:mod:`~sklearn_capsnet.nn.outputs`), with the estimator's ``threshold`` (its
        ``set_params`` passes a new one on)."""
        return labels(self._all_capsules(X), self.multilabel, self.threshold).numpy()

    def _all_capsules(self, X):
        """The class capsules ``[N, J, D]`` of all of ``X``, on the host, without gradients."""
        if isinstance(X, np.ndarray | torch.Tensor) and X.ndim > 2:  # a stack of images
            X = X.reshape(len(X), -1)  # rows in X's own order: the spec rearranges them
        batches = self.forward_iter(X, training=False)
        return torch.cat([c.detach() for c in batches])[: len(X)]  # unpadded

    def data_device(self) -> str:
        """Where batches go: the net's ``device``."""
        return str(self.device)

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = {"batch_size": self.batch_size, **self.get_params_for(prefix)}
        loader = getattr(self, prefix)
        return loader(dataset, spec=self.input_spec, device=self.data_device(), **kwargs)

    def forward_capsules(self, x, precision=None):
        """Class capsules ``[b, J, D]`` of one prediction batch, in float32.

        Evaluation mode, no gradients, the forward pass under ``precision`` (the
        estimator's current ``mixed_precision``, which may differ from training's).
        """
        return self._evaluate(self.module_, x, precision)

    def forward_coupling(self, x, precision=None):
        """The routing's coupling ``[b, I, J]`` of one prediction batch, in float32
        (see :meth:`sklearn_capsnet.nn.CapsNet.route`)."""
        return self._evaluate(lambda batch: self.capsnet().route(batch)[1], x, precision)

    def _evaluate(self, forward, x, precision):
        """``forward(x)`` in evaluation mode, without gradients, under ``precision``."""
        self._set_training(False)
        with torch.inference_mode(), autocast(precision, x):
            return forward(x).float()

    def infer(self, x, **fit_params):
        x, _ = _unweighted(x)
        with autocast(self.precision, x):
            return super().infer(x, **fit_params).float()

    def train_step_single(self, batch, **fit_params):
        retry = self.precision is not None and self._device_type() == "cpu"
        if retry:  # running statistics (a front end's BatchNorm), as before the step
            buffers = {name: b.clone() for name, b in self.module_.named_buffers()}
        step = super().train_step_single(batch, **fit_params)
        if retry:
            if not self._gradients_are_finite():
                self._zero_grad_optimizer()
                with torch.no_grad():
                    for name, b in self.module_.named_buffers():
                        b.copy_(buffers[name])
                precision, self.precision = self.precision, None
                try:
                    step = super().train_step_single(batch, **fit_params)
                finally:
                    self.precision = precision
        return step

    def _gradients_are_finite(self) -> bool:
        """Whether no gradient holds a NaN or an infinity: each tensor's sum is finite.

        One reduction per tensor (1 ms a step on the paper network, against 19 ms for
        ``isfinite(g).all()``). A sum that overflows from finite values also counts as
        not finite: that step is redone in float32, which changes nothing wrong.
        """
        grads = [p.grad for _, p in self.get_all_learnable_params() if p.grad is not None]
        return bool(torch.isfinite(torch.stack([g.sum() for g in grads])).all())

    def _device_type(self) -> str:
        """``"cpu"`` or ``"cuda"``: where the module's parameters are."""
        return next(self.module_.parameters()).device.type

    def capsnet(self):
        """The CapsNet module itself (not a data-parallel wrapper around it)."""
        return self.module_

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """After skorch has recorded the batch's loss, before the callbacks see it: a loss
        that is not finite stops training (``FloatingPointError``)."""
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        key = ("train" if training else "valid") + "_loss"
        loss = self.history[-1]["batches"][-1][key]
        if not math.isfinite(loss):
            number = sum(key in row for row in self.history[-1]["batches"])
            lr = self.optimizer_.param_groups[0]["lr"]
            raise FloatingPointError(
                f"the {'training' if training else 'validation'} loss became {loss} in "
                f"epoch {len(self.history)}, batch {number}; training stopped. Lower lr "
                f"(now {lr:.3g}) or check X for extreme values."
            )

    def notify(self, method_name, **cb_kwargs):
        """skorch's: the net's own hook, then every callback's; then, at a batch's end,
        the epoch ends there when a stop was requested (Ctrl-C), every callback having
        seen the batch."""
        super().notify(method_name, **cb_kwargs)
        if method_name == "on_batch_end" and self.stop_requested:
            raise KeyboardInterrupt  # Ctrl-C: this batch is done, the epoch is not

    def get_loss(self, y_pred, y_true, X=None, training=False):
        X, weight = _unweighted(X)
        y_true = to_tensor(y_true, device=y_pred.device)
        reconstruction = None
        if self.criterion_.reconstruction_weight:
            capsnet = self.capsnet()
            reconstruction = capsnet.reconstruct(y_pred, y_true)  # [B, C*h*w]
            # Inputs are scaled into [0, 1] by the range of the first training data; later
            # partial_fit batches can fall outside it, where the sigmoid decoder cannot
            # follow. It aims at the nearest value it can draw instead.
            X = capsnet.reconstruction_target(X.clamp(0.0, 1.0))  # [B, C*h*w]
        return self.criterion_(y_pred, y_true, reconstruction, X, weight)


def _unweighted(x):
    """``(rows, example weights)`` of a batch's X, which is ``(rows, weights)`` or rows."""
    if isinstance(x, tuple | list):
        return x[0], x[1]
    return x, None


class AcceleratedCapsNetTrainer(AccelerateMixin, CapsNetTrainer):
    """The trainer with skorch's ``AccelerateMixin``: data-parallel through accelerate.

    At module level so that pickle finds it by name.
    """

    def capsnet(self):
        return self.accelerator.unwrap_model(self.module_)

    def data_device(self) -> str:
        return str(self.accelerator.device)  # accelerate places the model, data follow

    def evaluation_step(self, batch, training=False):
        # every process predicts every row itself: no gathering across processes
        return CapsNetTrainer.evaluation_step(self, batch, training=training)
