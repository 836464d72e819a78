"""The whole flow with the keyboard alone, in Voila + Chromium: sign in, create a dataset, import a zip, train,
test a picture, pressing only Tab, Shift+Tab, Enter, Space and the arrow keys (and typing text). The browser's
own file dialog, which Enter or Space opens, is answered by the test. Every control reached shows where the focus is."""

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from nocode_widgets.accounts import auth
from nocode_widgets.workspace import Workspace
from tests.e2e.conftest import shot
from tests.images import COLORS, class_files, make_zip, picture

pytestmark = pytest.mark.e2e
FOCUSED = """() => { const e = document.activeElement;
  const name = (e.getAttribute("aria-label") || e.getAttribute("placeholder") || e.textContent || "").trim();
  const style = getComputedStyle(e);
  return { name, role: e.getAttribute("role") || e.tagName.toLowerCase(),
           outlined: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0 }; }"""


def tab_to(page, name: str, role: str | None = None, backwards: bool = False, limit: int = 120) -> dict:
    """Press Tab (Shift+Tab) until the focused element's name starts with `name` (and has `role`)."""
    passed = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused = page.evaluate(FOCUSED)
        if focused["name"].lstrip("▸▾ ").startswith(name) and (role is None or focused["role"] == role):
            assert focused["outlined"], f"{name}: the focus is not visible"
            return focused
        passed.append(f"{focused['role']}:{focused['name'][:30]}")
    pytest.fail(f"Tab never reached {name!r}; it passed {passed[:40]}")


def choose_file(page, key: str, path) -> None:
    """Press `key` on the focused "choose" button and answer the file dialog it opens. In headless Chromium
    about one press in five opens no dialog that Playwright sees (mouse clicks always do); a person would press
    again, and so does this, at most three times."""
    for attempt in range(3):
        try:
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.keyboard.press(key)
            chooser.value.set_files(str(path))
            return
        except PlaywrightTimeout:
            assert attempt < 2, f"{key} never opened the file dialog"


def open_tab(page, name: str) -> None:
    """From wherever the focus is: Shift+Tab back to the tab bar (its open tab), arrows to the tab, Enter."""
    tab_to(page, "", role="tab", backwards=True)
    for key in ["ArrowRight"] * 5 + ["ArrowLeft"] * 5:
        if page.evaluate(FOCUSED)["name"] == name:
            break
        page.keyboard.press(key)
    assert page.evaluate(FOCUSED)["name"] == name
    page.keyboard.press("Enter")
    page.get_by_role("tab", name=name, selected=True).wait_for()


def test_sign_in_create_import_train_and_test_with_the_keyboard_alone(server, page, tmp_path):
    auth.sign_up(Workspace.open(server["data_dir"]), "keys", "a-good-password")
    (tmp_path / "colours.zip").write_bytes(make_zip(class_files(("red", "blue"), 10, size=(40, 30))))
    (tmp_path / "new.jpg").write_bytes(picture(COLORS["red"], size=(40, 30), seed=4242))
    page.set_viewport_size({"width": 1280, "height": 720})

    page.goto(server["url"] + "/")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'username'")  # autofocus
    page.keyboard.type("keys")
    page.keyboard.press("Tab")
    page.keyboard.type("a-good-password")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Log out").wait_for()

    page.locator(".nocode-datasets").wait_for()
    tab_to(page, "name of a new dataset")
    page.keyboard.type("Keys")
    tab_to(page, "classes, comma separated")
    page.keyboard.type("red, blue")
    tab_to(page, "Create dataset")
    page.keyboard.press("Enter")
    page.get_by_text("Created Keys").wait_for()

    tab_to(page, "A zip of class folders")
    page.keyboard.press("Space")
    tab_to(page, "Import a zip of class folders")
    choose_file(page, "Enter", tmp_path / "colours.zip")
    page.get_by_text("20 pictures added").first.wait_for(timeout=120_000)
    shot(page, "keyboard-01-dataset")

    open_tab(page, "Train")
    tab_to(page, "Start training")
    page.keyboard.press("Enter")
    page.locator(".nocode-train").get_by_text("Finished").wait_for(timeout=240_000)
    shot(page, "keyboard-02-trained")

    open_tab(page, "Test")
    tab_to(page, "Choose pictures to test")
    choose_file(page, "Space", tmp_path / "new.jpg")
    answer = page.locator(".nocode-test .nocode-prediction")
    answer.wait_for(timeout=120_000)
    assert "new.jpg" in answer.inner_text() and "probability" in answer.inner_text()
    shot(page, "keyboard-03-tested")
