"""X's range of values, read in one pass, and what it says: pixels or not, float32 or not."""

from dataclasses import dataclass

import numpy as np

__all__ = ["CHUNK_ROWS", "ValueRange", "check_float32_range", "looks_like_pixels", "value_range"]

PIXEL_TOLERANCE = 1e-6  # float rounding: MinMaxScaler's output can reach 1 + 2e-16
CHUNK_ROWS = 4096  # rows read at a time when scanning a (memmapped) X
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class ValueRange:
    """The smallest and largest value of each column of ``X``, read in one pass.

    Examples
    --------
    >>> import numpy as np
    >>> r = ValueRange.of(np.array([[0, 5], [2, 1]], dtype=np.uint8))
    >>> r.low.tolist(), r.high.tolist(), r.overall()
    ([0, 1], [2, 5], (0.0, 5.0))
    """

    low: np.ndarray  # [F], X's dtype
    high: np.ndarray  # [F]

    @classmethod
    def of(cls, X) -> "ValueRange":
        """Column minima and maxima of ``X``, a block of rows at a time: each block is
        read from disk (a memmap) once for both."""
        low = high = None
        for start in range(0, len(X), CHUNK_ROWS):
            block = np.asarray(X[start : start + CHUNK_ROWS])
            block_low, block_high = block.min(axis=0), block.max(axis=0)
            low = block_low if low is None else np.minimum(low, block_low)
            high = block_high if high is None else np.maximum(high, block_high)
        return cls(low, high)

    def overall(self) -> tuple[float, float]:
        """The smallest and the largest value of all of ``X``."""
        return float(self.low.min()), float(self.high.max())


def looks_like_pixels(X, values: ValueRange | None = None) -> bool:
    """Whether every value of ``X`` is a pixel intensity: in [0, 1], or whole in [0, 255].

    Standardised tables (negative values) and tables of other ranges are not.
    ``values``: ``X``'s range when already read. Reads ``X`` a block of rows at a
    time (a memmap stays on disk).
    """
    low, high = (values or ValueRange.of(X)).overall()
    if low < 0 or high > 255:
        return False
    if high <= 1 + PIXEL_TOLERANCE or X.dtype.kind in "biu":
        return True
    return all(
        np.array_equal(block, np.round(block))
        for block in (X[k : k + CHUNK_ROWS] for k in range(0, len(X), CHUNK_ROWS))
    )


def check_float32_range(X, overall: tuple[float, float], name: str) -> None:
    """Refuse float64 ``X`` whose smallest or largest value (``overall``) float32 cannot
    hold: the network computes in float32."""
    largest = max(abs(overall[0]), abs(overall[1]))
    if X.dtype.kind == "f" and X.dtype.itemsize > 4 and largest > _FLOAT32_MAX:
        raise ValueError(
            f"X has values beyond the float32 range (largest magnitude {largest:.3g}); "
            f"{name} computes in float32: rescale X first."
        )


def value_range(*arrays) -> tuple[float, float]:
    """[0, 1] when every value lies there, else the values' own minimum and maximum."""
    low = min(float(np.min(a)) for a in arrays)
    high = max(float(np.max(a)) for a in arrays)
    return (0.0, 1.0) if low >= 0 and high <= 1 else (low, high)
