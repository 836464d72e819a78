"""The app's optimizers (training/optimizers.py) are torch.optim's update rules: the same weights as
torch.optim after every step of a real schedule, and no torch._dynamo import in the process."""

import subprocess
import sys

import pytest
import torch

from nocode_widgets.models import small_cnn
from nocode_widgets.training import optimizers
from nocode_widgets.runs.train_config import TrainConfig
from nocode_widgets.training.fit import make_optimizer, make_schedule
from tests.conftest import REPO


def trajectory(rules, cfg: TrainConfig, foreach: bool | None = None, steps: int = 12) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = small_cnn.SmallCNN(3, widths=(8, 16, 16, 16))
    opt = make_optimizer(model, cfg, rules)
    if foreach is not None:
        opt.param_groups[0]["foreach"] = foreach
    sched, _ = make_schedule(opt, cfg, steps_per_epoch=steps // cfg.epochs)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(8, 3, 32, 32, generator=gen), torch.randint(0, 3, (8,), generator=gen)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        sched.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("name", ["adamw", "sgd", "adamax"])
@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_each_rule_gives_torch_optims_weights_step_for_step(name, schedule):
    cfg = TrainConfig(optimizer=name, schedule=schedule, lr=3e-3 if name != "sgd" else 0.05, weight_decay=0.05,
                      epochs=3)
    ours = trajectory(optimizers, cfg)
    for foreach in (True, False):  # torch's two paths (CPU runs default to the per-tensor one)
        theirs = trajectory(torch.optim, cfg, foreach)
        assert len(ours) == len(theirs)
        worst = max((a - b).abs().max().item() for a, b in zip(ours, theirs))
        assert worst < 1e-5, (name, schedule, foreach, worst)
    start = trajectory(optimizers, TrainConfig(optimizer=name, lr=3e-3, epochs=3), steps=0)
    assert max((a - b).abs().max().item() for a, b in zip(ours, start)) > 1e-3  # they did move


def test_a_parameter_without_a_gradient_is_left_alone_and_zero_grad_keeps_or_clears():
    used, unused = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    opt = optimizers.AdamW([used, unused], lr=0.1, weight_decay=0.0)
    (used * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    opt.step()
    assert torch.equal(unused, torch.ones(3)) and not opt.state[unused]
    assert torch.all(used < 1) and opt.state[used]["step"] == 1
    opt.zero_grad(set_to_none=False)
    assert torch.equal(used.grad, torch.zeros(3))
    opt.zero_grad()
    assert used.grad is None
    with pytest.raises(ValueError, match="empty parameter list"):
        optimizers.SGD([], lr=0.1)


def test_training_steps_import_no_torch_dynamo():
    code = ("import sys, torch\n"
            "from nocode_widgets.models import small_cnn\n"
            "from nocode_widgets.training import optimizers\n"
            "from nocode_widgets.runs.train_config import TrainConfig\n"
            "from nocode_widgets.training.fit import make_optimizer, make_schedule\n"
            "model = small_cnn.SmallCNN(2)\n"
            "for name in ('adamw', 'sgd', 'adamax'):\n"
            "    cfg = TrainConfig(optimizer=name, lr=1e-3, epochs=1, schedule='onecycle')\n"
            "    opt = make_optimizer(model, cfg, optimizers)\n"
            "    sched, _ = make_schedule(opt, cfg, 2)\n"
            "    for _ in range(2):\n"
            "        model(torch.randn(2, 3, 32, 32)).sum().backward(); opt.step(); sched.step(); opt.zero_grad()\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def test_the_grad_scaler_drives_them_as_it_drives_torchs():
    """What a CUDA run with fp16 does (scaled loss, unscaled gradients, a skipped step on overflow), on the CPU."""
    def scaled(rules):
        torch.manual_seed(0)
        model = small_cnn.SmallCNN(2, widths=(8, 16, 16, 16))
        opt, scaler = make_optimizer(model, TrainConfig(lr=1e-3), rules), torch.amp.GradScaler("cpu")
        for big in (float("inf"), 1.0, 1.0):  # the first step overflows: skipped, and the scale comes down
            opt.zero_grad()
            scaler.scale(model(torch.full((2, 3, 32, 32), big)).sum()).backward()
            scaler.step(opt)
            scaler.update()
        return [p.detach().clone() for p in model.parameters()], scaler.get_scale()

    torch.manual_seed(0)
    start = [p.detach().clone() for p in small_cnn.SmallCNN(2, widths=(8, 16, 16, 16)).parameters()]

    (ours, our_scale), (theirs, their_scale) = scaled(optimizers), scaled(torch.optim)
    assert our_scale == their_scale == 2.0 ** 15
    assert max((a - b).abs().max().item() for a, b in zip(ours, theirs)) < 1e-5
    assert max((a - b).abs().max().item() for a, b in zip(ours, start)) > 1e-4  # the later steps were taken
