"""Eject to code: a run as a standalone notebook in plain PyTorch/torchvision, with no nocode_widgets
import — the same pictures and split (listed file by file), preparation, augmentation, model,
optimizer, schedule, seed and early stopping, explained for a learner. The helper functions are the
app's own, copied from their source files (read, not imported: a page kernel never loads torch), so
the notebook cannot drift from what the app does. (Mixed precision and channels-last, speed-ups only,
are left out.)"""

from __future__ import annotations

import ast
import pprint
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ..datasets import dataset_folder, get_dataset, read_manifest
from ..errors import NocodeError
from ..files import read_json, safe_file_name, write_atomic
from ..markdown import md_text
from ..runs.train_config import MIN_STEPS_PER_EPOCH, TrainConfig
from ..runs.records import get_run, run_folder
from ..workspace import Workspace


PACKAGE = Path(__file__).resolve().parent.parent


def _source(*wanted: str) -> str:
    """The app's own top-level definitions ("training/fit.py:make_optimizer"), as code for a cell
    (annotations stay unevaluated, as in the app)."""
    parts = []
    for item in wanted:
        file, name = item.split(":")
        text = (PACKAGE / file).read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.parse(text).body:
            names = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
            if getattr(node, "name", None) == name or name in names:
                start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
                parts.append("\n".join(lines[start - 1:node.end_lineno]))
                break
        else:
            raise LookupError(f"{name} is not defined at the top of {file}")
    return "from __future__ import annotations\n\n" + "\n\n\n".join(parts)


