"""A course in Voila + Chromium: a teacher makes a class, adds three students from a roster (their one-time
passwords downloaded once), shares a dataset and sets an assignment with a hidden test set; each student signs in
with their one-time password, must choose their own, trains (or brings a model) and submits; the board orders them
as their scores recomputed here by hand say; after the teacher closes the assignment the final board opens and the
grades download."""

import csv
import io

import pytest

from nocode_widgets import datasets as D
from nocode_widgets.accounts import auth
from nocode_widgets.classroom import assignments as A
from nocode_widgets.runs import jobs
from nocode_widgets.workspace import Workspace
from tests.classroom.conftest import hidden_zip
from tests.classroom.test_assignments import by_hand, swapped_copy_run
from tests.e2e.conftest import shot, sign_in_at_door
from tests.e2e.test_app_e2e import upload_files
from tests.images import class_files, make_zip

pytestmark = pytest.mark.e2e


def open_section(panel, title: str) -> None:
    """Open a collapsible section (its button reads "▸ title" closed, "▾ title" open)."""
    closed = panel.get_by_role("button", name=f"▸ {title}", exact=True)
    if closed.count():
        closed.click()
    panel.get_by_role("button", name=f"▾ {title}", exact=True).wait_for()


def choose(select, contains: str) -> None:
    """Pick the option whose text contains `contains` in an ipywidgets dropdown (it shows spaces as no-break ones)."""
    select.locator("option").first.wait_for(state="attached")
    texts = [t.replace("\xa0", " ") for t in select.locator("option").all_inner_texts()]
    index = next((i for i, t in enumerate(texts) if contains in t), None)
    assert index is not None, f"no option with {contains!r} in {texts}"
    select.select_option(index=index)


