"""Our own small CNN: trains well from scratch on small pictures on a CPU (the zoo's `small_cnn`)."""

from __future__ import annotations

from torch import nn


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU blocks with pooling, global average pooling and a linear head."""

    def __init__(self, num_classes: int, widths=(32, 64, 128, 256), dropout: float = 0.2):
        super().__init__()
        layers, prev = [], 3
        for w in widths:
            layers += [nn.Conv2d(prev, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                       nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            prev = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(prev, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)))
