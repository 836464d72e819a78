"""Where the model looked: Grad-CAM (Selvaraju et al., 2017) with two PyTorch hooks, run in a worker
process (a helper job, `slots.run_job`), never in a page kernel.

Why our own ~40 lines and not a library: torchcam (Apache-2.0) and pytorch-grad-cam (MIT) both need the
target layer named per architecture or guess it from layer types, and captum (BSD) is a large dependency
for one method. One rule picks the layer for all 15 architectures of the zoo: the *last module to finish
with a spatial output* (4-D, more than 1x1) in a forward pass, i.e. the last feature map before global
pooling (ResNet's `layer4`, DenseNet's `features`, SqueezeNet's class maps, Inception's `Mixed_7c`...);
`tests/insight/test_gradcam.py` checks it on every architecture. The forward hook hands the rest of
the network a copy of that output, so in-place operations after it (DenseNet's final ReLU) cannot
disturb the gradient taken with respect to it. Where Grad-CAM finds no place arguing for the class
(its map is all zero, as with a model that decides mostly through its bias), the element-wise variant
LayerCAM is drawn instead, so a map always shows what local evidence there is.
"""

from __future__ import annotations

import io
import sys

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

OVERLAY_SIDE = 224  # overlays are drawn at least this large, whatever the model's input size


POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)  # they only resize what came before (AlexNet, VGG)


def target_layer(model: nn.Module, image_size: int) -> nn.Module:
    """The last module to finish with a spatial (4-D, more than 1x1) output on a picture of this size."""
    finished: list[nn.Module] = []
    hooks = [m.register_forward_hook(lambda m, _, out: finished.append(m)
                                     if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[-1] * out.shape[-2] > 1
                                     else None)
             for m in model.modules() if m is not model and not isinstance(m, POOLS)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, image_size, image_size))
    finally:
        for h in hooks:
            h.remove()
    if not finished:
        raise ValueError("this model has no spatial feature map to explain")
    return finished[-1]


def heatmaps(model: nn.Module, layer: nn.Module, x: torch.Tensor,
             targets: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(maps [N, H, W] in 0..1 at the input's size, probabilities [N, C]) for class `targets[i]` of picture i
    (None: the class the model predicts), from one forward and one backward pass."""
    seen: dict = {}

    def keep(module, inputs, output):
        seen["map"] = output
        return output.clone()  # what follows may work in place; the kept map stays as it was

    hook = layer.register_forward_hook(keep)
    try:
        model.eval()
        with torch.enable_grad():
            logits = model(x)
            targets = logits.argmax(1) if targets is None else targets
            score = logits.gather(1, targets.view(-1, 1)).sum()
            grads = torch.autograd.grad(score, seen["map"])[0]
    finally:
        hook.remove()
    acts = seen["map"].detach()
    cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * acts).sum(1, keepdim=True))
    blank = cam.amax(dim=(1, 2, 3)) <= 0  # no place argues for the class on average: keep the local evidence
    if blank.any():  # (LayerCAM, Jiang et al. 2021: positive gradients times activations, place by place)
        cam[blank] = F.relu((F.relu(grads[blank]) * acts[blank]).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    low, high = cam.amin(dim=(1, 2), keepdim=True), cam.amax(dim=(1, 2), keepdim=True)
    cam = torch.where(high > low, (cam - low) / (high - low).clamp_min(1e-12), torch.zeros_like(cam))
    return cam.numpy(), torch.softmax(logits.detach().float(), 1).numpy()


def overlay(picture_uint8: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> bytes:
    """PNG: the picture the model saw ([3, S, S]) with the heat map over it (blue: ignored, red: decisive)."""
    from matplotlib import colormaps

    side = max(OVERLAY_SIDE, picture_uint8.shape[-1])
    base = Image.fromarray(picture_uint8.transpose(1, 2, 0)).resize((side, side), Image.Resampling.BILINEAR)
    colour = (colormaps["jet"](heat)[..., :3] * 255).astype(np.uint8)
    heat_image = Image.fromarray(colour).resize((side, side), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    Image.blend(base, heat_image, alpha).save(out, "PNG")
    return out.getvalue()


def work(job: dict) -> dict:
    """The job: {"folder": run folder, "max_side", "max_pixels", "pictures": [{"path", "target" (class or
    null = the predicted one), "png"}]}. Writes each overlay to its `png`; returns {"results": per picture its
    label, calibrated probability, target, or an `error` in plain words}. The run's model stays loaded in a
    warm helper for its next pictures."""
    from ..pictures.portable import with_temperature
    from ..pictures.preprocess import normalize_batch
    from ..datasets.images import ImageRejected
    from ..warm_pool import keep_loaded

    predictor, layer = keep_loaded("gradcam", job["folder"], lambda: _load(job), max_side=job["max_side"],
                                   max_pixels=job["max_pixels"])
    model, classes = predictor.model, predictor.classes
    results = []
    for item in job["pictures"]:
        try:
            pixels = predictor.prepare(open(item["path"], "rb").read())
        except (ImageRejected, OSError) as exc:
            results.append({"error": str(exc) or "the picture could not be read"})
            continue
        wanted = item.get("target")
        if wanted is not None and wanted not in classes:
            results.append({"error": f"{wanted!r} is not one of this model's classes"})
            continue
        x = normalize_batch(torch.from_numpy(pixels[None]), predictor.card["mean"], predictor.card["std"])
        maps, raw = heatmaps(model, layer, x, None if wanted is None else torch.tensor([classes.index(wanted)]))
        probs = with_temperature(raw, predictor.temperature)[0]
        label = classes[int(probs.argmax())]
        target = wanted or label
        with open(item["png"], "wb") as f:
            f.write(overlay(pixels, maps[0]))
        results.append({"label": label, "probability": float(probs.max()), "target": target,
                        "target_probability": float(probs[classes.index(target)])})
    return {"results": results}


def _load(job: dict):
    from ..predict.pytorch import TorchPredictor

    predictor = TorchPredictor(job["folder"], max_side=job["max_side"], max_pixels=job["max_pixels"])
    return predictor, target_layer(predictor.model, predictor.card["image_size"])


if __name__ == "__main__":
    from ..slots import helper_main

    sys.exit(helper_main(sys.argv[1:], work))
