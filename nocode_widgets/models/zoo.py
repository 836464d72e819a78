"""The model zoo: every architecture the origin projects used (by torchvision name) plus a small
CNN of our own that trains well from scratch on small images on a CPU.

Pretrained ImageNet weights come through torchvision's weights API when they are available: already
in the torch cache, a file the user points to, or downloadable (online only, never in tests). When
they are not, `load_pretrained` says so in plain words and the model trains from scratch.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:  # torch is imported where models are built, so the catalog loads instantly (CLI)
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SMALL_CNN = "small_cnn"


@dataclass(frozen=True)
class Arch:
    name: str  # torchvision name, or SMALL_CNN
    title: str
    description: str  # one plain line for the UI
    native_size: int  # the input size it was designed for
    min_size: int  # the smallest input it runs on here
    imagenet_params: int  # with a 1000-class head, as torchvision reports

    @property
    def has_pretrained(self) -> bool:
        return self.name != SMALL_CNN


def model_bytes(arch: str) -> int:
    """An upper bound of a trained run's model files (weights.pt and model.onnx in float32, and a little more)."""
    return max(get_arch(arch).imagenet_params, 1_500_000) * 4 * 2 + 2**20


ARCHS: dict[str, Arch] = {a.name: a for a in [
    Arch(SMALL_CNN, "Small CNN", "fastest; trains from scratch in minutes on a CPU, good for simple pictures", 64, 16, 0),
    Arch("mobilenet_v3_small", "MobileNetV3 Small", "very fast and light, good on small datasets", 224, 32, 2_542_856),
    Arch("mobilenet_v3_large", "MobileNetV3 Large", "fast, accurate for its size, a good default with pretrained weights", 224, 32, 5_483_032),
    Arch("mobilenet_v2", "MobileNetV2", "fast and light (the origin project's model)", 224, 32, 3_504_872),
    Arch("mnasnet0_5", "MNASNet 0.5", "tiny and fast, for phones and quick tries", 224, 32, 2_218_512),
    Arch("shufflenet_v2_x1_0", "ShuffleNetV2 x1.0", "tiny and fast", 224, 32, 2_278_604),
    Arch("efficientnet_b0", "EfficientNet-B0", "accurate and still light; best with pretrained weights", 224, 32, 5_288_548),
    Arch("resnet18", "ResNet-18", "a sturdy classic, quick on a GPU", 224, 32, 11_689_512),
    Arch("resnet50", "ResNet-50", "accurate, needs a GPU for large datasets", 224, 32, 25_557_032),
    Arch("resnet152", "ResNet-152", "very deep and slow; a GPU is a must", 224, 32, 60_192_808),
    Arch("densenet161", "DenseNet-161", "accurate, heavy on memory; GPU", 224, 32, 28_681_000),
    Arch("inception_v3", "Inception-v3", "accurate on larger pictures (299 px); GPU", 299, 75, 27_161_264),
    Arch("efficientnet_v2_m", "EfficientNetV2-M", "the competition winner: most accurate, slowest; GPU", 480, 33, 54_139_356),
    Arch("alexnet", "AlexNet", "historic and large; kept for comparison", 224, 63, 61_100_840),
    Arch("vgg16", "VGG-16", "historic and very large; kept for comparison", 224, 32, 138_357_544),
]}


