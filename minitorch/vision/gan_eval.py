"""Measuring generated images: the Fréchet distance between two sets of features.
Read after ``vision/gan.py``; used by ``lessons/lesson7_wgan.py``.

"GAN losses are meaningless, look at the pictures" — so turn the pictures into numbers.  A
classifier trained on the real images maps every image to a feature vector (its penultimate
layer).  Fit a Gaussian to the features of the real images, N(μ₁, Σ₁), and one to those of the
samples, N(μ₂, Σ₂); the Fréchet (2-Wasserstein) distance between the two Gaussians is

    d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½)

(Dowson & Landau 1982; Heusel et al. 2017 call it FID with Inception features).  It is 0 for the
same distribution and grows when the samples' features sit elsewhere (wrong-looking digits) or
are spread differently (too alike: mode collapse; or too noisy).

The trace of the matrix square root needs no general ``sqrtm``: Σ₁Σ₂ is similar to the symmetric
positive semi-definite ``A = Σ₁^½ Σ₂ Σ₁^½`` (conjugate by Σ₁^½), so the eigenvalues of
(Σ₁Σ₂)^½ are the square roots of A's, and ``tr (Σ₁Σ₂)^½ = Σ √λᵢ(A)``.  Both square roots come
from symmetric eigendecompositions (``numpy.linalg.eigh``).  This is host-side statistics on a
few thousand vectors, so it runs in NumPy (float64) whatever the device of the model.
"""
import numpy

from minitorch import backend, nn
from minitorch.autograd import no_grad
from minitorch.backend import manual_seed
from minitorch.data import ArrayDataset, DataBunch, DataLoader
from minitorch.learner import Learner, accuracy
from minitorch.tensor import tensor
from minitorch.vision.models import resnet_ish


def _as_host_matrix(name, x):
    array = backend.to_numpy(x.array if hasattr(x, "grad_fn") else x)
    array = numpy.asarray(array, dtype=numpy.float64)
    if array.ndim != 2:
        raise ValueError(f"{name}: expected features of shape (n_samples, n_features), got "
                         f"shape {array.shape}")
    if array.shape[0] < 2:
        raise ValueError(f"{name}: a covariance needs at least 2 samples, got {array.shape[0]}")
    return array


def feature_stats(features):
    """``(mean, covariance)`` of features (n_samples, n_features), the covariance unbiased
    (divided by n − 1), in float64."""
    f = _as_host_matrix("feature_stats", features)
    return f.mean(0), numpy.cov(f, rowvar=False, ddof=1).reshape(f.shape[1], f.shape[1])


def sqrtm_psd(matrix):
    """The symmetric square root of a symmetric positive semi-definite matrix: ``V √Λ Vᵀ`` from
    its eigendecomposition (eigenvalues below 0, which rounding can produce, count as 0)."""
    m = numpy.asarray(matrix, dtype=numpy.float64)
    eigenvalues, vectors = numpy.linalg.eigh((m + m.T) / 2)
    return (vectors * numpy.sqrt(numpy.clip(eigenvalues, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """The squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (see the module
    docstring): ``‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁ Σ₂)^½``."""
    mu1, mu2 = numpy.atleast_1d(mu1).astype(numpy.float64), numpy.atleast_1d(mu2).astype(
        numpy.float64)
    sigma1 = numpy.atleast_2d(sigma1).astype(numpy.float64)
    sigma2 = numpy.atleast_2d(sigma2).astype(numpy.float64)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"frechet_distance: expected two means of shape ({d},) and two "
                         f"covariances ({d}, {d}), got {mu1.shape}, {sigma1.shape}, {mu2.shape}, "
                         f"{sigma2.shape}")
    root1 = sqrtm_psd(sigma1)
    inner = root1 @ sigma2 @ root1
    eigenvalues = numpy.linalg.eigvalsh((inner + inner.T) / 2)
    trace_sqrt = numpy.sqrt(numpy.clip(eigenvalues, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + numpy.trace(sigma1) + numpy.trace(sigma2) - 2 * trace_sqrt)


def frechet_distance_features(features1, features2):
    """The Fréchet distance between Gaussians fitted to two sets of feature vectors."""
    return frechet_distance(*feature_stats(features1), *feature_stats(features2))


# ---- the judge: a digit classifier that rates samples --------------------------------------------
def train_judge(images, labels, valid_images, valid_labels, seed=0, device=None):
    """The WGAN lesson's judge: model C of the lesson's first part (``resnet_ish``, the
    ResNet-ish MNIST classifier) trained for one epoch, ``fit_one_cycle(1, max_lr=0.05)``, batch
    128, on ``images`` (N, 1, 32, 32) float32 in [−1, 1] — the padded digits exactly as the GAN
    sees and makes them — and validated on ``valid_images``.  Returns the Learner (its model in
    eval mode; ``learn.recorder.metrics[-1][0]`` is the validation accuracy).  Seeded: the same
    call gives the same judge, so two GANs (say, minitorch's and PyTorch's) are rated alike."""
    manual_seed(seed)
    data = DataBunch(
        DataLoader(ArrayDataset(images, labels), 128, shuffle=True, drop_last=True, seed=seed),
        DataLoader(ArrayDataset(valid_images, valid_labels), 512), device=device)
    learn = Learner(data, resnet_ish(), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    learn.fit_one_cycle(1, max_lr=0.05)
    learn.model.eval()
    return learn


def rate(classifier, images, device=None, batch_size=500):
    """``(softmax probabilities, penultimate features)`` of ``images`` (NumPy, in [−1, 1]) by
    the judge ``classifier``, as NumPy arrays.  The features are the output of everything up to
    the last residual stage (``classifier[:4]``, 16×2×2 numbers per image) — what the Fréchet
    distance compares."""
    features_of, head = classifier[:4], classifier[4:]
    probs, feats = [], []
    with no_grad():
        for start in range(0, len(images), batch_size):
            f = features_of(tensor(images[start:start + batch_size], device=device))
            probs.append(head(f).softmax(-1).numpy())
            feats.append(f.reshape(f.shape[0], -1).numpy())
    return numpy.concatenate(probs), numpy.concatenate(feats)
