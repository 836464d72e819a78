"""The baseline Auto is measured against: a plain PyTorch loop of the origin project's kind, run as its own
process. ImageFolder + PIL every epoch, Adam (lr 1e-3), batch 32, 15 epochs, at the same picture size, scored on
the same validation pictures (folders `train/` and `val/` of class folders). The network: the app's small CNN
(`--net small`, 1.17 M parameters), or the lighter one a person writes by following the origin project
(`--net light`: 3 blocks of (3x3 conv, BN, ReLU) x2 and max-pool, 32/64/128 channels, global average pooling
and a linear layer, 0.29 M parameters).

    python benchmarks/plain_loop.py FOLDER --size 32 [--net small|light] [--epochs 15] [--seed 0]

Prints one JSON line: validation accuracy (and weighted and macro F1) after the last epoch, the best epoch's
accuracy, and the seconds.
"""

import time

STARTED = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torchvision import datasets, transforms  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from nocode_widgets.models.evaluate import f1_scores, weighted_f1  # noqa: E402
from nocode_widgets.models.small_cnn import SmallCNN  # noqa: E402


def light_net(num_classes: int) -> nn.Module:
    layers, prev = [], 3
    for width in (32, 64, 128):
        layers += [nn.Conv2d(prev, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                   nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
        prev = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(prev, num_classes))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--net", choices=("small", "light"), default="small")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    tf = transforms.Compose([transforms.Resize((args.size, args.size)), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    train = datasets.ImageFolder(str(Path(args.folder) / "train"), tf)
    val = datasets.ImageFolder(str(Path(args.folder) / "val"), tf)
    train_loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True)
    val_loader = torch.utils.data.DataLoader(val, batch_size=64)
    model = SmallCNN(len(train.classes)) if args.net == "small" else light_net(len(train.classes))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    accuracies = []
    for _ in range(args.epochs):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        model.eval()
        predicted, truth = [], []
        with torch.no_grad():
            for x, y in val_loader:
                predicted += model(x).argmax(1).tolist()
                truth += y.tolist()
        accuracies.append(sum(p == t for p, t in zip(predicted, truth)) / len(val))
    import numpy as np

    f1 = weighted_f1(np.array(truth), np.array(predicted), len(train.classes))
    _, _, per_class, support = f1_scores(np.array(truth), np.array(predicted), len(train.classes))
    print(json.dumps({"val_accuracy": accuracies[-1], "best_val_accuracy": max(accuracies), "val_weighted_f1": f1,
                      "val_macro_f1": float(per_class[support > 0].mean()),
                      "history": accuracies, "seconds": time.time() - STARTED}))


if __name__ == "__main__":
    main()
