from collections import Counter

import pytest
import torch

from nocode_widgets.training.augment import PRESETS, augment
from nocode_widgets.runs.train_config import Facts, TrainConfig, resolve
from nocode_widgets.training.data import Batches, split_indices, stable_split
from nocode_widgets.training.losses import FocalLoss, balanced_class_weights, cutmix
from nocode_widgets.errors import TrainingError


def labels_of(counts):
    return [c for c, n in enumerate(counts) for _ in range(n)]


def test_split_is_stratified_disjoint_and_complete():
    labels = labels_of([50, 30, 20])
    s = split_indices(labels, 0.2, 0.1, seed=3)
    assert not set(s.train) & set(s.val) and not set(s.train) & set(s.test) and not set(s.val) & set(s.test)
    assert sorted(s.train + s.val + s.test) == list(range(100))
    assert Counter(labels[i] for i in s.val) == {0: 10, 1: 6, 2: 4}
    assert Counter(labels[i] for i in s.test) == {0: 5, 1: 3, 2: 2}


def test_split_is_seeded():
    labels = labels_of([40, 40])
    assert split_indices(labels, seed=1) == split_indices(labels, seed=1) != split_indices(labels, seed=2)


def test_every_class_with_two_pictures_is_validated():
    s = split_indices(labels_of([2, 2, 30]), 0.2)
    assert {0, 1, 2} <= {labels_of([2, 2, 30])[i] for i in s.val}


def test_stable_split_is_kept_by_hash_for_the_dataset_version(tmp_path):
    hashes = [f"h{i}" for i in range(40)]
    labels = labels_of([20, 20])
    first = stable_split(tmp_path, hashes, labels, version=1, val_fraction=0.2, test_fraction=0, seed=0)
    # same pictures listed in another order: the same pictures are validated
    order = list(reversed(range(40)))
    again = stable_split(tmp_path, [hashes[i] for i in order], [labels[i] for i in order], 1, 0.2, 0, 0)
    assert {hashes[i] for i in first.val} == {hashes[order[i]] for i in again.val}
    assert len(list(tmp_path.glob("splits/*.json"))) == 1


def test_a_new_version_keeps_the_pictures_held_out_before_held_out(tmp_path):
    hashes = [f"h{i}" for i in range(40)]
    labels = labels_of([20, 20])
    first = stable_split(tmp_path, hashes, labels, version=1, val_fraction=0.2, test_fraction=0, seed=0)
    more = hashes[:30] + [f"n{i}" for i in range(20)]  # 10 pictures gone, 20 new ones (10 per class)
    more_labels = labels[:30] + labels_of([10, 10])
    second = stable_split(tmp_path, more, more_labels, version=2, val_fraction=0.2, test_fraction=0, seed=0)
    old_val = {hashes[i] for i in first.val} & set(more)
    assert old_val <= {more[i] for i in second.val}  # still held out
    assert {hashes[i] for i in first.train} & set(more) <= {more[i] for i in second.train}  # never validated
    new_val = {more[i] for i in second.val if more[i].startswith("n")}
    assert 0 < len(new_val) < 10  # new pictures are held out by their hash, about 20% of them
    many = [f"m{i}" for i in range(2000)]  # and over many, the split's share
    from nocode_widgets.training.data import _part_by_hash
    assert 0.17 < sum(_part_by_hash(h, 0.2, 0.1, 0) == "val" for h in many) / 2000 < 0.23
    assert 0.07 < sum(_part_by_hash(h, 0.2, 0.1, 0) == "test" for h in many) / 2000 < 0.13
    # a version that would leave a class unvalidated is split afresh
    only = [hashes[i] for i in first.train if labels[i] == 0] + [h for i, h in enumerate(hashes) if labels[i] == 1]
    only_labels = [0 if h in {hashes[i] for i in first.train if labels[i] == 0} else 1 for h in only]
    third = stable_split(tmp_path, only, only_labels, version=3, val_fraction=0.2, test_fraction=0, seed=0)
    assert {only_labels[i] for i in third.val} == {0, 1}


def test_weighted_sampler_draws_classes_evenly():
    labels = torch.tensor(labels_of([90, 10]))
    batches = Batches(list(range(100)), labels, batch_size=10, shuffle=True, weighted=True, seed=0)
    drawn = Counter()
    for _ in range(30):
        for idx in batches:
            drawn.update(labels[idx].tolist())
    assert 0.4 < drawn[1] / sum(drawn.values()) < 0.6