def first_sign_in(browser, url: str, username: str, one_time: str):
    """A roster's student: the one-time password leads to "Choose your password", then to the app."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(one_time)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Choose your password").wait_for()
    page.get_by_label("New password", exact=True).fill(f"{username}-own-pw")
    page.get_by_label("Repeat the new password").fill(f"{username}-own-pw")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("button", name="Log out").wait_for()
    return context, page


def class_tab(page):
    page.get_by_role("tab", name="Class").click()
    panel = page.locator(".nocode-class:visible")
    panel.wait_for()
    return panel


def test_a_teacher_and_three_students_run_an_assignment(server, page, browser, tmp_path):
    ws = Workspace.open(server["data_dir"])
    admin = auth.sign_up(ws, "admin", "a-good-password")
    teacher = auth.create_account(ws, admin, "teacher", "a-good-password", role="teacher")
    D.import_archive(ws, teacher, io.BytesIO(make_zip(class_files(("red", "blue"), 10, size=(40, 30)))), name="Colours")
    (tmp_path / "roster.csv").write_text("name\nAda Lovelace\nAlan Turing\nGrace Hopper\n")
    (tmp_path / "hidden.zip").write_bytes(hidden_zip(per_class=6))

    # The teacher: a class, a roster, a shared dataset, an assignment
    sign_in_at_door(page, server["url"], "teacher")
    panel = class_tab(page)
    open_section(panel, "New class")
    panel.get_by_label("Class name").fill("Biology 1")
    panel.get_by_role("button", name="Create class").click()
    page.get_by_text("Created Biology 1").wait_for()
    open_section(panel, "Students")
    upload_files(page, ".nocode-class:visible", "Add students from a CSV of names", [str(tmp_path / "roster.csv")])
    page.get_by_text("Added 3 students").wait_for()
    with page.expect_download() as download:
        panel.get_by_role("button", name="Download their one-time passwords").click()
    download.value.save_as(tmp_path / "passwords.csv")
    accounts = {row["name"]: row for row in csv.DictReader((tmp_path / "passwords.csv").open())}
    assert set(accounts) == {"Ada Lovelace", "Alan Turing", "Grace Hopper"}
    panel.get_by_role("button", name="Download their one-time passwords").wait_for(state="hidden")  # once only
    open_section(panel, "Share a dataset")
    choose(panel.get_by_label("My dataset", exact=True), "Colours")
    panel.get_by_role("button", name="Share with the class").click()
    page.get_by_text("Shared: the class sees it").wait_for()
    open_section(panel, "New assignment")
    panel.get_by_label("Title", exact=True).fill("Colours")
    choose(panel.get_by_label("Dataset", exact=True), "(shared)")
    panel.get_by_label("Metric", exact=True).select_option(label="accuracy")
    upload_files(page, ".nocode-class:visible", "Upload the hidden test set (zip of class folders) to create it",
                 [str(tmp_path / "hidden.zip")])
    page.get_by_text("with 12 hidden pictures").wait_for(timeout=120_000)
    shot(page, "class-teacher")

    work = A.list_assignments(ws, teacher, auth.find_user(ws, "ada.lovelace").classes[0])[0]
    # Grace brings a model of her own: trained on her copy, with every label swapped (the board's last)
    grace = auth.find_user(ws, "grace.hopper")
    swapped = swapped_copy_run(ws, auth.User.from_doc(ws.store.get("users", grace.id)), work)

    runs = {}
    for name in ("Ada Lovelace", "Alan Turing", "Grace Hopper"):
        context, student = first_sign_in(browser, server["url"], accounts[name]["username"],
                                         accounts[name]["one-time password"])
        try:
            user = auth.find_user(ws, accounts[name]["username"])
            if name != "Grace Hopper":  # Ada and Alan train on the shared dataset in the page
                student.get_by_role("tab", name="Train").click()
                train = student.locator(".nocode-train")
                choose(train.get_by_label("Dataset", exact=True), "shared with your class")
                train.get_by_role("button", name="Start training").click()
                train.get_by_text("Finished").wait_for(timeout=240_000)
            runs[name] = jobs.runs(ws, user)[0]
            panel = class_tab(student)
            panel.get_by_text("Colours").first.wait_for()
            choose(panel.get_by_label("My run", exact=True), runs[name].id)
            panel.get_by_role("button", name="Submit").click()
            student.get_by_text("Scored:").wait_for(timeout=120_000)
            assert f"{name} (you)" in panel.inner_text()
            assert "h0.jpg" not in student.content() and "Traceback" not in student.content()
        finally:
            context.close()
    assert runs["Grace Hopper"].id == swapped.id

    # The board: in the order of the scores recomputed by hand
    expected = {name: by_hand(ws, work, run)["public"] for name, run in runs.items()}
    page.reload()
    page.get_by_role("button", name="Log out").wait_for()
    panel = class_tab(page)
    table = panel.locator("table").filter(has_text="rank").last
    table.wait_for()
    rows = [r.split("\t") for r in table.inner_text().splitlines()[1:]]
    shown = [(int(r[0]), r[1], float(r[2])) for r in rows]
    assert [n for _, n, _ in shown] == sorted(expected, key=lambda n: -expected[n])
    for rank, name, score in shown:
        assert score == pytest.approx(expected[name], abs=5e-4)
        assert rank == 1 + sum(v > expected[name] for v in expected.values())
    assert shown[-1][1] == "Grace Hopper" and shown[-1][2] < shown[0][2]
    shot(page, "class-public-board")

    # The deadline: the teacher closes it, the final board opens, the grades download
    open_section(panel, "This assignment")
    panel.get_by_role("button", name="Close now").click()
    page.get_by_role("button", name="Yes, close it").click()
    page.get_by_text("Closed: the final board is open").wait_for()
    panel.get_by_role("button", name="Final board").click()
    panel.get_by_text("Final board (accuracy on the final half").wait_for()
    shot(page, "class-final-board")
    with page.expect_download() as download:
        panel.get_by_role("button", name="Download grades (CSV)").click()
    download.value.save_as(tmp_path / "grades.csv")
    grades = {row["name"]: row for row in csv.DictReader((tmp_path / "grades.csv").open())}
    finals = {name: by_hand(ws, work, run)["final"] for name, run in runs.items()}
    for name, row in grades.items():
        assert float(row["final accuracy"]) == pytest.approx(finals[name], abs=5e-5) and row["submissions"] == "1"
    assert grades["Grace Hopper"]["final rank"] == "3"
    assert "Traceback" not in page.content()
