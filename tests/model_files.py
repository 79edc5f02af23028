"""Model files as another version, or a damaged copy, would have written them."""

import json

from safetensors import safe_open
from safetensors.torch import save_file

KEY = "sklearn-capsnet"  # the header entry that holds the JSON description


def edited(path, out, edit):
    """A copy at ``out`` of the model file at ``path``, its description (parsed JSON) and
    tensors changed in place by ``edit(description, tensors)``; the checksum stays as it
    was unless ``edit`` sets it. Returns ``out``."""
    with safe_open(str(path), framework="pt") as handle:
        description = json.loads(handle.metadata()[KEY])
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    edit(description, tensors)
    save_file(tensors, str(out), {KEY: json.dumps(description)})
    return out
