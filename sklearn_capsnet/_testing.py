"""What the tests, the benchmarks and the demo share: one digits split, one tiny network.

Not part of the public API. Examples in the gallery write their split out in
full, as users would.
"""

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

__all__ = ["TINY", "TINY_NETWORK", "digits_split", "tiny"]

# The tiny network: public hyper-parameters only, a few seconds of training on a CPU.
TINY_NETWORK = dict(
    conv_channels=8,
    primary_types=4,
    primary_dim=4,
    capsule_dim=4,
    decoder_hidden=(16,),
)
# ... and how it is trained: small batches and a larger step than the paper's
TINY = dict(TINY_NETWORK, batch_size=16, lr=0.01)


def tiny(**overrides) -> dict:
    """The tiny network's hyper-parameters, with ``overrides`` (``max_epochs``, ...).

    Examples
    --------
    >>> tiny(max_epochs=2)["max_epochs"], tiny()["conv_channels"]
    (2, 8)
    """
    return {**TINY, **overrides}


def digits_split(images: bool = False):
    """scikit-learn's digits with 25 % held out, stratified, ``random_state=0``.

    The split of the demo, the tests and the benchmarks (450 test digits).

    Parameters
    ----------
    images : bool, default=False
        ``(n, 8, 8)`` images instead of rows of 64 pixels; the same digits in the
        same order.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = digits_split(images=True)
    >>> X_train.shape, X_test.shape
    ((1347, 8, 8), (450, 8, 8))
    """
    digits = load_digits()
    X = digits.images if images else digits.data
    return train_test_split(
        X, digits.target, test_size=0.25, stratify=digits.target, random_state=0
    )
