"""scikit-learn's own estimator checks, every one, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer
from sklearn_capsnet._testing import tiny

# the shared tiny network: every check fits in well under a second
TINY = tiny(max_epochs=15, random_state=0)


@parametrize_with_checks([CapsNetClassifier(**TINY), CapsuleTransformer(**TINY)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
