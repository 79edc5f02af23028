"""The capsule API: the class capsules, the decoder and the routing's coupling.

What sets a CapsNet apart from other classifiers, for both estimators: the class
capsules of ``X``, drawings decoded from (edited) capsules in ``X``'s shape, layout and
units, reconstruction errors, and coupling coefficients.
"""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ..data.arrays import as_array, sample_shape
from ..nn.outputs import active_labels
from .answers import map_capsules, map_inputs
from .fit import built

__all__ = ["CapsulesMixin"]


# the least contrast ``reconstruction_error(relative=True)`` divides by, in the network's
# units (the training range mapped to [0, 1]): about a quarter of one level of 256
CONTRAST_FLOOR = 1e-3


class CapsulesMixin:
    """``capsules``, ``decode``, ``reconstruct``, ``reconstruction_error``,
    ``coupling_coefficients``."""

    def capsules(self, X):
        """The class capsules of ``X``: one ``capsule_dim`` vector per class.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes, capsule_dim), float32
            Each vector's length is the presence of its class; its direction, the
            instantiation parameters the decoder draws from.
        """
        check_is_fitted(self, "net_")
        shape = (len(self.classes_), built(self, "capsule_dim"))
        return map_capsules(self, X, lambda capsules: capsules, shape)

    def decode(self, capsules, labels=None):
        """Draw inputs from class capsules with the decoder, as :meth:`fit`'s ``X`` held them.

        Parameters
        ----------
        capsules : array-like of shape (n_samples, n_classes, capsule_dim)
            As returned by :meth:`capsules`, possibly edited.
        labels : array-like of shape (n_samples,) or (n_samples, n_classes), default=None
            Which capsule to decode from, as indices into ``classes_`` (or 0/1
            indicators of several); None takes the longest (multilabel: those longer
            than ``threshold``).

        Returns
        -------
        ndarray of shape (n_samples, H, W), (n_samples, H, W, C), ... or (n_samples, n_features)
            float32, in the shape, layout and units of the ``X`` the model was fitted on: images
            such as ``(n_samples, 100, 150, 3)`` after a fit on ``(n, 100, 150, 3)``
            photos, flat rows after a fit on rows. :meth:`reconstruct` answers in the
            shape of its own ``X``.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_capsnet import CapsNetClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> images = X.reshape(-1, 8, 8)
        >>> clf = CapsNetClassifier(max_epochs=1, random_state=0).fit(images[:100], y[:100])
        >>> capsules = clf.capsules(images[:3])
        >>> capsules[:, :, 0] *= 1.2  # one dimension of every capsule, edited
        >>> clf.decode(capsules).shape  # the images fit saw
        (3, 8, 8)
        """
        check_is_fitted(self, "net_")
        capsules, labels = self._decodable(capsules, labels)
        with torch.inference_mode():
            decoded = self.net_.capsnet().to_input_size(self._decoded(capsules, labels))
        return self._in_input_units(decoded.float().cpu().numpy(), self.input_spec_.sample_shape)

    def _decodable(self, capsules, labels):
        """``decode``'s arguments as tensors on the device, or a ValueError that says why not."""
        n_classes = len(self.classes_)
        capsules = np.asarray(capsules, dtype=np.float32)
        expected = (n_classes, built(self, "capsule_dim"))
        if capsules.ndim != 3 or capsules.shape[1:] != expected:
            raise ValueError(
                f"capsules must have shape (n_samples, {n_classes}, {expected[1]}), as "
                f"capsules(X) returns them; got {capsules.shape}."
            )
        if labels is not None:
            labels = np.asarray(labels)
            shapes = [(len(capsules),), (len(capsules), n_classes)]
            if labels.shape not in shapes or labels.dtype.kind not in "biu":
                raise ValueError(
                    f"labels must be indices into classes_ of shape ({len(capsules)},), or 0/1 "
                    f"indicators of shape ({len(capsules)}, {n_classes}); got {labels.dtype} "
                    f"values of shape {labels.shape}. For class names: "
                    "np.searchsorted(clf.classes_, names)."
                )
            if labels.ndim == 1 and (
                labels.min(initial=0) < 0 or labels.max(initial=0) >= n_classes
            ):
                raise ValueError(
                    f"labels must be indices into classes_, from 0 to {n_classes - 1}; got "
                    f"values from {labels.min()} to {labels.max()}."
                )
            labels = torch.as_tensor(labels, device=self.device_)
        return torch.as_tensor(capsules, device=self.device_), labels

    def reconstruct(self, X):
        """Decode each sample from its predicted class capsule, in the shape and units of ``X``.

        For multilabel models, from all capsules longer than ``threshold``.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape X.shape, float32
            The decoder's output mapped back through ``input_offset_`` and
            ``input_scale_``, in ``X``'s shape and layout: images for images
            (``(n, 100, 150, 3)`` channels last in, ``(n, 100, 150, 3)`` out; a list of
            images or a tensor answers as the array it stacks to), flat rows
            ``(n_samples, n_features)`` for rows. Above 28×28 the decoder draws at the
            working size (see ``front_end``) and its drawings are resized bilinearly to
            ``X``'s.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_capsnet import CapsNetClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> images = X.reshape(-1, 8, 8)
        >>> clf = CapsNetClassifier(max_epochs=1, random_state=0).fit(images[:100], y[:100])
        >>> clf.reconstruct(images[:3]).shape, clf.reconstruct(X[:3]).shape
        ((3, 8, 8), (3, 64))
        """
        check_is_fitted(self, "net_")
        X = as_array(X)  # a tensor or a list of images: the array whose shape comes back
        to_input_size = self.net_.capsnet().to_input_size
        decoded = map_capsules(
            self,
            X,
            lambda capsules: to_input_size(self._decoded(capsules)),
            (self.input_spec_.n_features,),
        )
        return self._in_input_units(decoded, sample_shape(X))

    def reconstruction_error(self, X, *, relative=False):
        """How badly each sample is drawn back from its predicted class capsule(s).

        The root mean squared difference between a sample and its reconstruction
        (:meth:`reconstruct`), pixel by pixel at the sample's own size, both in the
        units the network reads: the training data's range mapped to [0, 1]
        (``input_offset_``, ``input_scale_``). So the number does not depend on the
        units the model was fitted in (uint8 or floats; pass ``X`` in those same
        units) nor on the number of features: 0 is a perfect reconstruction, 1 the
        largest difference for values within the training range. Above 28×28 the
        decoder draws at the working size (see ``front_end``) and its drawing is
        brought to the sample's size (bilinear): detail finer than the working size
        (noise from pixel to pixel, shuffled pixels) counts in full, as detail the
        training images lacked. Inputs unlike the training data reconstruct badly from their
        winning capsule (Frosst, Sabour & Hinton 2018, "DARCCC"), once the decoder has
        learned to draw the training data: on a model trained for a few epochs only,
        every input reconstructs about equally badly. See the user guide for choosing
        a threshold.

        ``relative=True`` measures the error against the sample's own contrast: the
        difference, with its mean over each channel's pixels taken out (a uniform colour
        cast costs nothing), as a root mean square over the sample's standard deviation
        (over all its values, in the network's units, at least 0.001). A faint or
        low-contrast image is then judged by its own contrast, not by the range of the
        training data: on colour images it tells shuffled pixels from normal ones, where
        the plain error is weakest (the benchmarks page has both, per size and kind of
        input). Tables (no channels) take the mean of the whole row out.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.
        relative : bool, default=False
            The error over the sample's contrast, as above, instead of the plain root
            mean squared difference.

        Returns
        -------
        ndarray of shape (n_samples,), float32
            Multilabel models reconstruct from every capsule longer than
            ``threshold`` (from none, an all-zero mask, where none is).

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_capsnet import CapsNetClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = CapsNetClassifier(max_epochs=2, input_shape=(1, 8, 8), random_state=0)
        >>> clf = clf.fit(X[:200], y[:200])
        >>> clf.reconstruction_error(X[:3]).shape
        (3,)
        >>> threshold = np.percentile(clf.reconstruction_error(X[:200]), 99)
        """
        check_is_fitted(self, "net_")
        if not isinstance(relative, bool | np.bool_):
            raise TypeError(f"relative must be True or False, got {relative!r}.")
        channels = self.input_spec_.shape[0] if self.input_spec_.is_image else 1
        if relative and int(np.prod(self.input_spec_.shape)) == channels:
            raise ValueError(
                "relative=True takes each sample's mean out of the error and divides by "
                "the sample's contrast; this model reads one value per sample, whose "
                "error less its mean is always 0. Use relative=False."
            )
        to_input_size = self.net_.capsnet().to_input_size

        def errors(x, precision):
            capsules = self.net_.forward_capsules(x, precision)
            drawn = to_input_size(self._decoded(capsules).float())  # [b, C*H*W]
            x = x.reshape(len(x), -1)  # channels first, as drawn
            difference = drawn - x
            if not relative:
                return difference.square().mean(dim=1).sqrt()
            per_channel = difference.view(len(x), channels, -1)  # [b, C, H*W]
            centred = per_channel - per_channel.mean(dim=2, keepdim=True)
            contrast = x.float().std(dim=1, correction=0).clamp_min(CONTRAST_FLOOR)
            return centred.square().mean(dim=(1, 2)).sqrt() / contrast

        return map_inputs(self, X, errors)

    def coupling_coefficients(self, X):
        """How much each primary capsule sent to each class: the routing's "parse tree".

        Primary capsule ``i`` is one capsule type at one position of the primary grid
        (``(type * grid_height + row) * grid_width + column``; plot them over the
        input with :class:`~sklearn_capsnet.plotting.CouplingDisplay`). With
        ``routing="dynamic"`` these are the coupling coefficients ``c_ij`` of the last
        routing iteration: each primary capsule's row sums to 1 over the classes.
        With ``routing="self_attention"``, the softmax coupling plus the learnt
        log-prior, ``c_ij + b_ij``: the weights by which each prediction enters its
        class capsule; rows sum to ``1 + Σ_j b_ij`` and entries may be negative.
        With ``routing="inverted_attention"``, the last pass's routing coefficients
        ``r_ij``, each row summing to 1 over the classes. Computed
        ``predict_batch_size`` rows at a time.

        Parameters
        ----------
        X : array-like
            As in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_primary_capsules, n_classes), float32
            Columns in the order of ``classes_``.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_capsnet import CapsNetClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = CapsNetClassifier(max_epochs=1, input_shape=(1, 8, 8), random_state=0)
        >>> coupling = clf.fit(X[:100], y[:100]).coupling_coefficients(X[:2])
        >>> coupling.shape  # 32 types at 2×2 positions, 10 classes
        (2, 128, 10)
        >>> bool(np.allclose(coupling.sum(axis=2), 1, atol=1e-5))
        True
        """
        check_is_fitted(self, "net_")
        shape = (self.net_.capsnet().n_primary, len(self.classes_))
        return map_inputs(self, X, self.net_.forward_coupling, shape)

    def _decoded(self, capsules, labels=None):
        """Decoder output ``[b, C*h*w]`` in [0, 1], at the decoder's size (the input's up
        to 28×28, the working size above); without labels, from the predicted capsule
        (multilabel: every capsule longer than ``threshold``)."""
        if labels is None and self.multilabel_:
            labels = active_labels(capsules, self.threshold)
        return self.net_.module_.reconstruct(capsules, labels)

    def _in_input_units(self, decoded: np.ndarray, shape: tuple | None) -> np.ndarray:
        """Decoder output ``[n, C*H*W]`` back in the layout and units of ``X``, each
        sample of ``shape`` (None: a flat row)."""
        return self.input_spec_.to_user_units(decoded, shape)
