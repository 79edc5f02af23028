"""scikit-learn's own estimator checks, every one, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_capsnet import CapsNetClassifier, CapsuleTransformer

# Tiny networks through public hyper-parameters: every check fits in well under a second.
TINY = dict(
    conv_channels=8,
    primary_types=4,
    primary_dim=4,
    capsule_dim=4,
    decoder_hidden=(16,),
    max_epochs=15,
    batch_size=16,
    lr=0.01,
    random_state=0,
)


@parametrize_with_checks([CapsNetClassifier(**TINY), CapsuleTransformer(**TINY)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
