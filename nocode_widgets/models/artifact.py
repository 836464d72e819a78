"""A trained model's files, made at training time: saving it (`weights.pt`, a state_dict loaded with
`weights_only=True`, and `model.json`: no pickled Python objects) and exporting it to ONNX with a parity
check. Predicting with it is `predict/pytorch`'s."""

from __future__ import annotations

import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..files import write_json_atomic
from ..pictures.preprocess import normalize_batch

FORMAT = 1
OPSET = 17
PARITY_MAX_DIFF = 1e-4  # largest allowed |p_onnx - p_torch| on CPU


def _version(package: str) -> str:
    """A package's version without importing it (torchvision's import is a second of a small run)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return ""


def save_weights(folder: Path, state: dict, arch: str, classes: list[str], image_size: int, mean, std,
                 **extra) -> None:
    """`weights.pt` (the state dict, on the CPU) and `model.json`, each replaced atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in state.items()}
    tmp = folder / "weights.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(folder / "weights.pt")
    write_json_atomic(folder / "model.json", {
        "format": FORMAT, "arch": arch, "classes": list(classes), "image_size": image_size,
        "mean": list(mean), "std": list(std), "preprocess": "shorter side to image_size (bilinear), centre crop",
        "onnx": {"file": "model.onnx", "input": "pixels", "output": "probabilities", "softmax": "inside",
                 "layout": "NCHW float32, normalized: (x / 255 - mean) / std"},
        "versions": {"torch": torch.__version__, "torchvision": _version("torchvision"), "nocode_widgets": __version__},
        "saved": time.time(), **extra})


class FixedAdaptiveAvgPool(nn.Module):
    """AdaptiveAvgPool2d for one known input size, as two matrix products the ONNX exporter supports
    (it refuses adaptive pooling whose output does not divide the input: AlexNet and VGG below 224 px)."""

    def __init__(self, in_hw: tuple[int, int], out_hw: tuple[int, int]):
        super().__init__()
        self.register_buffer("rows", _pool_matrix(in_hw[0], out_hw[0]))
        self.register_buffer("cols", _pool_matrix(in_hw[1], out_hw[1]).t().contiguous())

    def forward(self, x):
        return torch.matmul(torch.matmul(self.rows, x), self.cols)


def _pool_matrix(size: int, out: int) -> torch.Tensor:
    """out x size: row i averages the bin [floor(i*size/out), ceil((i+1)*size/out)), as adaptive pooling does."""
    matrix = torch.zeros(out, size)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def exportable(model: nn.Module, image_size: int) -> nn.Module:
    """`model`, or a copy whose adaptive average pools that ONNX cannot export at this picture size are
    replaced by their fixed-size equivalent (the same numbers)."""
    import copy

    sizes: dict = {}
    pools = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    hooks = [m.register_forward_hook(lambda m, args, out: sizes.__setitem__(m, (args[0].shape[-2:], out.shape[-2:])))
             for _, m in pools]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size))
    finally:
        for hook in hooks:
            hook.remove()
    uneven = [name for name, m in pools if m in sizes and any(i % o for i, o in zip(*sizes[m]))]
    if not uneven:
        return model
    copied = copy.deepcopy(model)
    for name in uneven:
        parent_name, _, attr = name.rpartition(".")
        parent = copied.get_submodule(parent_name) if parent_name else copied
        in_hw, out_hw = sizes[model.get_submodule(name)]
        setattr(parent, attr, FixedAdaptiveAvgPool(tuple(in_hw), tuple(out_hw)))
    return copied


def export_onnx(model: nn.Module, path: Path, image_size: int) -> None:
    """One self-contained `.onnx` file: input `pixels` [batch, 3, S, S], output `probabilities` (softmax
    inside), dynamic batch axis, opset 17, written atomically. The TorchScript exporter (`dynamo=False`):
    here it exports MobileNetV3-Small in about a second against 7 s for the torch.export one, and needs
    no onnxscript; both pass the parity check. When torch removes it, switch to `dynamo=True`."""
    model = model.cpu().float().eval().to(memory_format=torch.contiguous_format)
    wrapped = nn.Sequential(exportable(model, image_size), nn.Softmax(dim=1))
    tmp = path.with_name(path.name + ".tmp")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(wrapped, (torch.zeros(1, 3, image_size, image_size),), str(tmp), dynamo=False,
                          input_names=["pixels"], output_names=["probabilities"], opset_version=OPSET,
                          dynamic_axes={"pixels": {0: "batch"}, "probabilities": {0: "batch"}},
                          do_constant_folding=True)
    tmp.replace(path)


def warm_up_export() -> None:
    """Pay the ONNX exporter's one-time start (its lazy imports and registrations, about 0.25 s) with a model of one
    layer: for the warm process, so that the runs forked from it do not. Torch starts no thread pool for work
    this small, so forking after it stays safe. onnxruntime is not imported here: its import starts a thread
    (and saves only 0.04 s)."""
    import io

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(nn.Sequential(nn.Linear(2, 2), nn.Softmax(dim=1)), (torch.zeros(1, 2),), io.BytesIO(),
                          dynamo=False, opset_version=OPSET)


def export_and_check(model: nn.Module, folder: Path, image_size: int, pictures_uint8: torch.Tensor, mean, std) -> dict:
    """Export `model` to `folder/model.onnx`, then compare onnxruntime with PyTorch on `pictures_uint8`
    (the run's validation pictures): top-1 agreement and the largest probability difference. The report
    goes to `export.json` and is returned; a failure is a report too ("ok": False, with the reason)."""
    report: dict = {"file": "model.onnx", "opset": OPSET, "ok": False, "agree": 0, "total": len(pictures_uint8),
                    "max_diff": None, "error": ""}
    started = time.time()
    try:
        export_onnx(model, folder / "model.onnx", image_size)
        import onnxruntime as ort

        session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        model = model.cpu().float().eval()
        agree, worst = 0, 0.0
        for start in range(0, len(pictures_uint8), 64):
            batch = pictures_uint8[start:start + 64]
            with torch.no_grad():
                expected = torch.softmax(model(normalize_batch(batch, mean, std)).float(), 1).numpy()
            got = session.run(None, {"pixels": normalize_batch(batch, mean, std).numpy()})[0]
            agree += int((expected.argmax(1) == got.argmax(1)).sum())
            worst = max(worst, float(np.abs(expected - got).max()))
        report.update(agree=agree, max_diff=worst, ok=agree == len(pictures_uint8) and worst <= PARITY_MAX_DIFF)
        if not report["ok"]:
            report["error"] = "The exported model does not give the same answers as the trained one."
    except Exception as exc:  # noqa: BLE001 - the run keeps its PyTorch model and says why
        (folder / "export-error.log").write_text(traceback.format_exc())
        report["error"] = f"The model could not be exported ({type(exc).__name__})."
        (folder / "model.onnx").unlink(missing_ok=True)
    report["seconds"] = time.time() - started
    write_json_atomic(folder / "export.json", report)
    return report
