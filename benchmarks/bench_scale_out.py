"""Data-parallel training with accelerate: 1 process against N; prints JSON lines.

Trains the default CapsNetClassifier on the digits split for a few epochs, once in this
process and once under `accelerate launch --multi_gpu --num_processes N` (on a machine
without GPUs that means N CPU processes joined by gloo), and reports the fit seconds
measured inside the job (process start-up excluded) and held-out accuracy.

    python benchmarks/bench_scale_out.py --processes 2 --epochs 5
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import digits_split


def fit_and_report(epochs: int, accelerator=None) -> dict:
    X_train, X_test, y_train, y_test = digits_split()
    clf = CapsNetClassifier(max_epochs=epochs, accelerator=accelerator, random_state=0)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return {
        "fit_seconds": round(seconds, 2),
        "accuracy": round(float(np.mean(clf.predict(X_test) == y_test)), 5),
        "torch_threads_per_process": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:  # inside `accelerate launch`
        from accelerate import Accelerator

        accelerator = Accelerator(cpu=not torch.cuda.is_available())
        report = fit_and_report(args.epochs, accelerator)
        if accelerator.is_main_process:
            report.update(processes=accelerator.num_processes, backend=accelerator.state.backend)
            print("RESULT " + json.dumps(report), flush=True)
        return
    single = fit_and_report(args.epochs)
    print(json.dumps({"benchmark": "scale_out", "processes": 1, "epochs": args.epochs, **single}))
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
        "--num_processes", str(args.processes), "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        os.path.abspath(__file__), "--job", "--epochs", str(args.epochs),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])
    print(json.dumps({"benchmark": "scale_out", "epochs": args.epochs, **result}))


if __name__ == "__main__":
    main()
