"""The one table of hyper-parameters: each described once, read by every consumer.

Each :class:`Param` holds a hyper-parameter's name, default, scikit-learn
constraint, documentation, whether the safe model file stores it, and where it
acts. The estimators' constraints, their docstrings' Parameters sections, the
persistence format and the network's ``module__*`` arguments are all read from
:data:`PARAMS`; ``__init__`` signatures stay explicit, as scikit-learn wants,
and a test checks that they agree with this table.

Adding a hyper-parameter: one entry here, one argument in each estimator's
``__init__`` (with the same default), and the code where it acts.
"""

import difflib
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ..io.model_file import CODECS, DESCRIPTION_KEYS
from ..nn import FRONT_ENDS, ROUTINGS, SHARED_TRANSFORMS
from ..training.precision import autocast_dtype

__all__ = [
    "Param",
    "PARAMS",
    "check_keyword",
    "check_values",
    "constraints",
    "module_params",
    "parameters_doc",
    "passed_through",
    "prediction_names",
    "resumable_names",
    "saved_codecs",
    "follow_on_net",
]

ACTS = ("network", "training", "loader", "prediction", "precision", "placement", "data", "output")


@dataclass(frozen=True)
class Param:
    """One hyper-parameter.

    ``acts`` says where it takes effect: ``"network"`` parameters become the
    :class:`~sklearn_capsnet.nn.CapsNet` argument of the same name (after ``fit`` the
    fitted model keeps the network it built: a ``set_params`` acts at the next ``fit``);
    the others are read by the training, loading, prediction, device or output code.
    ``at_prediction``: read again at each prediction, so it may change on a fitted model.
    ``reaches_net``: what ``set_params`` does to a fitted model's ``net_`` when the
    parameter changes (called with the estimator), so that the skorch net answers as the
    estimator does; None where the net does not follow. ``resumable``: a
    fit resumed from a checkpoint may change it (how long, where, how loudly, how fast;
    not what is learnt). ``saved``: how the safe model file stores it, one of
    :data:`~sklearn_capsnet.io.model_file.CODECS` (``"json"``: as a JSON value among the
    parameters), or None: not at all. ``owner`` limits a
    parameter to one estimator class (None: both). ``check`` looks further than
    scikit-learn's constraint can: it returns what is wrong with a value (a message
    naming the fix), or None.
    """

    name: str
    default: Any
    constraint: Any
    acts: str
    kind: str
    doc: str
    saved: str | None = "json"
    at_prediction: bool = False
    reaches_net: Callable[[Any], None] | None = None
    resumable: bool = False
    owner: str | None = None
    check: Callable[[Any], str | None] | None = None

    def __post_init__(self):
        if self.acts not in ACTS:
            raise ValueError(f"{self.name}: acts={self.acts!r} is not one of {ACTS}")
        if self.saved is not None and self.saved not in CODECS:
            raise ValueError(f"{self.name}: saved={self.saved!r} is not one of {tuple(CODECS)}")
        if self.saved not in (None, "json") and self.name in DESCRIPTION_KEYS:
            raise ValueError(f"{self.name}: a key of the model file's description already")
        if self.reaches_net is not None and not self.at_prediction:
            raise ValueError(f"{self.name}: only a parameter read at prediction reaches the net")

    def docstring(self) -> str:
        """The numpydoc entry: ``name : kind, default=...`` and the indented text."""
        text = inspect.cleandoc(self.doc).replace("\n", "\n        ")
        return f"    {self.name} : {self.kind}, default={_show(self.default)}\n        {text}\n"


def _show(value) -> str:
    """A default as the docs write it: ``"dynamic"``, ``0.001``, ``torch.optim.Adam``."""
    if inspect.isclass(value) and value.__module__.startswith("torch.optim"):
        return f"torch.optim.{value.__name__}"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _layer_sizes(value) -> str | None:
    if any(not isinstance(h, Integral) or h < 1 for h in value):
        return (
            f"decoder_hidden={value!r} must hold positive layer sizes, e.g. (512, 1024); "
            "use () for a single-layer decoder."
        )
    return None


