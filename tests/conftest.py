import os
import sys
from pathlib import Path

import pytest

# scikit-learn's array-API estimator check runs only with this set before SciPy loads;
# set it so that test_common.py runs every check instead of skipping that one.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits as rows of 64 pixels: the split of the demo and benchmarks."""
    from sklearn_capsnet._testing import digits_split  # here: SciPy loads after SCIPY_ARRAY_API

    return digits_split()
