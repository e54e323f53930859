"""The feature (perceptual) loss of lesson 7's super-resolution notebook (Johnson et al. 2016,
"Perceptual Losses for Real-Time Style Transfer and Super-Resolution").  Read ``nn/hooks.py``
(how activations are read from inside a network) and ``vision/models/vgg.py`` first.

A pixel loss (MSE, L1) rewards the *average* of every plausible sharp image, which is blurry.
The feature loss compares what a pretrained network *sees* instead: prediction and target go
through a frozen VGG16, and the loss adds, for a few layers i (the ReLUs before the 3rd, 4th
and 5th max pool), how far apart their activations are, and how far apart their *gram matrices*
are (which channels fire together — texture and style, wherever it is in the picture)::

    loss = L1(pred, target)                                            'pixel'
         + Σ_i w_i · L1(f_i(pred), f_i(target))                        'feat_i'
         + Σ_i w_i² · 5e3 · L1(gram(f_i(pred)), gram(f_i(target)))     'gram_i'

    gram(x) = X · Xᵀ / (c·h·w)    with X = x viewed as (n, c, h·w)

Each term is kept in ``loss.metrics`` (named by ``metric_names``) so that the ``LossMetrics``
callback can show them in the epoch table.  The network is frozen (eval mode, no parameter
gradients), but the gradient flows through it back to the prediction: the hooks are not
detached.  The target's features are computed without a graph.

The pretrained VGG16 here expects its own input map (0–255, minus a mean): ``input_map`` (e.g.
``VGGInput(stats)``) runs before ``m_feat`` on both images; the pixel term sees them as given.
``VGGInput`` takes RGB batches only: a grey batch is refused, not spread over three channels.
Credit for the weights: ``minitorch.vision.models.CREDIT``.
"""
from minitorch import nn
from minitorch.autograd import no_grad
from minitorch.nn import functional as F
from minitorch.nn.hooks import hook_outputs

base_loss = F.l1_loss


def gram_matrix(x):
    """``(n, c, h, w)`` → ``(n, c, c)``: the channels' inner products over all positions,
    divided by c·h·w."""
    if x.ndim != 4:
        raise ValueError(f"gram_matrix: expected a batch of activations (n, c, h, w), got shape "
                         f"{tuple(x.shape)} (one image's (c, h, w)? add the batch dimension: "
                         "x[None])")
    n, c, h, w = x.shape
    x = x.view(n, c, -1)
    return (x @ x.transpose(1, 2)) / (c * h * w)


class FeatureLoss(nn.Module):
    """The lesson's ``FeatureLoss(m_feat, layer_ids, layer_wgts)``: ``m_feat`` a frozen network
    (VGG16's ``features``), ``layer_ids`` the indices of its layers to compare (15, 22, 29 for
    relu3_3, relu4_3, relu5_3), ``layer_wgts`` one weight per layer.  ``input_map`` (not in the
    notebook) maps both images to what ``m_feat`` expects."""

    def __init__(self, m_feat, layer_ids, layer_wgts, input_map=None):
        super().__init__()
        if len(layer_ids) != len(layer_wgts):
            raise ValueError(f"FeatureLoss: one weight per layer expected, got {len(layer_ids)} "
                             f"layers and {len(layer_wgts)} weights")
        self.m_feat = m_feat
        self.input_map = input_map
        self.loss_features = [self.m_feat[i] for i in layer_ids]
        self.hooks = hook_outputs(self.loss_features, detach=False)
        self.wgts = list(layer_wgts)
        self.metric_names = (["pixel"] + [f"feat_{i}" for i in range(len(layer_ids))]
                             + [f"gram_{i}" for i in range(len(layer_ids))])
        self.metrics = {}

    def make_features(self, x, clone=False):
        if self.input_map is not None:
            x = self.input_map(x)
        self.m_feat(x)
        return [(o.clone() if clone else o) for o in self.hooks.stored]

    def forward(self, input, target):
        with no_grad():
            out_feat = self.make_features(target, clone=True)
        in_feat = self.make_features(input)
        self.feat_losses = [base_loss(input, target)]
        self.feat_losses += [base_loss(f_in, f_out) * w
                             for f_in, f_out, w in zip(in_feat, out_feat, self.wgts)]
        self.feat_losses += [base_loss(gram_matrix(f_in), gram_matrix(f_out)) * w ** 2 * 5e3
                             for f_in, f_out, w in zip(in_feat, out_feat, self.wgts)]
        self.metrics = dict(zip(self.metric_names, self.feat_losses))
        total = self.feat_losses[0]
        for term in self.feat_losses[1:]:
            total = total + term
        return total

    def remove(self):
        """Take the hooks off ``m_feat`` (also done when the loss is garbage-collected)."""
        self.hooks.remove()

    def __del__(self):
        hooks = self.__dict__.get("hooks")
        if hooks is not None:
            hooks.remove()
