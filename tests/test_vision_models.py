"""ResNet-18/34 against a torchvision-layout twin written with torch.nn (torchvision is not
installed): parameter counts, state_dict names and shapes, the forward and backward with the
same weights; ``create_body`` and ``cnn_config`` (fastai v1's cut and split)."""
import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.vision import cnn_config, create_body, resnet18, resnet34, small_encoder
from torch_compare import assert_close, check
from torch_twins import randomize_batchnorm_state


# ---- the twin: torchvision's ResNet, written out ------------------------------------------------
class TorchBasicBlock(torch.nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.relu = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + identity)


class TorchResNet(torch.nn.Module):
    def __init__(self, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = torch.nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(64)
        self.relu = torch.nn.ReLU()
        self.maxpool = torch.nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], 2)
        self.layer3 = self._make_layer(256, layers[2], 2)
        self.layer4 = self._make_layer(512, layers[3], 2)
        self.avgpool = torch.nn.AdaptiveAvgPool2d((1, 1))
        self.fc = torch.nn.Linear(512, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = torch.nn.Sequential(
                torch.nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                torch.nn.BatchNorm2d(planes))
        layers = [TorchBasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [TorchBasicBlock(planes, planes) for _ in range(1, blocks)]
        return torch.nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def n_params(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters())


ARCHS = [  # (name, minitorch constructor, blocks per stage, torchvision's parameter count)
    ("resnet18", resnet18, [2, 2, 2, 2], 11_689_512),
    ("resnet34", resnet34, [3, 4, 6, 3], 21_797_672),
]


@pytest.mark.parametrize("name,arch,layers,expected", ARCHS)
def test_resnet_parameter_count_and_state_dict_layout(name, arch, layers, expected):
    model, twin = arch(), TorchResNet(layers)
    assert n_params(model) == n_params(twin) == expected
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    assert list(ours) == list(theirs), set(ours) ^ set(theirs)
    assert ours == theirs
    for key, shape in [("conv1.weight", (64, 3, 7, 7)), ("layer2.0.downsample.0.weight",
                                                          (128, 64, 1, 1)),
                       ("layer4.1.bn2.running_var", (512,)), ("fc.weight", (1000, 512))]:
        assert ours[key] == shape
    assert [n for n, _ in model.named_children()] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool",
        "fc"]


def test_resnet_initialisation_is_torchvisions():
    model = resnet18()
    w = model.layer3[0].conv1.weight.detach().numpy()  # kaiming normal, fan_out = 256 · 9
    assert w.std() == pytest.approx(np.sqrt(2 / (256 * 9)), rel=0.05)
    assert (model.layer1[0].bn2.weight.detach().numpy() == 1).all()
    zeroed = resnet18(zero_init_residual=True)
    assert (zeroed.layer1[0].bn2.weight.detach().numpy() == 0).all()
    assert tuple(resnet34(num_classes=10).fc.weight.shape) == (10, 512)


def _twin_with_random_state(layers, seed, num_classes=1000):
    torch.manual_seed(seed)
    return randomize_batchnorm_state(TorchResNet(layers, num_classes).double())


@pytest.mark.parametrize("name,arch,layers,training", [
    ("resnet18", resnet18, [2, 2, 2, 2], True),
    ("resnet18", resnet18, [2, 2, 2, 2], False),
])
def test_resnet_forward_backward_matches_torch_with_the_same_weights(name, arch, layers,
                                                                    training):
    twin = _twin_with_random_state(layers, 0, num_classes=10)
    model = arch(num_classes=10).double()
    model.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    model.train(training)
    twin.train(training)
    x = np.random.default_rng(0).standard_normal((2, 3, 40, 40))
    check(model, twin, [x], params=[
        ("conv1.weight", model.conv1.weight, twin.conv1.weight),
        ("layer2.0.downsample.0.weight", model.layer2[0].downsample[0].weight,
         twin.layer2[0].downsample[0].weight),
        ("layer4.1.bn2.weight", model.layer4[1].bn2.weight, twin.layer4[1].bn2.weight),
        ("fc.weight", model.fc.weight, twin.fc.weight)])
    if training:  # the running statistics moved the same way
        assert_close(model.layer3[1].bn1.running_mean, twin.layer3[1].bn1.running_mean,
                     rtol=1e-7, atol=1e-10, what="running_mean")


def test_resnet34_forward_matches_torch_eval():
    twin = _twin_with_random_state([3, 4, 6, 3], 1).eval()
    model = resnet34().double().eval()
    model.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((1, 3, 33, 47))
    with minitorch.no_grad(), torch.no_grad():
        assert_close(model(minitorch.tensor(x)), twin(torch.tensor(x)), rtol=1e-7, atol=1e-10)


def test_pretrained_resnet_without_weights_names_the_conversion(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITORCH_MODELS", str(tmp_path))  # no converted file there
    with pytest.raises(ValueError, match="convert_torchvision resnet34"):
        resnet34(pretrained=True)
    with pytest.raises(ValueError, match="small_encoder is trained from scratch"):
        small_encoder(pretrained=True)


# ---- create_body and cnn_config -----------------------------------------------------------------
def _types(seq):
    return [type(m).__name__ for m in seq.children()]


def _toy_classifier(pretrained=False):
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Sequential(nn.MaxPool2d(2)),
                         nn.Conv2d(4, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 2))


@pytest.mark.parametrize("arch,cut,types", [
    (resnet18, None, ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] + ["Sequential"] * 4),
    (resnet34, None, ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"] + ["Sequential"] * 4),
    (resnet18, 4, ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]),
    (resnet18, lambda m: nn.Sequential(m.conv1, m.bn1), ["Conv2d", "BatchNorm2d"]),
    (_toy_classifier, None, ["Conv2d", "ReLU", "Sequential", "Conv2d"]),  # before the last pool
    (small_encoder, None, ["Sequential", "SequentialEx"] * 4),
])
def test_create_body(arch, cut, types):
    assert _types(create_body(arch, pretrained=False, cut=cut)) == types


def test_create_body_keeps_the_weights_and_names():
    body = create_body(resnet18)
    assert n_params(body) == 11_689_512 - (512 * 1000 + 1000)
    assert "7.1.conv2.weight" in body.state_dict()  # layer4 is child 7


def test_create_body_errors():
    with pytest.raises(ValueError, match="cut must be"):
        create_body(resnet18, cut="layer4")
    with pytest.raises(ValueError, match="no pooling"):
        create_body(lambda pretrained: nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU()))


def test_cnn_config_rows():
    for arch in (resnet18, resnet34):
        meta = cnn_config(arch)
        assert meta["cut"] == -2
        m = nn.Sequential(create_body(arch), nn.ReLU())
        assert meta["split"](m) == (m[0][6], m[1])  # layer3 starts the second group
    assert cnn_config(_toy_classifier)["cut"] is None
