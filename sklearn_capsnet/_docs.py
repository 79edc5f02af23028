"""The hyper-parameter section shared by the estimators' docstrings."""

PARAMETERS_DOC = """Parameters
    ----------
    routing_iterations : int, default=3
        Iterations ``r >= 1`` of routing by agreement (``routing="dynamic"`` only).
    routing : {"dynamic", "self_attention"}, default="dynamic"
        The routing algorithm between primary and class capsules: the paper's iterative
        routing by agreement, or Efficient-CapsNet's one-pass self-attention routing
        (Mazzia et al. 2021), which ignores ``routing_iterations``.
    max_epochs : int, default=40
        Passes over the training data in :meth:`fit`.
    batch_size : int, default=32
        Examples per training step.
    predict_batch_size : int or None, default=None
        Rows per step of ``predict``, ``predict_proba``, ``transform`` and the other
        prediction methods; memory during prediction is bounded by it, not by the
        number of rows. None: ``batch_size`` on the CPU, and on a GPU at least 1024
        (without gradients larger batches fit, and they keep the GPU busy).
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
    flip : bool, default=False
        Also mirror each training image left-right with probability 1/2 (on the device;
        right for clothing, wrong for digits). Tabular input is never flipped.
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
    mixed_precision : {"auto", "bf16", "no"}, default="auto"
        Run the network under bfloat16 autocast: ``"auto"`` on CUDA GPUs that support
        bf16, ``"bf16"`` everywhere, ``"no"`` never. Capsules, losses and outputs stay
        float32. Prediction follows the current value, also on a fitted model.
    compile : bool, default=False
        ``torch.compile`` the network (skorch's ``compile``; ``compile__mode=...`` and
        other ``compile__*`` keywords reach ``torch.compile``). Pays off on long GPU runs.
    channels_last : bool, default=False
        Channels-last memory format for the convolutions (faster on recent GPUs).
    threshold : float in (0, 1), default=0.5
        Multilabel ``y`` only: a label is predicted when its capsule is longer than
        this, and the decoder reconstructs from all such capsules.
    checkpoint : str, path or None, default=None
        A directory where each epoch saves weights, optimizer state and history. If it
        already holds a checkpoint, :meth:`fit` resumes after its last epoch (use one
        directory per model).
    accelerator : accelerate.Accelerator or None, default=None
        Data-parallel training over the processes of ``accelerate launch`` (several
        GPUs or machines, or ``--cpu``): each process trains on its share of every
        epoch and gradients are averaged, so all hold one shared model. Only the main
        process writes checkpoints and :meth:`save` files. Give every process the same
        ``random_state``. None trains in this process alone.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and augmentation. The same value gives
        identical predictions on the same CPU. Torch's global random state is left as
        it was.
    **kwargs
        skorch-style nested parameters: ``optimizer__weight_decay=1e-4``,
        ``callbacks__lr_scheduler__gamma=0.9``, ...

"""
