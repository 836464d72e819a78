"""What a run is asked to do (`TrainConfig`, None meaning "Auto decides") and Auto itself: the
choices a no-code user gets with one click, made from the device, whether pretrained weights are
at hand, the dataset's size, class balance and picture sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ..errors import TrainingError
from ..models.zoo import ARCHS, SMALL_CNN, get_arch

MIN_STEPS_PER_EPOCH = 4  # a tiny dataset is passed over more than once per epoch (see data.Batches)
# Auto's patience and the calm that ends a run which has learned its pictures count epochs of at least this many
# steps: a 180-picture set reports an epoch every 4 steps (its first within a second), and waits as many steps
# before stopping as when its epochs were 8 steps (BENCHMARKS.md, "Faster epochs": the same accuracy).
STEADY_STEPS = 8
# Auto's budget (fine-tuning and training from scratch): passes over the training pictures, at least
# AUTO_MIN_PASSES and AUTO_MIN_STEPS optimizer steps, at most AUTO_MAX_PASSES; the learning rate reaches
# zero at its end (benchmarks/bench_auto.py and BENCHMARKS.md "Auto" for the evidence).
AUTO_MIN_PASSES, AUTO_MAX_PASSES, AUTO_MIN_STEPS = 10, 15, 60
# Progressive resizing (`TrainConfig.progressive`): the first LOW_RES_SHARE of the budget's steps train at half the
# picture side, then the rest at the full side: a quarter of the pixels for half the steps. Auto uses it within
# its own budget on the CPU, for sets so small that the budget is more than AUTO_MIN_PASSES passes (AUTO_MIN_STEPS
# decides it: up to about 200 pictures), where it took 0.8-0.9x the time at the same accuracy or higher; on
# larger sets it was faster too but less accurate on one (BENCHMARKS.md, "Progressive resizing").
LOW_RES_SHARE = 0.5
LOW_RES_MIN_SIDE = 32  # no smaller: a 32-px set (digits) trains at its own size throughout
OPTIMIZERS = ("adamw", "sgd", "adamax")
SCHEDULES = ("onecycle", "cosine", "exponential", "none")
MODES = ("fine-tune", "fast")
AUGMENTS = ("none", "light", "strong")
SAMPLERS = ("shuffle", "weighted")
LOSSES = ("ce", "focal")
MIN_FOLDS, MAX_FOLDS = 2, 10  # bagging
# What a person may ask, checked here whatever the page's fields allowed (a page can send any value): a run
# holds a training slot, so none may ask for one that never ends. The Train panel's fields show the same.
RANGES = {"epochs": (1, 500, "Max epochs"), "patience": (1, 500, "Patience"), "batch_size": (1, 512, "Batch size"),
          "image_size": (16, 512, "Picture size")}
FLOAT_RANGES = {"lr": (1e-8, 1.0, "The learning rate"), "gamma": (0.01, 1.0, "The learning rate's decay"),
                "weight_decay": (0.0, 1.0, "Weight decay"), "label_smoothing": (0.0, 0.5, "Label smoothing"),
                "cutmix": (0.0, 1.0, "CutMix's share of batches"), "focal_gamma": (0.0, 10.0, "Focal loss's gamma"),
                "test_fraction": (0.0, 0.5, "The test share")}


# The imbalance tools a user can pick (CLI --imbalance, the Train panel's checkboxes): key -> (label, fields).
IMBALANCE_TOOLS = {
    "weighted": ("Balance classes by sampling", {"sampler": "weighted"}),
    "class-weights": ("Class-weighted loss", {"class_weights": True}),
    "focal": ("Focal loss", {"loss": "focal"}),
    "smoothing": ("Label smoothing", {"label_smoothing": 0.1}),
    "cutmix": ("CutMix", {"cutmix": 0.5}),
    "none": ("None of these (plain shuffling)", {"sampler": "shuffle", "label_smoothing": 0.0}),
}


def imbalance_fields(tools) -> dict:
    """The config fields for the chosen imbalance tools."""
    fields_: dict = {}
    for tool in tools:
        fields_.update(IMBALANCE_TOOLS[tool][1])
    return fields_


@dataclass(frozen=True)
class TrainConfig:
    arch: str | None = None
    mode: str | None = None  # fine-tune: all layers; fast: frozen backbone, only the head trains
    pretrained: bool = True  # use ImageNet weights when they are available
    weights_file: str | None = None  # a local ImageNet weights file for `arch`
    image_size: int | None = None
    batch_size: int | None = None
    epochs: int | None = None  # the cap; early stopping usually ends sooner
    lr: float | None = None
    optimizer: str = "adamw"
    schedule: str | None = None
    gamma: float = 0.8  # exponential schedule: lr multiplied by this each epoch
    weight_decay: float = 1e-4
    augment: str | None = None
    patience: int | None = None  # epochs without improvement before stopping
    stop_when_learned: bool | None = None  # also end once the training pictures are learned (patience left to Auto)
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    seed: int = 0
    folds: int | None = None  # bagging: K stratified folds; this run holds out fold `fold` as its test pictures
    fold: int = 0
    sampler: str | None = None
    loss: str = "ce"
    focal_gamma: float = 2.0
    class_weights: bool = False
    label_smoothing: float | None = None
    cutmix: float = 0.0  # probability per batch
    device: str = "auto"
    amp: bool | None = None  # mixed precision: CUDA always; CPU bf16 where measured faster
    channels_last: bool | None = None
    ema: bool | None = None  # evaluate and keep a moving average of the weights
    precise_bn: bool | None = None  # BatchNorm statistics of the measured model recomputed on training pictures
    restart_stalled: bool | None = None  # start again from other initial weights if it has not taken off by mid-budget
    progressive: bool | None = None  # the first half of the budget's steps at half the picture side (low_res_side)
    restart_progressive: bool | None = None  # a stalled start's second start is progressive (second_start)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def check(self) -> None:
        """Plain-language errors for impossible choices."""
        for value, allowed, what in ((self.optimizer, OPTIMIZERS, "optimizer"), (self.loss, LOSSES, "loss"),
                                     (self.schedule, SCHEDULES + (None,), "schedule"),
                                     (self.mode, MODES + (None,), "mode"), (self.augment, AUGMENTS + (None,), "augmentation"),
                                     (self.sampler, SAMPLERS + (None,), "sampler")):
            if value not in allowed:
                raise TrainingError(f"Unknown {what} {value!r}; choose one of {', '.join(a for a in allowed if a)}.")
        if self.arch is not None and self.arch not in ARCHS:
            raise TrainingError(f"Unknown architecture {self.arch!r}.")
        if self.arch and self.image_size and self.image_size < get_arch(self.arch).min_size:
            raise TrainingError(f"{get_arch(self.arch).title} needs pictures of at least "
                                f"{get_arch(self.arch).min_size} px.")
        low = low_res_side(replace(self, progressive=bool(self.progressive or self.restart_progressive)))
        if low and self.arch and low < get_arch(self.arch).min_size:
            raise TrainingError(f"{get_arch(self.arch).title} needs pictures of at least {get_arch(self.arch).min_size} "
                                f"px, and progressive resizing would train it at {low} px first. Turn progressive "
                                "resizing off, or choose bigger pictures.")
        if self.folds is not None and not (MIN_FOLDS <= self.folds <= MAX_FOLDS and 0 <= self.fold < self.folds):
            raise TrainingError(f"Bagging needs {MIN_FOLDS} to {MAX_FOLDS} folds, and a fold number below them.")
        if not 0.05 <= self.val_fraction <= 0.5:
            raise TrainingError("The validation share must be between 5% and 50%.")
        for name, (low, high, what) in RANGES.items():
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and low <= value <= high):
                raise TrainingError(f"{what} must be a whole number from {low} to {high}.")
        for name, (low, high, what) in FLOAT_RANGES.items():
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and low <= value <= high):
                hint = ", like 0.001" if name == "lr" else ""
                raise TrainingError(f"{what} must be between {low:g} and {high:g}{hint}.")


@dataclass(frozen=True)
class Facts:
    """What Auto looks at."""

    device: str  # cuda, mps or cpu
    images: int
    classes: int
    median_side: int  # of the original pictures
    imbalance: float  # largest class / smallest
    pretrained: dict  # arch -> bool: weights at hand
    cpu_bf16: bool = False  # the CPU does bf16 natively


def _cpu_choice(f: Facts) -> dict:
    if f.pretrained.get("mobilenet_v3_large"):  # features once, then a head in seconds
        return dict(arch="mobilenet_v3_large", mode="fast", image_size=224, epochs=60, batch_size=64, lr=3e-3,
                    patience=8, augment="none", schedule="cosine")
    side = 64 if f.median_side >= 64 else max(32, f.median_side // 8 * 8)
    return dict(arch=SMALL_CNN, mode="fine-tune", image_size=side, epochs=30, batch_size=32, lr=3e-3,
                patience=4, augment="none", schedule="onecycle")  # a short budget learns faster unaugmented


def _gpu_choice(f: Facts) -> dict:
    if f.pretrained.get("efficientnet_b0"):
        return dict(arch="efficientnet_b0", mode="fine-tune", image_size=224, epochs=20, batch_size=64, lr=1e-3,
                    patience=5, augment="light", schedule="onecycle")
    return dict(arch="resnet18", mode="fine-tune", image_size=128, epochs=40, batch_size=64, lr=2e-3,
                patience=8, augment="strong", schedule="onecycle")


def steps_per_pass(train_images: int, batch_size: int) -> int:
    """Optimizer steps of one pass over the training pictures, as data.Batches takes them (the last, partial
    batch dropped when there is more than one)."""
    return train_images // batch_size if train_images > batch_size else 1


def low_res_side(cfg) -> int | None:
    """The side the first LOW_RES_SHARE of the budget's steps train at with `cfg.progressive`, or None (every step
    at `cfg.image_size`). Validation and the BatchNorm statistics it is measured with stay at the full side."""
    side = (cfg.image_size or 0) // 2
    return side if cfg.progressive and cfg.mode != "fast" and side >= LOW_RES_MIN_SIDE else None


def low_res_plan(cfg, steps_per_epoch: int) -> tuple[int, int] | None:
    """(the smaller side, how many of the run's first steps train at it), or None: progressive resizing."""
    side = low_res_side(cfg)
    return (side, int(LOW_RES_SHARE * cfg.epochs * steps_per_epoch)) if side else None


def full_size_epoch(plan: tuple[int, int] | None, steps_per_epoch: int) -> int:
    """The first epoch whose every step trains at the full side under `low_res_plan`'s plan: no stopping rule ends
    a run before it (the run has not yet learned from pictures of the size it is measured at)."""
    return -(-plan[1] // max(steps_per_epoch, 1)) + 1 if plan else 1


RESTART_SEED = 1000  # the initial weights of a second start: another seed, the same split and batches' data


def second_start(cfg: TrainConfig) -> TrainConfig:
    """The config of a run's second start, after its first did not take off (`restart_stalled`): other initial
    weights, no third start, and learning from half-size pictures first with `restart_progressive`."""
    return replace(cfg, seed=cfg.seed + RESTART_SEED, restart_stalled=False,
                   progressive=bool(cfg.progressive or cfg.restart_progressive))


def short_epochs(steps_per_epoch: int) -> int:
    """How many epochs of `steps_per_epoch` steps make one of STEADY_STEPS (1 for all but tiny sets)."""
    return max(1, round(STEADY_STEPS / max(steps_per_epoch, 1)))


def budget_passes(train_images: int, batch_size: int) -> int:
    """Auto's budget in passes over the training pictures: at least AUTO_MIN_PASSES and AUTO_MIN_STEPS optimizer
    steps, at most AUTO_MAX_PASSES."""
    per_pass = -(-max(1, train_images) // batch_size)
    return min(AUTO_MAX_PASSES, max(AUTO_MIN_PASSES, -(-AUTO_MIN_STEPS // per_pass)))


def budget_epochs(train_images: int, batch_size: int) -> int:
    """Auto's epoch cap for fine-tuning: `budget_passes`, counted as it was measured in epochs of STEADY_STEPS steps
    at least, in epochs of the fit loop (the same number of steps)."""
    per_pass = -(-max(1, train_images) // batch_size)
    passes = budget_passes(train_images, batch_size)
    taken = steps_per_pass(train_images, batch_size)
    steps = max(3, -(-passes * per_pass // max(per_pass, STEADY_STEPS))) * max(taken, STEADY_STEPS)
    return max(3, -(-steps // max(taken, MIN_STEPS_PER_EPOCH)))


def auto_choices(f: Facts, batch_size: int | None = None) -> dict:
    """Auto's values for every field a user left to Auto (`batch_size`: the user's, which the budget follows)."""
    choice = _gpu_choice(f) if f.device in ("cuda", "mps") else _cpu_choice(f)
    train_images = max(1, int(f.images * 0.8))
    choice["batch_size"] = batch_size or max(8, min(choice["batch_size"], train_images // 4 or 8))
    if choice["mode"] == "fine-tune":  # the epoch cap as a budget of passes over the training pictures
        choice["epochs"] = budget_epochs(train_images, choice["batch_size"])
        per_epoch = max(steps_per_pass(train_images, choice["batch_size"]), MIN_STEPS_PER_EPOCH)
        choice["patience"] *= short_epochs(per_epoch)
        choice["progressive"] = budget_passes(train_images, choice["batch_size"]) > AUTO_MIN_PASSES
    imbalanced = f.imbalance >= 3
    # Class-balanced batches repeat a small class's few pictures until they are learned by heart: the small CNN
    # from scratch did better on imbalanced sets in the pictures' own proportions (BENCHMARKS.md, "Auto").
    choice["sampler"] = "weighted" if imbalanced and choice["arch"] != SMALL_CNN else "shuffle"
    choice["label_smoothing"] = 0.1 if imbalanced else 0.0
    return choice


def resolve(config: TrainConfig, facts: Facts) -> tuple[TrainConfig, str]:
    """Fill every field left to Auto; return the full config and one plain line saying what Auto chose."""
    config.check()
    auto = auto_choices(facts, config.batch_size)
    if config.arch and config.arch != auto["arch"]:  # the user's own architecture: sizes to match it
        arch = get_arch(config.arch)
        fast_ok = arch.has_pretrained and facts.pretrained.get(config.arch, False)
        auto.update(arch=config.arch, image_size=max(arch.min_size, min(arch.native_size, 224)),
                    mode="fast" if (fast_ok and facts.device == "cpu") else "fine-tune")
        if not (arch.has_pretrained and facts.pretrained.get(config.arch)):
            auto["image_size"] = max(arch.min_size, 64 if facts.device == "cpu" else 128)
    filled = {k: (getattr(config, k) if getattr(config, k) is not None else v) for k, v in auto.items()}
    if filled["mode"] == "fast" and not (get_arch(filled["arch"]).has_pretrained and config.pretrained
                                         and facts.pretrained.get(filled["arch"])):
        filled["mode"] = "fine-tune"  # a frozen random backbone learns nothing
    measured_on_cpu = facts.device == "cpu" and filled["arch"] == SMALL_CNN  # benchmarks/bench_training.py
    if config.channels_last is None:
        filled["channels_last"] = facts.device == "cuda" or measured_on_cpu
    if config.ema is None:
        filled["ema"] = filled["mode"] == "fine-tune"
    if config.stop_when_learned is None:  # a patience the user chose is kept to the letter
        filled["stop_when_learned"] = config.patience is None
    if config.precise_bn is None:  # the running averages lag the weights: BENCHMARKS.md, "Auto"
        filled["precise_bn"] = filled["mode"] == "fine-tune"
    if config.restart_stalled is None:  # a from-scratch start can fail to take off (BENCHMARKS.md, "Auto")
        filled["restart_stalled"] = filled["mode"] == "fine-tune" and not (
            get_arch(filled["arch"]).has_pretrained and config.pretrained and facts.pretrained.get(filled["arch"]))
    # progressive resizing is part of Auto's budget (not of epochs a person chose), measured with the small CNN from
    # scratch on the CPU (BENCHMARKS.md, "Progressive resizing": first starts on tiny sets, every second start)
    own_budget = config.epochs is None and measured_on_cpu and filled["mode"] == "fine-tune"
    if config.progressive is None:
        filled["progressive"] = own_budget and bool(filled.get("progressive"))
    if config.restart_progressive is None:
        filled["restart_progressive"] = own_budget and bool(filled.get("restart_stalled", config.restart_stalled))
    if config.amp is None:
        filled["amp"] = facts.device == "cuda" or (measured_on_cpu and facts.cpu_bf16)
    resolved = replace(config, **filled)
    resolved.check()
    return resolved, explain(resolved, facts)


def explain(c: TrainConfig, f: Facts) -> str:
    arch = get_arch(c.arch)
    how = ("reusing ImageNet features and training only the last layer (fast)" if c.mode == "fast" else
           "fine-tuning ImageNet weights" if (arch.has_pretrained and c.pretrained and f.pretrained.get(c.arch))
           else "training from scratch")
    device = {"cuda": "the GPU", "mps": "the Apple GPU"}.get(f.device, "the CPU")
    extra = ", balancing the classes" if c.sampler == "weighted" else ""
    low = low_res_side(c)
    size = f"{c.image_size} px" + (f" (the first half of training at {low} px)" if low else "")
    return (f"{arch.title} at {size} on {device}, {how}{extra}; up to {c.epochs} epochs, "
            f"stopping early when it stops improving.")
