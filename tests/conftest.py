import os
import sys
from pathlib import Path

# scikit-learn's array-API estimator check runs only with this set before SciPy loads;
# set it so that test_common.py runs every check instead of skipping that one.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

sys.path.insert(0, str(Path(__file__).parent))
