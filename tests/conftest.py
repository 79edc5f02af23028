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
    """scikit-learn's digits, 25 % stratified hold-out with random_state=0 (the docs' split)."""
    from sklearn.datasets import load_digits  # here: SciPy must load after SCIPY_ARRAY_API
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
