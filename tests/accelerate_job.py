"""Run under `accelerate launch --cpu --num_processes N`: data-parallel training of a CapsNet.

Each process writes `rank<i>.json` into the output folder (its process index, a hash of its
final weights, held-out accuracy, and whether it wrote the model file); the main process
also saves the model and a checkpoint. tests/test_scale_out.py reads them.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from accelerate import Accelerator

import sklearn_capsnet.io.model_file as persistence
from sklearn_capsnet import CapsNetClassifier
from sklearn_capsnet._testing import digits_split, tiny

PARAMS = tiny(max_epochs=6, batch_size=32)


def _sha256(module) -> str:
    """A hash of every parameter and buffer of ``module``."""
    state = module.state_dict()
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(state[name].detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def main(out: Path) -> None:
    accelerator = Accelerator(cpu=True)
    wrote = []
    real_write = persistence.write_atomically
    persistence.write_atomically = lambda *a, **k: (wrote.append(True), real_write(*a, **k))

    X_train, X_test, y_train, y_test = digits_split()
    clf = CapsNetClassifier(
        **PARAMS, accelerator=accelerator, checkpoint=out / "checkpoint", random_state=0
    )
    clf.fit(X_train, y_train)
    clf.save(out / "model.safetensors")

    # 40x40 images pass the "conv" front end, whose BatchNorm keeps running statistics
    images = np.random.default_rng(0).integers(0, 256, (64, 40, 40), dtype=np.uint8)
    large = CapsNetClassifier(
        **tiny(max_epochs=2, batch_size=16), accelerator=accelerator, random_state=0
    ).fit(images, np.arange(64) % 2)
    report = {
        "process_index": accelerator.process_index,
        "distributed_type": str(accelerator.distributed_type),
        "backend": accelerator.state.backend,
        "num_processes": accelerator.num_processes,
        "weights_sha256": _sha256(clf.net_.module_),
        "front_end_model_sha256": _sha256(large.net_.module_),
        "accuracy": float(np.mean(clf.predict(X_test) == y_test)),
        "train_batches_per_epoch": clf.history_[-1, "train_batch_count"],
        "wrote_model": bool(wrote),
    }
    (out / f"rank{accelerator.process_index}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
