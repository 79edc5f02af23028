"""What every benchmark line records about the machine and the software versions."""

import platform

import numpy as np
import sklearn
import skorch
import torch


def machine(device: str) -> dict:
    """Device, its name, thread count and library versions, for a JSON record."""
    if str(device).startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
    else:
        name = _cpu_model() or platform.processor() or platform.machine()
    return {
        "device": str(device),
        "device_name": name,
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "skorch": skorch.__version__,
            "sklearn": sklearn.__version__,
            "numpy": np.__version__,
        },
    }


def _cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), or None."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None