RECOMMENDED = {  # what the Train panel lists first, by the device runs train on (benchmarks/bench_training.py)
    "cpu": (SMALL_CNN, "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "mobilenet_v2"),
    "gpu": ("mobilenet_v3_large", "efficientnet_b0", "resnet18", "resnet50", "efficientnet_v2_m"),
}


def recommended(device_type: str) -> tuple[str, ...]:
    return RECOMMENDED["cpu" if device_type == "cpu" else "gpu"]


def get_arch(name: str) -> Arch:
    try:
        return ARCHS[name]
    except KeyError:
        raise ValueError(f"Unknown architecture {name!r}. Choose one of: {', '.join(ARCHS)}.") from None


def build_model(name: str, num_classes: int, imagenet_head: bool = False) -> "nn.Module":
    """A freshly initialized model with a head for `num_classes` (or ImageNet's 1000 classes when
    `imagenet_head`, to load pretrained weights before `replace_head`)."""
    get_arch(name)
    if name == SMALL_CNN:
        from .small_cnn import SmallCNN

        return SmallCNN(num_classes)
    import torchvision

    classes = 1000 if imagenet_head else num_classes
    kwargs = {"num_classes": classes}
    if name == "inception_v3":
        kwargs.update(aux_logits=True, init_weights=True, transform_input=False)
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    if name == "inception_v3":  # the auxiliary head only matters for ImageNet-style training
        model.aux_logits, model.AuxLogits = False, None
    return model


def head(model: "nn.Module") -> tuple["nn.Module", str, "nn.Linear"]:
    """The parent module, attribute name and layer of the model's last Linear layer (its head)."""
    from torch import nn

    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    parent_name, _, attr = last.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    return parent, attr, getattr(parent, attr)


def replace_head(model: "nn.Module", num_classes: int) -> "nn.Module":
    from torch import nn

    parent, attr, old = head(model)
    setattr(parent, attr, nn.Linear(old.in_features, num_classes))
    return model


def param_count(model: "nn.Module") -> int:
    return sum(p.numel() for p in model.parameters())


# Pretrained weights ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PretrainedResult:
    loaded: bool
    source: str  # "cache", "file", "download" or ""
    notice: str  # plain words for the UI when not loaded (or partly)


def weights_url(name: str) -> str | None:
    if name == SMALL_CNN:
        return None
    from torchvision.models import get_model_weights

    return get_model_weights(name).DEFAULT.url


def cached_weights_path(name: str) -> Path | None:
    """Where torchvision keeps (or would keep) the weights file for `name`."""
    url = weights_url(name)
    if url is None:
        return None
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def pretrained_available(name: str, allow_download: bool) -> bool:
    path = cached_weights_path(name)
    return weights_available(weights_url(name), path, allow_download)


def weights_locations() -> dict[str, tuple[str, str]]:
    """arch -> (download URL, cached file) of every pretrained architecture (torchvision's catalog, so
    the device probe records it for page kernels, which do not import torch)."""
    return {name: (weights_url(name), str(cached_weights_path(name))) for name, a in ARCHS.items() if a.has_pretrained}


def weights_available(url: str | None, path: Path | None, allow_download: bool) -> bool:
    """The weights are in the cache, or downloadable (when allowed and the host answers)."""
    if url is None or path is None:
        return False
    return Path(path).exists() or (allow_download and _online(url))


_REACHABLE: dict[str, tuple[float, bool]] = {}  # host -> (when checked, reachable)
REACHABLE_TTL_S = 300.0


def _online(url: str, timeout: float = 3.0) -> bool:
    """Whether the weights' host answers; remembered for a few minutes so that an offline machine
    pays the connection timeout once, not on every click of the Train panel."""
    host = urlparse(url).hostname
    checked = _REACHABLE.get(host)
    if checked and time.monotonic() - checked[0] < REACHABLE_TTL_S:
        return checked[1]
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            reachable = True
    except OSError:
        reachable = False
    _REACHABLE[host] = (time.monotonic(), reachable)
    return reachable


def load_pretrained(model: "nn.Module", name: str, weights_file: str | Path | None = None,
                    allow_download: bool = True) -> PretrainedResult:
    """Load ImageNet weights into `model` (built with `imagenet_head=True`) from the user's file,
    the torch cache, or a download. Never raises for missing weights: the notice says what happened."""
    import torch

    arch = get_arch(name)
    if not arch.has_pretrained:
        return PretrainedResult(False, "", f"{arch.title} has no pretrained weights; it trains from scratch.")
    try:
        if weights_file:
            _load_state(model, torch.load(weights_file, map_location="cpu", weights_only=True))
            return PretrainedResult(True, "file", "")
        path = cached_weights_path(name)
        if path.exists():
            _load_state(model, torch.load(path, map_location="cpu", weights_only=True))
            return PretrainedResult(True, "cache", "")
        if allow_download and _online(weights_url(name)):
            from torchvision.models import get_model_weights

            _load_state(model, get_model_weights(name).DEFAULT.get_state_dict(progress=False, check_hash=True))
            return PretrainedResult(True, "download", "")
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        return PretrainedResult(False, "", f"The pretrained weights could not be loaded ({_short(exc)}); "
                                           "training from scratch instead.")
    return PretrainedResult(False, "", "Pretrained weights are not available offline, so the model trains from "
                                       "scratch. Expect lower accuracy on small datasets.")


def load_weights(model: "nn.Module", state: dict, strict: bool = True) -> None:
    """`model.load_state_dict`, keeping torchvision's per-module version records: a state dict that was copied,
    sent or read from a file has lost them, and MNASNet refuses weights without them."""
    from collections import OrderedDict

    if getattr(state, "_metadata", None) is None:
        state = OrderedDict(state)
        state._metadata = model.state_dict()._metadata
    model.load_state_dict(state, strict=strict)


def _load_state(model: "nn.Module", state) -> None:
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise ValueError("the file holds no weights")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(usable) < 0.9 * len(own):
        raise ValueError("the file is for a different architecture")
    load_weights(model, usable, strict=False)


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
