"""Keyword plumbing: scikit-learn's parameters plus skorch-style ``prefix__name`` ones.

scikit-learn's ``get_params``/``set_params`` know the named parameters of
``__init__``; a CapsNet also takes skorch's keywords (``optimizer__weight_decay``,
``callbacks__print_log``, ...), kept as attributes and handed to the skorch net
at ``fit``. An unknown name is refused at once, naming the closest parameter.
"""

from .params import check_keyword, follow_on_net

__all__ = ["KeywordParamsMixin", "extra_params"]


def extra_params(estimator) -> dict:
    """``estimator``'s keyword parameters beyond the named ones (skorch-style
    ``optimizer__*``, ...)."""
    named = set(estimator._get_param_names())
    return {
        key: value
        for key, value in vars(estimator).items()
        if key not in named and not key.startswith("_") and not key.endswith("_")
    }


class KeywordParamsMixin:
    """``get_params``/``set_params`` with skorch-style keywords, for the estimators."""

    def get_params(self, deep=True):
        """Get parameters, including skorch-style ``optimizer__*`` / ``callbacks__*`` ones."""
        params = super().get_params(deep=deep)
        params.update(extra_params(self))
        return params

    def set_params(self, **params):
        """Set parameters; ``optimizer__*`` and ``callbacks__*`` reach the skorch net at fit.

        An unknown name raises ``ValueError`` at once, naming the closest parameter.
        ``threshold`` and ``mixed_precision``, read at each prediction, also reach a
        fitted ``net_`` at once, so that its ``predict`` (which skorch's scoring
        callbacks read) answers as the estimator does; ``mixed_precision`` then also
        applies to later ``partial_fit`` epochs.
        """
        for key in params:
            # scikit-learn's check_do_not_raise_errors_in_init_or_set_params sets every name
            # of the signature, the catch-all "kwargs" too: that one is refused at fit
            if key != "kwargs":
                check_keyword(type(self).__name__, key)
        named = set(self._get_param_names())
        extra = {key: params.pop(key) for key in list(params) if key not in named}
        vars(self).update(extra)
        super().set_params(**params)
        if "net_" in vars(self):
            follow_on_net(self, params)  # the table's ``reaches_net``
        return self