def test_augmentation_changes_training_batches_only_when_asked():
    x = torch.randn(4, 3, 16, 16)
    assert augment(x, PRESETS["none"]) is x
    out = augment(x, PRESETS["strong"], torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.allclose(out, x)


def test_focal_loss_down_weights_easy_examples():
    logits = torch.tensor([[5.0, 0.0], [0.2, 0.0]])
    target = torch.tensor([0, 0])
    ce = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    focal = [float(FocalLoss(2.0)(logits[i:i + 1], target[i:i + 1])) for i in range(2)]
    assert focal[0] / float(ce[0]) < focal[1] / float(ce[1]) < 1


def test_class_weights_balance_counts():
    w = balanced_class_weights(torch.tensor([90, 10]))
    assert torch.allclose(w * torch.tensor([90.0, 10.0]), torch.tensor([50.0, 50.0]))


def test_cutmix_mixes_in_proportion():
    x = torch.zeros(8, 3, 32, 32)
    x[4:] = 1
    y = torch.tensor([0] * 4 + [1] * 4)
    mixed, ya, yb, lam = cutmix(x, y, torch.Generator().manual_seed(0))
    assert 0 <= lam <= 1 and mixed.shape == x.shape and torch.equal(ya, y) and sorted(yb.tolist()) == sorted(y.tolist())


def facts(device="cpu", images=300, imbalance=1.0, side=200, pretrained=None):
    return Facts(device, images, 3, side, imbalance, pretrained or {})


def test_auto_on_cpu_offline_trains_the_small_cnn_from_scratch():
    cfg, why = resolve(TrainConfig(), facts())
    assert (cfg.arch, cfg.mode, cfg.image_size, cfg.sampler) == ("small_cnn", "fine-tune", 64, "shuffle")
    assert "Small CNN" in why and "from scratch" in why


def test_auto_on_cpu_with_pretrained_weights_uses_fast_mode():
    cfg, why = resolve(TrainConfig(), facts(images=5000, pretrained={"mobilenet_v3_large": True}))
    assert (cfg.arch, cfg.mode, cfg.image_size) == ("mobilenet_v3_large", "fast", 224)
    assert "only the last layer" in why


def test_auto_small_dataset_gets_small_batches_and_tiny_pictures_stay_small():
    cfg, _ = resolve(TrainConfig(), facts(images=40, side=28))
    assert cfg.batch_size == 8 and cfg.image_size == 32


def test_auto_keeps_imbalanced_classes_in_their_own_proportions_for_the_small_cnn():
    cfg, why = resolve(TrainConfig(), facts(imbalance=5))  # weighted sampling measured worse (bench_recipe.py)
    assert (cfg.arch, cfg.sampler, cfg.label_smoothing) == ("small_cnn", "shuffle", 0.1) and "balancing" not in why


def test_auto_balances_imbalanced_classes_for_pretrained_models():
    cfg, why = resolve(TrainConfig(), facts("cuda", imbalance=5, pretrained={"efficientnet_b0": True}))
    assert cfg.sampler == "weighted" and cfg.label_smoothing == 0.1 and "balancing" in why


def test_auto_on_gpu_fine_tunes_pretrained_with_channels_last():
    cfg, _ = resolve(TrainConfig(), facts("cuda", pretrained={"efficientnet_b0": True}))
    assert (cfg.arch, cfg.mode, cfg.channels_last) == ("efficientnet_b0", "fine-tune", True)


def test_user_choices_win_over_auto():
    cfg, _ = resolve(TrainConfig(arch="resnet18", epochs=3, lr=0.01, optimizer="sgd"), facts())
    assert (cfg.arch, cfg.epochs, cfg.lr, cfg.optimizer, cfg.mode) == ("resnet18", 3, 0.01, "sgd", "fine-tune")


def test_fast_mode_without_weights_falls_back_to_fine_tuning():
    cfg, _ = resolve(TrainConfig(arch="mobilenet_v2", mode="fast"), facts())
    assert cfg.mode == "fine-tune"


@pytest.mark.parametrize("bad,match", [(dict(optimizer="rmsprop"), "optimizer"), (dict(arch="gpt"), "architecture"),
                                       (dict(arch="inception_v3", image_size=32), "at least 75"),
                                       (dict(lr=-1), "learning rate"), (dict(val_fraction=0.9), "validation share")])
def test_impossible_choices_are_explained(bad, match):
    with pytest.raises(TrainingError, match=match):
        resolve(TrainConfig(**bad), facts())


def test_tiny_training_sets_get_a_minimum_number_of_steps_per_epoch():
    labels = torch.tensor(labels_of([6, 6]))
    batches = Batches(list(range(12)), labels, batch_size=8, shuffle=True, drop_last=True, min_batches=16)
    drawn = list(batches)
    assert len(drawn) == len(batches) == 16 and all(len(b) == 8 for b in drawn)
    counts = Counter(i for b in drawn for i in b.tolist())
    assert set(counts) == set(range(12)) and max(counts.values()) - min(counts.values()) <= 1  # even passes


def test_large_training_sets_are_one_pass_per_epoch():
    batches = Batches(list(range(1000)), torch.zeros(1000, dtype=torch.long), 32, shuffle=True, drop_last=True,
                      min_batches=16)
    assert len(batches) == 31 and len({i for b in batches for i in b.tolist()}) == 992


def test_cpu_bf16_and_channels_last_only_where_measured_and_supported():
    small, _ = resolve(TrainConfig(), Facts("cpu", 300, 3, 200, 1.0, {}, cpu_bf16=True))
    assert small.amp and small.channels_last
    plain, _ = resolve(TrainConfig(), Facts("cpu", 300, 3, 200, 1.0, {}, cpu_bf16=False))
    assert not plain.amp and plain.channels_last
    other, _ = resolve(TrainConfig(arch="resnet18"), Facts("cpu", 300, 3, 200, 1.0, {}, cpu_bf16=True))
    assert not other.amp and not other.channels_last
    chosen, _ = resolve(TrainConfig(amp=False), Facts("cpu", 300, 3, 200, 1.0, {}, cpu_bf16=True))
    assert not chosen.amp