def notebook_for(ws: Workspace, user, run_id: str) -> nbformat.NotebookNode:
    run = get_run(ws, user, run_id)
    cfg = run.resolved
    if not cfg or not run.usable:
        raise NocodeError("This run has not trained yet, so there is nothing to turn into code.")
    if run.kind == "ensemble":
        raise NocodeError("An ensemble is several trained models; download the notebook of each of its runs.")
    folder = run_folder(ws, run)
    card, split = read_json(folder / "model.json") or {}, read_json(folder / "split.json") or {}
    ds = get_dataset(ws, user, run.dataset_id)
    pictures = dataset_folder(ws, ds)
    entries = {e.hash: e for e in read_manifest(pictures)}
    classes = card["classes"]
    missing = [h for part in ("train", "val") for h in split.get(part, []) if h not in entries]
    if missing:
        raise NocodeError(f"{len(missing)} pictures this run used are no longer in the dataset, so the run cannot be "
                          "reproduced exactly.")
    listed = {part: [(entries[h].file, classes.index(entries[h].label)) for h in split.get(part, [])]
              for part in ("train", "val")}
    # every field the training loop reads: a run trained before a field existed gets its default (the old behaviour)
    full = TrainConfig.from_json(cfg).to_json()
    settings = {k: full[k] for k in sorted(full)}
    cells = [
        new_markdown_cell(
            f"# {md_text(run.dataset_name)}: {card['arch']} in plain PyTorch\n\n"
            f"This notebook reproduces run `{run.id}` of the no-code app step by step, with only PyTorch, torchvision, "
            "NumPy and Pillow. Run the cells in order. The app measured a validation accuracy of "
            f"**{run.metrics.get('val_accuracy', 0):.1%}**; this notebook should land within a couple of points "
            "(random augmentation on another machine is not bit-for-bit the same)."),
        new_code_cell("import copy, io, json, math, random, time\nfrom dataclasses import dataclass\nfrom pathlib import Path\n"
                      "from types import SimpleNamespace\n\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\n"
                      "import torchvision\nfrom PIL import Image, ImageOps\nfrom torch import nn"),
        new_markdown_cell("## 1. The pictures and the split\nThe app keeps every picture as a JPEG in the dataset's "
                          "folder. These are the pictures this run learned from (`TRAIN`) and the ones it was "
                          "checked on (`VALIDATION`, never learned from, never augmented), with their class number. "
                          "Point `PICTURES` at your copy of the dataset's folder if you run this elsewhere."),
        new_code_cell(f"PICTURES = Path({str(pictures)!r})\nCLASSES = {classes!r}\n"
                      f"TRAIN = {listed['train']!r}\nVALIDATION = {listed['val']!r}\n"
                      "print(len(TRAIN), 'pictures to learn from,', len(VALIDATION), 'to check on')"),
        new_markdown_cell("## 2. The settings Auto chose\nEvery number the run used. `cfg.lr` is the learning rate, "
                          "`cfg.patience` how many epochs without improvement end training early, and so on."),
        new_code_cell(f"SETTINGS = {pprint.pformat(settings, sort_dicts=True)}\n"
                      "SETTINGS = {k: (tuple(v) if isinstance(v, list) else v) for k, v in SETTINGS.items()}\n"
                      f"cfg = SimpleNamespace(**SETTINGS)\nMEAN, STD = {card['mean']!r}, {card['std']!r}\n"
                      f"MIN_STEPS_PER_EPOCH = {MIN_STEPS_PER_EPOCH}  # tiny datasets are passed over several times per epoch"),
        new_markdown_cell("## 3. Preparing pictures\nEach picture: shorter side resized to the training size, the "
                          "centre square cut out, kept as 0-255 numbers; then scaled with ImageNet's mean and "
                          "standard deviation. All pictures are prepared once and kept in memory."),
        new_code_cell(_source("pictures/portable.py:fit_array", "pictures/portable.py:normalize") + "\n\n"
                      "def load(path):\n    return Image.open(path).convert('RGB')\n\n"
                      "files = TRAIN + VALIDATION\n"
                      "cache = torch.from_numpy(np.stack([fit_array(load(PICTURES / f), cfg.image_size) for f, _ in files]))\n"
                      "labels = torch.tensor([y for _, y in files])\n"
                      "train_idx, val_idx = list(range(len(TRAIN))), list(range(len(TRAIN), len(files)))\n"
                      "print('pictures prepared:', tuple(cache.shape))"),
        new_markdown_cell("## 4. The model\n" + ("The app's own small convolutional network, trained from scratch."
                                                 if card["arch"] == "small_cnn" else
                                                 f"torchvision's `{card['arch']}`. With `cfg.pretrained` the app started "
                                                 "from ImageNet weights when they could be had (that needs the internet).")),
        new_code_cell(_model_code(card["arch"], len(classes))),
        new_markdown_cell("## 5. Augmentation\nDuring training only, each batch is randomly flipped, cropped, "
                          "rotated and colour-jittered, so the model learns the object rather than the exact pixels. "
                          "With `cfg.progressive` the first half of the training steps learn from the pictures at "
                          "half their side (a quarter of the work per step), the rest at the full size."),
        new_code_cell(_source("training/augment.py:AugmentPreset", "training/augment.py:PRESETS",
                              "training/augment.py:augment", "training/augment.py:resized")),
        new_markdown_cell("## 6. Batches, loss, optimizer and learning-rate schedule"),
        new_code_cell(_source("training/data.py:Batches", "training/losses.py:FocalLoss", "training/losses.py:make_loss",
                              "training/losses.py:balanced_class_weights", "training/losses.py:cutmix",
                              "training/fit.py:make_optimizer", "training/fit.py:make_schedule",
                              "training/fit.py:settled", "training/fit.py:LEARNED", "training/fit.py:LEARNED_GAP",
                              "training/fit.py:CALM_EPOCHS", "runs/train_config.py:STEADY_STEPS",
                              "runs/train_config.py:short_epochs", "runs/train_config.py:LOW_RES_SHARE",
                              "runs/train_config.py:LOW_RES_MIN_SIDE", "runs/train_config.py:low_res_side",
                              "runs/train_config.py:low_res_plan", "runs/train_config.py:full_size_epoch",
                              "training/fit.py:EarlyStop", "training/fit.py:CoolDown", "training/fit.py:WeightAverage",
                              "training/fit.py:BN_PICTURES", "training/fit.py:bn_sample",
                              "training/fit.py:recompute_batchnorm", "training/fit.py:seed_everything")),
        new_markdown_cell("## 7. Measuring: accuracy and weighted F1 on the validation pictures"),
        new_code_cell(_source("models/evaluate.py:confusion_matrix", "models/evaluate.py:confusion_f1",
                              "models/evaluate.py:f1_scores", "models/evaluate.py:weighted_f1", "training/fit.py:is_better")),
        new_markdown_cell("## 8. Training with early stopping\nEach epoch: learn from the training batches, then "
                          "measure on the validation pictures. With `cfg.ema` the measured model is a moving average of "
                          "the weights (calmer than the weights themselves); with `cfg.precise_bn` its BatchNorm statistics are "
                          "measured afresh on training pictures first (the averages kept while training lag behind "
                          "the weights). The best epoch's weights are kept; "
                          "training stops when `cfg.patience` epochs in a row did not improve and the learning rate "
                          "has come down, or once the training pictures are learned and the validation score has "
                          "stopped rising (after bringing the rate down over one more epoch if it is still high)."),
        new_code_cell(_TRAINING_LOOP),
        new_code_cell(f"APP_ACCURACY = {run.metrics.get('val_accuracy', 0)!r}\n"
                      "print(json.dumps({'notebook_val_accuracy': best_accuracy, 'app_val_accuracy': APP_ACCURACY, "
                      "'best_epoch': best_epoch}))"),
    ]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}})
    return nb


