"""A fit alone and beside a busy process, torch's threads adapting or fixed; JSON lines.

The digits (the demo's split) with the default ``CapsNetClassifier`` for
``--epochs`` epochs, in alternating rounds: alone, and while another process keeps
one core busy (a Python loop, started before the fit and killed after it), each
with the threads adapting to the free cores (the default) and fixed at torch's
count (``OMP_NUM_THREADS`` set in the environment, which switches the adapting
off). Each line: the case, the fit's seconds, and the thread counts the fit chose.

    python benchmarks/bench_busy.py --rounds 3
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import warnings

import torch
from environment import machine

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import digits_split


@contextlib.contextmanager
def busy_core(busy: bool):
    """Another process spinning on one core inside the block (when ``busy``)."""
    if not busy:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)  # it runs before the fit starts
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


@contextlib.contextmanager
def threads_fixed(fixed: bool):
    """``OMP_NUM_THREADS`` set to torch's count (the adapting off) inside the block."""
    before = os.environ.get("OMP_NUM_THREADS")
    if fixed:
        os.environ["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=None, help="training rows (all: None)")
    args = parser.parse_args(argv)
    X_train, _, y_train, _ = digits_split(images=True)
    if args.rows:
        X_train, y_train = X_train[: args.rows], y_train[: args.rows]
    warnings.simplefilter("ignore")
    threads = torch.get_num_threads()
    cases = [(busy, fixed) for busy in (False, True) for fixed in (False, True)]
    for round_ in range(args.rounds):
        for busy, fixed in cases:
            clf = CapsNetClassifier(max_epochs=args.epochs, random_state=0)
            with busy_core(busy), threads_fixed(fixed):
                start = time.perf_counter()
                clf.fit(X_train, y_train)
                seconds = time.perf_counter() - start
            chosen = dict(clf.net_.callbacks_)["free_cores"].threads
            record = {
                "benchmark": "busy",
                "round": round_,
                "beside": "a busy process" if busy else "nothing",
                "threads": "fixed" if fixed else "adapting",
                "fit_s": round(seconds, 2),
                "epochs": args.epochs,
                "rows": len(X_train),
                "threads_chosen": sorted(set(chosen)) if chosen else [threads],
                **machine("cpu"),
            }
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
