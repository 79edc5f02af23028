"""Peak memory of `predict_proba` over a large uint8 memmap; prints one JSON line per run.

The data never sit in memory whole: rows are read from disk one batch at a time.
Anonymous memory (RssAnon: the heap, tensors, the output) is sampled every 20 ms;
file-backed pages of the memmap are the kernel's page cache, counted apart.

    python benchmarks/bench_memory.py --samples 100000 1000000 --batch-size 512
    python benchmarks/bench_memory.py --shape 224 224 3 --network default \
        --samples 2000 8000 --batch-size 32

``--shape`` is one image, channels last (``H W 1`` is a grey stack ``(n, H, W)``);
``--network small`` is a network of 16 channels and 4 capsule types, ``default`` the
default ``CapsNetClassifier``.
"""

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from environment import machine

from sklearn_capsnet import CapsNetClassifier


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


class PeakAnon:
    """Sample RssAnon in a background thread; ``peak_mb`` after the block."""

    def __enter__(self):
        self.peak, self.running = _status_kb("RssAnon"), True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, _status_kb("RssAnon"))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak_mb = self.peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--shape", type=int, nargs=3, default=[28, 28, 1], metavar=("H", "W", "C"))
    parser.add_argument("--network", choices=["small", "default"], default="small")
    parser.add_argument("--train", type=int, default=512)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    height, width, channels = args.shape
    image = (height, width) if channels == 1 else (height, width, channels)
    small = dict(conv_channels=16, primary_types=4, decoder_hidden=(32,))
    clf = CapsNetClassifier(
        **(small if args.network == "small" else {}), max_epochs=1, random_state=0
    ).fit(rng.integers(0, 256, (args.train, *image), dtype=np.uint8), np.arange(args.train) % 10)
    clf.set_params(batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.samples:
            path = Path(tmp) / f"X_{n}.npy"
            data = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, *image))
            chunk = max(1, 2**26 // data[0].nbytes)  # write 64 MB at a time, then drop it
            for start in range(0, n, chunk):
                stop = min(start + chunk, n)
                data[start:stop] = rng.integers(0, 256, (stop - start, *image), dtype=np.uint8)
            data.flush()
            del data
            X = np.load(path, mmap_mode="r")
            baseline = _status_kb("RssAnon") / 1024
            start = time.perf_counter()
            with PeakAnon() as peak:
                proba = clf.predict_proba(X)
            seconds = time.perf_counter() - start
            print(
                json.dumps(
                    {
                        "benchmark": "predict_proba_memmap",
                        "samples": n,
                        "shape": list(image),
                        "network": clf.net_.capsnet().describe(),
                        "batch_size": args.batch_size,
                        "memmap_mb": round(X.nbytes / 2**20, 1),
                        "output_mb": round(proba.nbytes / 2**20, 1),
                        "anon_rss_before_mb": round(baseline, 1),
                        "peak_anon_rss_mb": round(peak.peak_mb, 1),
                        "growth_mb": round(peak.peak_mb - baseline, 1),
                        "peak_rss_incl_page_cache_mb": round(_status_kb("VmHWM") / 1024, 1),
                        "seconds": round(seconds, 1),
                        "samples_per_s": round(n / seconds),
                        **machine(clf.device_),
                    }
                ),
                flush=True,
            )
            del X, proba


if __name__ == "__main__":
    main()