def notebook_file(ws: Workspace, user, run_id: str) -> tuple[str, bytes]:
    """(file name, .ipynb bytes): what `nocode export --notebook` writes and the page downloads."""
    run = get_run(ws, user, run_id)
    name = f"{safe_file_name(run.dataset_name, 'model')}-{run.id[-6:]}.ipynb"  # a name never becomes a path
    return name, nbformat.writes(notebook_for(ws, user, run_id)).encode()


def write_notebook(ws: Workspace, user, run_id: str, out: Path) -> Path:
    name, data = notebook_file(ws, user, run_id)
    write_atomic(Path(out) / name, data)
    return Path(out) / name


def _model_code(arch: str, num_classes: int) -> str:
    if arch == "small_cnn":
        return _source("models/small_cnn.py:SmallCNN") + f"\n\n\ndef model_factory():\n    return SmallCNN({num_classes})"
    extra = ", aux_logits=True, init_weights=True, transform_input=False" if arch == "inception_v3" else ""
    lines = ["def model_factory():",
             "    weights = 'DEFAULT' if cfg.pretrained else None  # ImageNet weights need the internet",
             f"    model = torchvision.models.get_model({arch!r}, weights=weights{extra})",
             "    if hasattr(model, 'AuxLogits'):\n        model.aux_logits, model.AuxLogits = False, None",
             "    last = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)][-1]",
             "    parent_name, _, attr = last.rpartition('.')",
             "    parent = model.get_submodule(parent_name) if parent_name else model",
             f"    setattr(parent, attr, nn.Linear(getattr(parent, attr).in_features, {num_classes}))  # our classes",
             "    return model"]
    return "\n".join(lines)


