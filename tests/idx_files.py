"""IDX files as Fashion-MNIST's are written, for the tests that read them."""

import gzip
import struct

import numpy as np


def write_idx(path, array, gzipped=True):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    payload = header + array.astype(np.uint8).tobytes()
    if gzipped:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path
