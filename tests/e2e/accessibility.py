"""Accessibility checks the browser tests share: axe-core (from the npm registry, installed by ./scripts/test into
node_modules/, never fetched from a CDN) injected into the page, and opening every collapsed section so that
axe also sees what is inside them."""

from __future__ import annotations

import pytest

from tests.conftest import REPO

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def axe_violations(page, include: str | None = None) -> list[dict]:
    """axe-core's violations of impact serious or critical on the page (or inside the elements matching
    `include`), each with its rule, help text and up to five of its elements."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run ./scripts/test (it installs the npm package into node_modules/).")
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async ([include, serious]) => {
             const result = await axe.run(include ? { include: [[include]] } : document, { resultTypes: ["violations"] });
             return result.violations.filter((v) => serious.includes(v.impact)).map((v) => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "").slice(0, 200)) }));
           }""", [include, list(SERIOUS)])


def open_every_section(page, scope: str) -> int:
    """Click every closed section's title under `scope` (inner ones appear as outer ones open); how many."""
    opened = 0
    for _ in range(40):
        closed = page.locator(f"{scope} .nocode-card-toggle:visible", has_text="▸")
        if closed.count() == 0:
            return opened
        closed.first.click()
        page.wait_for_timeout(250)
        opened += 1
    return opened


def in_first_view(page, locator) -> bool:
    """The element is entirely inside the window with the page scrolled to the top."""
    page.evaluate("() => window.scrollTo(0, 0)")
    box, view = locator.bounding_box(), page.viewport_size
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= view["height"]