_TRAINING_LOOP = '''\
seed_everything(cfg.seed)
model = model_factory()
if cfg.mode == "fast":  # only the last layer learns; the rest keeps its (pretrained) weights
    for p in model.parameters():
        p.requires_grad = False
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    for p in last.parameters():
        p.requires_grad = True
counts = torch.bincount(labels[torch.as_tensor(train_idx)], minlength=len(CLASSES))
loss_fn = make_loss(cfg.loss, balanced_class_weights(counts) if cfg.class_weights else None,
                    cfg.label_smoothing or 0.0, cfg.focal_gamma)
batches = Batches(train_idx, labels, cfg.batch_size, shuffle=True, weighted=cfg.sampler == "weighted",
                  seed=cfg.seed, drop_last=len(train_idx) > cfg.batch_size, min_batches=MIN_STEPS_PER_EPOCH)
opt = make_optimizer(model, cfg)
sched, per_batch = make_schedule(opt, cfg, len(batches))
average = WeightAverage(model, cfg.epochs * len(batches)) if cfg.ema else None
judged = average.model if average else model  # the model that is measured and kept
bn_idx = bn_sample(train_idx, cfg.seed, labels if cfg.sampler == "weighted" else None) if cfg.precise_bn else []
shrink = low_res_plan(cfg, len(batches))  # progressive resizing: (side, the first steps trained at it)
augment_generator = torch.Generator().manual_seed(cfg.seed + 1)
cutmix_generator = torch.Generator().manual_seed(cfg.seed + 2)
preset = PRESETS[cfg.augment]


def pictures(idx, train):
    x = torch.from_numpy(normalize(cache[idx].numpy(), MEAN, STD))
    return augment(x, preset, augment_generator) if train else x


best_key, best_epoch, best_accuracy, best_state = None, 0, 0.0, None
stopping = EarlyStop(cfg, len(batches))
y_val = labels[torch.as_tensor(val_idx)].numpy()
for epoch in range(1, cfg.epochs + 1):
    first_lr = opt.param_groups[0]["lr"]
    model.train()
    right = seen = 0
    for b, idx in enumerate(batches, 1):
        x, y = pictures(idx, train=True), labels[idx]
        if shrink and (epoch - 1) * len(batches) + b <= shrink[1]:
            x = resized(x, shrink[0])
        if cfg.cutmix > 0 and float(torch.rand(1, generator=cutmix_generator)) < cfg.cutmix:
            x, y_a, y_b, lam = cutmix(x, y, cutmix_generator)
            out = model(x)
            loss = lam * loss_fn(out, y_a) + (1 - lam) * loss_fn(out, y_b)
        else:
            out = model(x)
            loss = loss_fn(out, y)
        right, seen = right + int((out.argmax(1) == y).sum()), seen + len(y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None and per_batch:
            sched.step()
        if average is not None:
            average.update(model)
    if sched is not None and not per_batch:
        sched.step()
    if bn_idx:
        recompute_batchnorm(judged, (pictures(i, train=False) for i in torch.as_tensor(bn_idx).split(64)))
    judged.eval()
    with torch.no_grad():
        probs = torch.cat([torch.softmax(judged(pictures(torch.as_tensor(val_idx[s:s + 64]), train=False)), 1)
                           for s in range(0, len(val_idx), 64)]).numpy()
    val_loss = float(F.nll_loss(torch.log(torch.as_tensor(probs).clamp_min(1e-12)), torch.as_tensor(y_val)))
    pred = probs.argmax(1)
    accuracy, f1 = float((pred == y_val).mean()), weighted_f1(y_val, pred, len(CLASSES))
    improved = best_key is None or is_better((f1, val_loss), best_key)
    if improved:
        best_key, best_epoch, best_accuracy = (f1, val_loss), epoch, accuracy
        best_state = copy.deepcopy(judged.state_dict())
    print(f"epoch {epoch}: validation accuracy {accuracy:.1%}, weighted F1 {f1:.3f}" + ("  (best so far)" if improved else ""))
    decision = stopping.after(epoch, f1, right / seen, improved, first_lr, opt.param_groups[0]["lr"],
                              may_stop=epoch >= full_size_epoch(shrink, len(batches)))
    if decision == "stop":
        print("stopped early: nothing more to gain")
        break
    if decision == "cool down":  # learned: the rate comes down to zero over one more epoch, then it stops
        sched, per_batch = CoolDown(opt, len(batches)), True
model.load_state_dict(best_state)
print(f"kept epoch {best_epoch}: validation accuracy {best_accuracy:.1%}")
'''
