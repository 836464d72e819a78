import pytest
import torch

from nocode_widgets.models import zoo

HEAVY = {"vgg16", "alexnet", "efficientnet_v2_m", "resnet152", "densenet161", "inception_v3"}


@pytest.mark.parametrize("name", sorted(zoo.ARCHS))
def test_every_architecture_builds_and_trains_one_step_at_its_minimum_size(name):
    arch = zoo.ARCHS[name]
    torch.manual_seed(0)
    model = zoo.build_model(name, num_classes=3)
    assert zoo.head(model)[2].out_features == 3
    x = torch.randn(2, 3, arch.min_size, arch.min_size)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 2]))
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 3)


@pytest.mark.parametrize("name", sorted(set(zoo.ARCHS) - {zoo.SMALL_CNN}))
def test_imagenet_parameter_counts_match_torchvision(name):
    with torch.device("meta"):
        model = zoo.build_model(name, 3, imagenet_head=True)
    expected = zoo.ARCHS[name].imagenet_params
    aux = 3_326_696 if name == "inception_v3" else 0  # the auxiliary head we drop
    assert zoo.param_count(model) == expected - aux


@pytest.mark.parametrize("name", sorted(set(zoo.ARCHS) - HEAVY))
def test_weights_copied_as_a_plain_dict_load_back_into_every_architecture(name):
    """What a run does with its kept weights (a CPU copy, a file read back): MNASNet refused them once."""
    torch.manual_seed(0)
    model = zoo.build_model(name, 3).eval()
    copied = {k: v.clone() for k, v in model.state_dict().items()}  # no version records
    again = zoo.build_model(name, 3).eval()
    zoo.load_weights(again, copied)
    x = torch.randn(1, 3, 32 if name != "alexnet" else 63, 32 if name != "alexnet" else 63)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))


def test_every_entry_has_a_plain_description_and_sizes():
    for arch in zoo.ARCHS.values():
        assert arch.description and arch.min_size <= arch.native_size


def test_pretrained_loads_from_a_users_file(tmp_path):
    source = zoo.build_model("mobilenet_v3_small", 3, imagenet_head=True)
    torch.save(source.state_dict(), tmp_path / "w.pth")
    target = zoo.build_model("mobilenet_v3_small", 3, imagenet_head=True)
    result = zoo.load_pretrained(target, "mobilenet_v3_small", weights_file=tmp_path / "w.pth", allow_download=False)
    assert result.loaded and result.source == "file"
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))


def test_pretrained_loads_from_the_torch_cache(hub):
    path = zoo.cached_weights_path("shufflenet_v2_x1_0")
    assert path.is_relative_to(hub)
    path.parent.mkdir(parents=True)
    source = zoo.build_model("shufflenet_v2_x1_0", 3, imagenet_head=True)
    torch.save(source.state_dict(), path)
    assert zoo.pretrained_available("shufflenet_v2_x1_0", allow_download=False)
    target = zoo.build_model("shufflenet_v2_x1_0", 3, imagenet_head=True)
    assert zoo.load_pretrained(target, "shufflenet_v2_x1_0", allow_download=False).source == "cache"
    assert torch.equal(source.fc.weight, target.fc.weight)


def test_weights_for_another_architecture_are_refused_plainly(tmp_path):
    torch.save(zoo.build_model("resnet18", 3, imagenet_head=True).state_dict(), tmp_path / "w.pth")
    model = zoo.build_model("mobilenet_v2", 3, imagenet_head=True)
    result = zoo.load_pretrained(model, "mobilenet_v2", weights_file=tmp_path / "w.pth", allow_download=False)
    assert not result.loaded and "different architecture" in result.notice and "from scratch" in result.notice


def test_offline_without_cache_says_so_and_does_not_raise(hub):
    model = zoo.build_model("mnasnet0_5", 3, imagenet_head=True)
    result = zoo.load_pretrained(model, "mnasnet0_5", allow_download=False)
    assert not result.loaded and "not available offline" in result.notice
    assert not zoo.pretrained_available("mnasnet0_5", allow_download=False)


def test_replace_head_sets_the_class_count():
    model = zoo.replace_head(zoo.build_model("resnet18", 3, imagenet_head=True), 7).eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 7)