def _channels_height_width(value) -> str | None:
    if value is not None and (
        len(value) != 3 or any(not isinstance(v, Integral) or v < 1 for v in value)
    ):
        return (
            f"input_shape={value!r} must be (channels, height, width) of positive ints, "
            "or None to infer it from X."
        )
    return None


def _net_precision(estimator) -> None:
    """A fitted net's precision after ``set_params(mixed_precision=...)``: what the value
    asks for without measuring; the next training settles ``"auto"`` (training/train.py)."""
    estimator.net_.precision = autocast_dtype(estimator.mixed_precision, estimator.device_)


PARAMS: tuple[Param, ...] = (
    Param(
        name="routing_iterations",
        default=3,
        constraint=[Interval(Integral, 1, None, closed="left")],
        acts="network",
        kind="int",
        doc="""
        Iterations ``r >= 1`` of routing (``"dynamic"`` and ``"inverted_attention"``;
        ``"self_attention"`` runs once).
        """,
    ),
    Param(
        name="routing",
        default="dynamic",
        constraint=[StrOptions(set(ROUTINGS))],
        acts="network",
        kind='{"dynamic", "self_attention", "inverted_attention"}',
        doc="""
        The routing algorithm between primary and class capsules: the paper's iterative
        routing by agreement; Efficient-CapsNet's one-pass self-attention routing
        (Mazzia et al. 2021), which ignores ``routing_iterations``; or inverted
        dot-product attention (Tsai et al. 2020), whose class capsules are layer-normed
        poses scored by one linear map and trained with cross-entropy instead of the
        margin loss: a class capsule's length is the sigmoid of its score, so
        ``predict_proba`` is the softmax of the scores (multilabel: each sigmoid).
        """,
    ),
    Param(
        name="max_epochs",
        default=40,
        constraint=[Interval(Integral, 1, None, closed="left")],
        acts="training",
        resumable=True,
        kind="int",
        doc="""
        Passes over the training data in :meth:`fit`.
        """,
    ),
    Param(
        name="batch_size",
        default=32,
        constraint=[Interval(Integral, 1, None, closed="left")],
        acts="training",
        kind="int",
        doc="""
        Examples per training step.
        """,
    ),
    Param(
        name="predict_batch_size",
        default=None,
        constraint=[Interval(Integral, 1, None, closed="left"), None],
        acts="prediction",
        at_prediction=True,
        resumable=True,
        kind="int or None",
        doc="""
        Rows per step of ``predict``, ``predict_proba``, ``transform`` and the other
        prediction methods; memory during prediction is bounded by it, not by the
        number of rows. None: ``batch_size`` on the CPU, and on a GPU at least 1024
        (without gradients larger batches fit, and they keep the GPU busy).
        """,
    ),
    Param(
        name="lr",
        default=1e-3,
        constraint=[Interval(Real, 0, None, closed="neither")],
        acts="training",
        kind="float",
        doc="""
        Adam's learning rate at the first epoch.
        """,
    ),
    Param(
        name="lr_decay",
        default=0.95,
        constraint=[Interval(Real, 0, 1, closed="right")],
        acts="training",
        kind="float",
        doc="""
        The learning rate is multiplied by this after every epoch (exponential decay);
        1 keeps it constant.
        """,
    ),
    Param(
        name="early_stopping",
        default=False,
        constraint=["boolean"],
        acts="training",
        kind="bool",
        doc="""
        Hold out ``validation_fraction`` of the training data (stratified; a plain
        split for multilabel ``y``), score its accuracy after each epoch, stop when
        more than ``n_iter_no_change`` epochs in a row do not beat the best by ``tol``,
        and keep the weights of the best epoch, as ``MLPClassifier`` does. The scores are
        ``validation_scores_``. :meth:`partial_fit` trains on all it is given and
        ignores this. Cannot be combined with ``train_split``.
        """,
    ),
    Param(
        name="validation_fraction",
        default=0.1,
        constraint=[Interval(Real, 0, 1, closed="neither")],
        acts="training",
        kind="float in (0, 1)",
        doc="""
        The share of the training data held out when ``early_stopping`` is on.
        """,
    ),
    Param(
        name="n_iter_no_change",
        default=10,
        constraint=[Interval(Integral, 1, None, closed="left")],
        acts="training",
        kind="int",
        doc="""
        The most epochs in a row without improvement that ``early_stopping`` lets pass.
        """,
    ),
    Param(
        name="tol",
        default=1e-4,
        constraint=[Interval(Real, 0, None, closed="left")],
        acts="training",
        kind="float",
        doc="""
        The least rise in validation accuracy that counts as an improvement for
        ``early_stopping``.
        """,
    ),
    Param(
        name="class_weight",
        default=None,
        constraint=[StrOptions({"balanced"}), dict, None],
        acts="training",
        saved="labelled weights",
        kind='dict, "balanced" or None',
        doc="""
        Weights ``{label: weight}`` of the classes in the loss, as in scikit-learn's
        classifiers; ``"balanced"`` weighs each class by ``n_samples / (n_classes *
        count)`` in ``y`` (not in :meth:`partial_fit`, which sees part of ``y`` at a
        time). Multiplies ``sample_weight``; not for multilabel ``y``.
        """,
    ),
    Param(
        name="reconstruction_weight",
        default=0.0005,
        constraint=[Interval(Real, 0, None, closed="left")],
        acts="training",
        kind="float",
        doc="""
        Weight of the decoder's sum of squared errors in the loss; 0 turns the
        reconstruction off.
        """,
    ),
    Param(
        name="shift",
        default=None,
        constraint=[Interval(Integral, 0, None, closed="left"), None],
        acts="loader",
        kind="int or None",
        doc="""
        Largest random translation, in pixels, applied to each training image in each
        epoch (zero-padded, drawn on the device). None is the paper's 2 pixels, scaled
        down on images under 28×28 (1 pixel for 8×8), never up: a larger image is not a
        larger object (a shift that grew with the side cost 2 to 30 points of accuracy
        at 64–224 px in short training). For objects that fill a large image and long
        training, a shift at the object's scale (``2 * side // 28``) is the paper's
        augmentation. 0 turns it off. Tabular input is never shifted.
        """,
    ),
    Param(
        name="flip",
        default=False,
        constraint=["boolean"],
        acts="loader",
        kind="bool",
        doc="""
        Also mirror each training image left-right with probability 1/2 (on the device;
        right for clothing, wrong for digits). Tabular input is never flipped.
        """,
    ),
    Param(
        name="input_shape",
        default=None,
        constraint=[tuple, list, None],
        acts="data",
        kind="tuple of (channels, height, width) or None",
        doc="""
        How one sample of ``X`` is seen by the network, channels first. None reads it
        from ``X``: image stacks keep their shape (the channel axis as ``data_format``
        says); flat rows are a table, ``(n_features, 1, 1)``, where the convolutions
        act as dense layers, except rows of a square number ``H*H >= 64`` of
        pixel-like values (all in [0, 1], or whole numbers in [0, 255]), read as
        one-channel ``H×H`` images with an :class:`~sklearn_capsnet.ImageShapeWarning`. Pass
        ``(n_features, 1, 1)`` to keep such a table a table. See the user guide,
        "How X is read".
        """,
        check=_channels_height_width,
    ),
    Param(
        name="data_format",
        default="auto",
        constraint=[StrOptions({"auto", "channels_first", "channels_last"})],
        acts="data",
        kind='{"auto", "channels_first", "channels_last"}',
        doc="""
        Where the channels of ``X``'s images are, as in Keras: ``"channels_last"``
        for ``(n, H, W, C)`` (NumPy, PIL, OpenCV, TensorFlow), ``"channels_first"`` for
        ``(n, C, H, W)`` (PyTorch). ``"auto"`` reads a last axis of 1, 3 or 4 behind
        larger height and width as channels, a first axis of 1, 3 or 4 likewise;
        otherwise the one of the two that is 1, 3 or 4, else the shorter, announced
        with an :class:`~sklearn_capsnet.ImageShapeWarning`. PIL images of several
        bands are channels last. Flat rows with an ``input_shape`` are channels
        first unless this says ``"channels_last"``. Channels-last data is
        rearranged batch by batch on its way to the device.
        """,
    ),
    Param(
        name="front_end",
        default="conv",
        constraint=[StrOptions(set(FRONT_ENDS))],
        acts="network",
        kind='{"conv", "space_to_depth", "resize", "scaled_kernels"}',
        doc="""
        How an image with a side over the working size (``2 * primary_grid + 16``
        pixels: 36 by default up to 77 pixels, 44 from 96, 56 from 216) reaches the
        capsules. Each such side is brought to exactly the working size (40×40 and
        64×64 become 36×36, 128×128 44×44, 224×224 56×56), so the
        layers after the front end, the parameters and most of the cost are the same
        for every larger image; the decoder draws at the working size, and
        :meth:`reconstruct` brings its drawings back to ``X``'s size. ``"conv"``:
        learned 3×3 convolutions (each with a BatchNorm and a ReLU) that halve the side
        while it stays at least the working size, which also see detail finer than the
        working size, then an area resampling for the rest (an image with no side to
        halve, 37 to 70 pixels by default, is only resampled); ``"space_to_depth"``:
        each block of pixels becomes one position, mixed by a learned linear map, then
        the resampling; ``"resize"``:
        the area resampling alone. ``"scaled_kernels"``: no front end, the kernels and
        the decoder grow with the whole image (cost as the side to the fourth power),
        as before this parameter existed. Up to the working size, and for tables, the
        network is the same whatever this says, except that ``"scaled_kernels"``
        scales the kernels above 28 pixels and keeps the dense decoder. See the user
        guide, "Image sizes".
        """,
    ),
    Param(
        name="primary_grid",
        default="auto",
        constraint=[Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        acts="network",
        kind='int or "auto"',
        doc="""
        The most primary capsule positions along each side. The paper's 9×9
        convolutions give a grid that grows with the image, 6×6 at 28×28 and 12×12 at
        40×40; a side of up to ``2 * primary_grid + 16`` pixels is read as it is, a
        longer one is brought to that working size by the ``front_end``. ``"auto"``:
        10 (36 pixels) for images up to 77 pixels, then one more every 6 pixels, 14
        (44 pixels) from 96 to 175, then one more every 8 pixels, 20 (56 pixels) from
        216 on, so that a small object on a large canvas still spans several
        positions: with 10 at every size (the default before 2026-12-07), 28-pixel
        garments centred on canvases of 96 to 224 pixels scored 2.7 to 6.6 points
        under 28×28, and with 14 at 224 pixels 3.1 under (docs/benchmarks.md,
        "Accuracy against size"). With
        ``primary_types`` and ``conv_channels`` at ``"auto"`` the types and channels
        shrink as the grid grows past 10×10, so the parameters and the cost of a pass
        stay about those of the 10×10 grid. Ignored with
        ``front_end="scaled_kernels"``. ``verbose=1`` prints the network chosen.
        """,
    ),
    Param(
        name="conv_channels",
        default="auto",
        constraint=[Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        acts="network",
        kind='int or "auto"',
        doc="""
        Channels of the first convolution. ``"auto"``: the paper's 256 up to a 10×10
        grid of primary capsules (every image up to 77 pixels with the default
        ``primary_grid``), then eight per type of ``primary_types="auto"`` (176 on
        12×12, 128 on 14×14, 64 on 20×20), so that the cost of a pass stays about that
        of a 10×10 grid as the grid grows.
        """,
    ),
    Param(
        name="primary_types",
        default="auto",
        constraint=[Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        acts="network",
        kind='int or "auto"',
        doc="""
        Primary capsule types (each a channel of 8-D capsules at every grid
        position). ``"auto"``: the paper's 32 up to a 10×10 grid (every image up to 77
        pixels with the default ``primary_grid``, so 28×28 is the paper's network),
        then as many as keep the primary capsules at most 3,200 (22 types on 12×12, 16
        on 14×14, 8 on 20×20), which keeps the parameters of larger images under 10 M.
        """,
    ),
    Param(
        name="primary_dim",
        default=8,
        constraint=[Interval(Integral, 1, None, closed="left")],
        acts="network",
        kind="int",
        doc="""
        Dimension of the primary capsules.
        """,
    ),
    Param(
        name="share_transforms",
        default="none",
        constraint=[StrOptions(set(SHARED_TRANSFORMS))],
        acts="network",
        kind='{"none", "positions", "all"}',
        doc="""
        Which primary capsules share each class capsule's prediction matrix
        ``W_ij``. ``"none"``: one matrix per primary capsule, the paper's.
        ``"positions"``: the capsules of one type share it at every grid position, so
        a part's vote for a class is the same transform wherever it is found (32 × 10
        matrices instead of 3,200 × 10 at 36 pixels: 4.1 M fewer parameters;
        ``routing="self_attention"`` still learns a prior per position). ``"all"``: every
        primary capsule shares one matrix per class, Gu and Tresp's Aff-CapsNets
        ("Improving the Robustness of Capsule Networks to Image Affine
        Transformations", CVPR 2020: 93.2 % against 79 % on affNIST). In this
        project's viewpoint study (docs/benchmarks.md, "The comparison decided sooner")
        ``"positions"`` was between 0.4 points below and 2.5 above the default on affine
        images at the same accuracy on placed ones, epoch by epoch, with no lasting lead.
        """,
    ),
    Param(
        name="capsule_dim",
        default=16,
        constraint=[Interval(Integral, 1, None, closed="left")],
        acts="network",
        kind="int",
        doc="""
        Dimension of the class capsules.
        """,
    ),
    Param(
        name="decoder_hidden",
        default=(512, 1024),
        constraint=[tuple, list],
        acts="network",
        kind="tuple of int",
        doc="""
        Hidden layer sizes of the reconstruction decoder.
        """,
        check=_layer_sizes,
    ),
    Param(
        name="optimizer",
        default=torch.optim.Adam,
        constraint=[callable],
        acts="training",
        saved="torch.optim class",
        kind="torch optimizer class",
        doc="""
        Its arguments go in as ``optimizer__name=value`` keywords.
        """,
    ),
    Param(
        name="callbacks",
        default=None,
        constraint=[list, None],
        acts="training",
        resumable=True,
        kind="list of skorch callbacks or (name, callback) tuples",
        doc="""
        Extra skorch callbacks (the learning-rate decay and progress bar are added).
        """,
        saved=None,
    ),
    Param(
        name="train_split",
        default=None,
        constraint=[callable, None],
        acts="training",
        kind="callable or None",
        doc="""
        A skorch ``train_split`` such as ``skorch.dataset.ValidSplit(0.1)`` to report a
        validation loss per epoch; None trains on all of ``X``.
        """,
        saved=None,
    ),
    Param(
        name="progress_bar",
        default=False,
        constraint=["boolean"],
        acts="training",
        resumable=True,
        kind="bool",
        doc="""
        Show a tqdm progress bar over the batches of each epoch.
        """,
    ),
    Param(
        name="verbose",
        default=0,
        constraint=["verbose"],
        acts="training",
        resumable=True,
        kind="int",
        doc="""
        1 prints skorch's table of losses and durations after each epoch.
        """,
    ),
    Param(
        name="device",
        default="auto",
        constraint=[str, torch.device],
        acts="placement",
        resumable=True,
        kind="str",
        doc="""
        ``"auto"`` uses CUDA when PyTorch sees a GPU, else MPS on Apple silicon, else
        the CPU; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` force one (a missing
        device is an error). On MPS, an operation without a Metal kernel in your torch
        raises ``NotImplementedError``; set ``PYTORCH_ENABLE_MPS_FALLBACK=1`` before
        importing torch to run such operations on the CPU.
        """,
    ),
    Param(
        name="mixed_precision",
        default="auto",
        constraint=[StrOptions({"auto", "bf16", "no"})],
        acts="precision",
        reaches_net=_net_precision,
        at_prediction=True,
        resumable=True,
        kind='{"auto", "bf16", "no"}',
        doc="""
        Run the network under bfloat16 autocast: ``"bf16"`` everywhere, ``"no"``
        never; ``"auto"`` on CUDA GPUs that support bf16, and on CPUs with bf16
        arithmetic (AVX512-BF16 or AMX), for images of at least 256 pixels (16×16),
        where a short measurement on this machine finds it at least 10 % faster than
        float32 (once per machine for each network, shape, batch size and work:
        training and prediction are measured apart; the answer is kept for later runs
        in ``$SKLEARN_CAPSNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/sklearn-capsnet`` or
        ``~/.cache/sklearn-capsnet``; set the variable to ``""`` to keep nothing on
        disk). Capsules, losses and outputs
        stay float32; a CPU step whose bf16 gradients are not finite is redone in
        float32. ``training_precision_`` and each epoch of ``history_`` say what
        training ran in. Prediction follows the current value, also on a fitted model.
        """,
    ),
    Param(
        name="compile",
        default=False,
        constraint=["boolean"],
        acts="training",
        resumable=True,
        kind="bool",
        doc="""
        ``torch.compile`` the network (skorch's ``compile``; ``compile__mode=...`` and
        other ``compile__*`` keywords reach ``torch.compile``). Pays off on long GPU runs.
        """,
    ),
    Param(
        name="memory_format",
        default="contiguous",
        constraint=[StrOptions({"contiguous", "channels_last"})],
        acts="network",
        resumable=True,
        kind='{"contiguous", "channels_last"}',
        doc="""
        How the convolutions keep their inputs and weights in memory: ``"channels_last"``
        is faster on recent GPUs and changes no result. It is not how ``X`` is laid out;
        that is ``data_format``.
        """,
    ),
    Param(
        name="threshold",
        default=0.5,
        constraint=[Interval(Real, 0, 1, closed="neither")],
        acts="prediction",
        reaches_net=lambda estimator: setattr(estimator.net_, "threshold", estimator.threshold),
        at_prediction=True,
        resumable=True,
        kind="float in (0, 1)",
        doc="""
        Multilabel ``y`` only: a label is predicted when its capsule is longer than
        this, and the decoder reconstructs from all such capsules.
        """,
    ),
    Param(
        name="checkpoint",
        default=None,
        constraint=[str, os.PathLike, None],
        acts="training",
        resumable=True,
        kind="str, path or None",
        doc="""
        A directory where each epoch saves weights, optimizer state and history. If it
        already holds a checkpoint of the same fit (the same settings and training
        data), :meth:`fit` resumes after its last epoch, and refuses one of another fit:
        use one directory per model, and per fold in a cross-validation
        (:meth:`partial_fit` writes there but never reads it). Each epoch's files become
        the checkpoint together or not at all, so a process killed at any moment leaves
        the last complete epoch; a write that fails (full disk, no permission) raises an
        ``OSError`` during that ``fit``; a second process fitting into the same
        directory at the same time is refused. See "Faults" in the bad-input page.
        """,
        saved=None,
    ),
    Param(
        name="accelerator",
        default=None,
        constraint="no_validation",
        acts="placement",
        resumable=True,
        kind="accelerate.Accelerator or None",
        doc="""
        Data-parallel training over the processes of ``accelerate launch`` (several
        GPUs or machines, or ``--cpu``): each process trains on its share of every
        epoch and gradients are averaged, so all hold one shared model. Only the main
        process writes checkpoints and :meth:`save` files. Give every process the same
        ``random_state``. None trains in this process alone.
        """,
        saved=None,
    ),
    Param(
        name="random_state",
        default=None,
        constraint=["random_state"],
        acts="training",
        saved="int or null",
        kind="int, RandomState instance or None",
        doc="""
        Seeds weight initialisation, shuffling and augmentation. The same value gives
        identical predictions on the same CPU. Torch's global random state is left as
        it was.
        """,
    ),
    Param(
        name="output",
        default="vectors",
        constraint=[StrOptions({"vectors", "lengths"})],
        acts="output",
        kind='{"vectors", "lengths"}',
        doc="""
        ``"vectors"``: ``n_classes * capsule_dim`` features, each capsule's components;
        ``"lengths"``: ``n_classes`` features, the capsule lengths.
        """,
        owner="CapsuleTransformer",
    ),
)

KWARGS_DOC = """    **kwargs
        skorch-style nested parameters: ``optimizer__weight_decay=1e-4``,
        ``callbacks__lr_scheduler__gamma=0.9``, ...
"""


def params_of(estimator_name: str) -> tuple[Param, ...]:
    """The parameters of the estimator class called ``estimator_name``."""
    return tuple(p for p in PARAMS if p.owner in (None, estimator_name))


def constraints(estimator_name: str) -> dict:
    """scikit-learn's ``_parameter_constraints`` for that estimator."""
    return {p.name: p.constraint for p in params_of(estimator_name)}


def parameters_doc(estimator_name: str) -> str:
    """The numpydoc Parameters section for that estimator's docstring."""
    entries = "".join(p.docstring() for p in params_of(estimator_name))
    return "Parameters\n    ----------\n" + entries + KWARGS_DOC + "\n"


def prediction_names() -> tuple[str, ...]:
    """Parameters read at each prediction (``at_prediction``), which may change after fit."""
    return tuple(p.name for p in PARAMS if p.at_prediction)


def resumable_names() -> frozenset[str]:
    """Parameters a fit resumed from a checkpoint may change (``resumable``)."""
    return frozenset(p.name for p in PARAMS if p.resumable)


def saved_codecs(estimator_name: str) -> dict[str, str]:
    """How the safe model file stores each parameter it stores for that estimator:
    name to one of :data:`~sklearn_capsnet.io.model_file.CODECS`."""
    return {p.name: p.saved for p in params_of(estimator_name) if p.saved is not None}


def follow_on_net(estimator, changed) -> None:
    """Pass the ``changed`` parameters that a fitted net follows (``reaches_net``) on to
    ``estimator.net_``, in the table's order."""
    for p in PARAMS:
        if p.name in changed and p.reaches_net is not None:
            p.reaches_net(estimator)


def module_params(params: dict) -> dict:
    """skorch ``module__*`` arguments: each ``"network"`` parameter's value in ``params``."""
    return {
        f"module__{p.name}": tuple(params[p.name])
        if isinstance(params[p.name], list)
        else params[p.name]
        for p in PARAMS
        if p.acts == "network"
    }


def check_values(estimator_name: str, params: dict) -> None:
    """Raise ``ValueError`` for a value a parameter's ``check`` refuses."""
    for p in params_of(estimator_name):
        problem = p.check(params[p.name]) if p.check is not None else None
        if problem is not None:
            raise ValueError(problem)


# skorch-style nested parameters the estimators pass through to their net
SKORCH_PREFIXES = ("optimizer__", "callbacks__", "compile__")

# former names, and what replaced them
RENAMED = {
    "channels_last": (
        'memory_format="channels_last" is the memory format of the convolutions; '
        'data_format="channels_last" reads images held as (n, height, width, channels).'
    ),
}


def passed_through(params: dict) -> dict:
    """The skorch-style entries of ``params`` (``optimizer__*``, ...), for the net."""
    return {key: value for key, value in params.items() if key.startswith(SKORCH_PREFIXES)}


def check_keyword(estimator_name: str, key: str) -> None:
    """Refuse ``key`` unless it is a parameter of that estimator or skorch-style.

    The message names the closest parameter, as a spelling slip usually is.

    Examples
    --------
    >>> check_keyword("CapsNetClassifier", "optimizer__weight_decay")
    >>> check_keyword("CapsNetClassifier", "max_epoch")
    Traceback (most recent call last):
    ...
    ValueError: CapsNetClassifier has no parameter 'max_epoch'; did you mean 'max_epochs'? ...
    """
    names = [p.name for p in params_of(estimator_name)]
    if key in names or key.startswith(SKORCH_PREFIXES):
        return
    if key in RENAMED:
        raise ValueError(f"{estimator_name} has no parameter {key!r} any more: {RENAMED[key]}")
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(
        f"{estimator_name} has no parameter {key!r}; {hint}Valid parameters are the "
        f"documented ones ({', '.join(names)}) and skorch-style names starting with "
        f"{' or '.join(SKORCH_PREFIXES)}."
    )
