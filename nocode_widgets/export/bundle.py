"""The model bundle a person takes away: `model.onnx`, `model.json`, `model_card.md`, a standalone
`predict.py` (onnxruntime, numpy and Pillow only; the app's own `portable.py`), a short README, and
all of it as one zip. Built only from a run whose export passed its parity check, so the bundle
answers as the app does. The zip is byte-for-byte the same each time it is made for a run."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..pictures import portable
from ..errors import NocodeError
from ..files import read_json, write_atomic
from ..markdown import md_json, md_text
from ..predict.onnx import export_ok
from ..runs.records import RunRecord, get_run, read_evaluation, run_folder
from ..workspace import Workspace

FILES = ("model.onnx", "model.json", "model_card.md", "predict.py", "README.md")  # an ensemble: members/<n>/ too


@dataclass(frozen=True)
class Bundle:
    name: str  # the zip's file name
    files: dict  # file name -> bytes, in FILES order

    def zip_bytes(self) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in self.files.items():
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                z.writestr(info, data, zipfile.ZIP_DEFLATED)
        return out.getvalue()


def make_bundle(ws: Workspace, user, run_id: str) -> Bundle:
    """The bundle of one of the user's runs (any run for an admin); an ensemble's holds its members'
    models under members/<n>/ and its predict.py runs them all."""
    run = get_run(ws, user, run_id)
    folder = run_folder(ws, run)
    if not run.usable:
        raise NocodeError("This run has no trained model to download yet.")
    card = {**read_json(folder / "model.json"), "max_side": ws.settings.image_max_side}
    members = [(f"{m['folder']}/", folder / m["folder"]) for m in card.get("members", [])] or [("", folder)]
    for _, source in members:
        if not export_ok(source):
            why = (read_json(source / "export.json") or run.export or {}).get("error") or \
                "it was trained before models were exported"
            raise NocodeError(f"This model has no checked export ({why.rstrip('.')}), so it cannot be downloaded. "
                              "Train it again to get one.")
    files = {}
    for prefix, source in members:
        files[prefix + "model.onnx"] = (source / "model.onnx").read_bytes()
        if prefix:
            member_card = {**read_json(source / "model.json"), "max_side": ws.settings.image_max_side}
            files[prefix + "model.json"] = json.dumps(member_card, indent=2, ensure_ascii=False).encode()
    files.update({"model.json": json.dumps(card, indent=2, ensure_ascii=False).encode(),
                  "model_card.md": model_card(run, card, read_evaluation(folder) or {}, read_json(folder / "split.json") or {}).encode(),
                  "predict.py": Path(portable.__file__).read_bytes(),
                  "README.md": readme(card).encode()})
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{run.dataset_name}-{card['arch']}").strip("-").lower() or "model"
    return Bundle(f"{slug}-{run.id[-6:]}.zip", files)


def write_bundle(ws: Workspace, user, run_id: str, out: Path) -> tuple[Bundle, Path]:
    """The bundle's files in `out`, and the zip of them beside them."""
    bundle = make_bundle(ws, user, run_id)
    out = Path(out)
    for name, data in bundle.files.items():
        write_atomic(out / name, data)
    write_atomic(out / bundle.name, bundle.zip_bytes())
    return bundle, out / bundle.name


def model_card(run: RunRecord, card: dict, evaluation: dict, split: dict) -> str:
    cfg = run.resolved or run.config
    val = next(iter(evaluation.values()), {})
    name, classes = md_text(run.dataset_name), [md_text(c) for c in card["classes"]]  # typed by a person
    parts = [f"# Model card: {name} ({card['arch']})", "",
             "## What it does",
             f"Sorts a picture into one of {len(classes)} classes: {', '.join(classes)}. "
             "It was trained with nocode_widgets on the pictures of one person's dataset; it only knows these "
             "classes and answers one of them for any picture, even one that belongs to none.", "",
             "## What it was trained on",
             f"Dataset *{name}* (version {run.dataset_version}): "
             + ", ".join(f"{len(v)} pictures for {k if k != 'val' else 'validation'}" for k, v in split.items() if v)
             + ". The validation pictures were never learned from and never augmented.", ""]
    if val:
        parts += [f"## How well it does (measured on the {val['split']} pictures)",
                  f"Accuracy {val['accuracy']:.1%}, weighted F1 {val['weighted_f1']:.3f}, macro F1 {val['macro_f1']:.3f} "
                  f"on {val['count']} pictures.", "",
                  "| class | precision | recall | F1 | pictures |", "|---|---|---|---|---|"]
        parts += [f"| {md_text(c['label'])} | {c['precision']:.2f} | {c['recall']:.2f} | {c['f1']:.2f} | {c['support']} |"
                  for c in val["per_class"]]
        parts += ["", "Confusion matrix (rows: the true class, columns: what the model said):", "",
                  "| true \\ said | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
        parts += [f"| {classes[i]} | " + " | ".join(str(n) for n in row) + " |" for i, row in enumerate(val["confusion"])]
        parts.append("")
    export = run.export
    if run.kind == "ensemble":
        parts += ["## The exported models", f"{md_text(run.explanation)} Each member is in `members/<n>/` (its `model.onnx` "
                  "passed its own parity check against the trained model); `predict.py` runs them all and averages "
                  "their calibrated probabilities with the weights in `model.json`.", ""]
    else:
        parts += ["## The exported model",
                  f"`model.onnx` (opset {export['opset']}, softmax inside) agrees with the trained model on "
                  f"{export['agree']}/{export['total']} validation pictures; the largest difference in a probability "
                  f"is {export['max_diff']:.6f}.", ""]
    parts += ["## Limits",
              "- Small datasets give optimistic or noisy figures; test it on new pictures of your own before relying on it.",
              "- Pictures unlike the training ones (other cameras, lighting, backgrounds) can be misjudged with high confidence.",
              "- Do not use it for decisions about people, health or safety.", "",
              "## Settings used", "```json", md_json(cfg), "```", ""]
    return "\n".join(parts)


def readme(card: dict) -> str:
    return "\n".join([
        f"# {card['arch']} classifier: {', '.join(md_text(c) for c in card['classes'])}", "",
        "Needs Python 3.9+ and three packages: `pip install onnxruntime numpy pillow`", "",
        "```bash", "python predict.py picture.jpg another.png        # label and probabilities per file",
        "python predict.py pictures/*.jpg --json           # the same as JSON", "```", "",
        "`predict.py` prepares each picture exactly as the app did in training (upright, RGB, at most "
        f"{card['max_side']} px, JPEG, shorter side to {card['image_size']} px, centre crop, normalized with the mean "
        "and std in `model.json`), then runs `model.onnx`. `model_card.md` says what the model was trained on "
        "and how well it does.", ""])
