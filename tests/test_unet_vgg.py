"""The VGG16 row of ``cnn_config``: a U-Net on the pretrained VGG16 features (the weights in
``$MINITORCH_MODELS``), built by ``unet_learner``: the body, the hooks, fastai's parameter count,
the frozen and unfrozen trainable counts, the pretrained weights in place, a prediction."""
import numpy as np

import minitorch
from minitorch.nn import functional as F
from minitorch.vision import DynamicUnet, NormType, cnn_config, unet_learner
from minitorch.vision.models.pretrained import load_vgg16_features_state
from minitorch.vision.models.vgg import VGGInput, vgg16
from test_unet import _image_data, fastai_unet_params, n_params, n_trainable

VGG16_FEATURES = 14_714_688


def test_vgg16_unet_learner():
    learn = unet_learner(_image_data(size=(32, 48)), vgg16, pretrained=True,
                         loss_func=F.mse_loss, blur=True, self_attention=True,
                         norm_type=NormType.Weight, silent=True)
    model = learn.model
    body = model[0]
    assert isinstance(model, DynamicUnet) and cnn_config(vgg16)["split"] is not None
    # VGGInput, then torchvision's features 0…30 (the last max pool included).
    assert isinstance(body[0], VGGInput) and len(body) == 32
    assert type(body[31]).__name__ == "MaxPool2d"
    state = load_vgg16_features_state()
    np.testing.assert_array_equal(body[29].weight.detach().numpy(),
                                  np.asarray(state["features.28.weight"]))
    # Hooks on relu5_3, relu4_3, relu3_3, relu2_2, relu1_2 (features 29, 22, 15, 8, 3).
    assert [h for h in model.sfs.hooks] == [b.hook for b in model.layers[4:9]]
    for i in (30, 23, 16, 9, 4):
        assert len(body[i]._forward_hooks) == 1
    # The first skip is at full size: no final pixel shuffle (fastai's rule).
    assert [type(m).__name__ for m in model.layers[9:]] == [
        "ResizeToInput", "MergeLayer", "SequentialEx", "Sequential"]
    assert n_params(body) == VGG16_FEATURES
    assert n_params(model) == fastai_unet_params(
        VGG16_FEATURES, 512, [512, 512, 256, 128, 64], norm=NormType.Weight,
        self_attention=True, final_shuffle=False)
    # Pretrained: it starts frozen, and VGG16 has no batchnorm, so only the decoder trains.
    assert len(learn.layer_groups) == 3 and learn.layer_groups[1][0] is body[16]
    assert n_trainable(model) == n_params(model) - VGG16_FEATURES
    learn.unfreeze()
    assert n_trainable(model) == n_params(model)
    raw = learn.predict(minitorch.randn(3, 40, 56))[-1]
    assert tuple(raw.shape) == (3, 40, 56)
