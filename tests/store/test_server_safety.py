"""Files and the server (issue: shared service): only picture formats are decoded, and the page
kernels one server runs are capped."""

import io

import pytest
from PIL import Image

from nocode_widgets import datasets as D
from nocode_widgets.datasets.images import ImageRejected, normalize_image
from nocode_widgets.accounts import auth
from nocode_widgets.workspace import Workspace
from tests.e2e.conftest import WebClient, voila_server
from tests.images import make_zip, picture

# PostScript: PIL would hand this to Ghostscript to draw it. It must never get that far.
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n"


def test_an_uploaded_eps_is_refused_before_any_decoder_runs():
    assert Image.open(io.BytesIO(EPS)).format == "EPS"  # what a plain Image.open would go on with
    with pytest.raises(ImageRejected, match="not a picture this app can read"):
        normalize_image(EPS, 512, 10_000_000)


def test_an_eps_in_a_zip_is_skipped_with_its_reason_and_the_rest_kept(ws, alice):
    files = {"cats/a.jpg": picture(seed=1), "cats/b.eps": EPS, "dogs/c.jpg": picture(seed=2),
             "dogs/d.png": picture(seed=3, fmt="PNG")}
    report = D.import_archive(ws, alice, io.BytesIO(make_zip(files)), name="pets")
    assert report.accepted == 3 and [(s.name, s.reason) for s in report.skipped] == [
        ("cats/b.eps", "not a picture this app can read (JPEG, PNG, GIF, BMP, WebP, TIFF)")]


@pytest.mark.slow
def test_a_page_opened_beyond_the_cap_gets_a_plain_server_full_answer(tmp_path):
    auth.sign_up(Workspace.open(tmp_path / "data"), "pat", "a-good-password")
    with voila_server(tmp_path / "data", NOCODE_MAX_PAGES="1") as url:
        client = WebClient(url)
        assert client.sign_in("pat")[0] == 302
        assert client.request("GET", "/")[0] == 200  # the first page gets its kernel
        status, _, body = client.request("GET", "/")
        assert status == 503 and "The server is full right now. Please try again in a few minutes." in body
