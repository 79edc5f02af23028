"""``python -m sklearn_capsnet``: train on scikit-learn's bundled digits and show it.

Holds out 25 % of the digits (stratified, ``random_state=0``), trains a
:class:`~sklearn_capsnet.CapsNetClassifier` with its defaults, prints the held-out
accuracy and writes a PNG of held-out digits above their reconstructions.
"""

import argparse
import time

import numpy as np

from . import CapsNetClassifier
from ._testing import digits_split
from .nn.device import resolve_device


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(prog="python -m sklearn_capsnet", description=__doc__)
    parser.add_argument("--max-epochs", type=int, default=None, help="default: the estimator's")
    parser.add_argument("--output", default="capsnet_digits.png", help="PNG to write")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch table")
    args = parser.parse_args(argv)

    # (n, 8, 8) images: no guessing from flat rows; the split of the tests and benchmarks
    X_train, X_test, y_train, y_test = digits_split(images=True)
    params = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    clf = CapsNetClassifier(random_state=0, verbose=0 if args.quiet else 1, **params)
    print(
        f"Training a CapsNet on {len(X_train)} digits (8x8) for {clf.max_epochs} epochs on "
        f"{resolve_device(clf.device)}; about 1.2 s per epoch on a 2-core CPU."
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(clf.predict(X_test) == y_test))
    print(
        f"held-out accuracy: {accuracy:.2%} on {len(y_test)} digits (fit {seconds:.1f} s "
        f"on {clf.device_})"
    )

    import matplotlib

    matplotlib.use("Agg")
    from .plotting import ReconstructionDisplay

    display = ReconstructionDisplay.from_estimator(clf, X_test, n_images=12)
    display.figure_.suptitle(f"CapsNet on digits: held-out accuracy {accuracy:.2%}")
    display.figure_.savefig(args.output, dpi=120, bbox_inches="tight")
    print(f"wrote {args.output}: held-out digits (top) and their reconstructions (bottom)")
    return accuracy


if __name__ == "__main__":
    main()
