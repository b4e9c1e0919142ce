"""What the reader sees: every notebook run in JupyterLab in a real Chromium.

nbval never renders a widget, so "Error displaying widget: model not found", a blank output or
Japanese shown as boxes would pass it unseen. Here each notebook is opened, run with Run All, and
checked in the page; each slider is moved with the keyboard and must change its readout and figure.
Screenshots go to build/screenshots/.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from conftest import BUILD, ROOT, load, notebook_paths

pytestmark = pytest.mark.browser

# Debian's chromium; CHROMIUM may name another Chromium or Chrome.
CHROMIUM = os.environ.get("CHROMIUM") or next(
    (path for name in ("chromium", "chromium-browser", "google-chrome")
     if (path := shutil.which(name))), "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
NOTEBOOKS = notebook_paths()
SHOTS = BUILD / "screenshots"
FIXTURES = BUILD / "browser-fixtures"
RUN_TIMEOUT_S = 240
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CJK_FONT = re.compile(r"IPA|CJK|Source Han|Hiragino|Yu Gothic|Meiryo|MS P?Gothic|Takao|VL Gothic|"
                      r"Droid Sans Fallback|WenQuanYi|Sazanami|Kochi", re.IGNORECASE)


def unavailable(reason):
    """No browser: a failure in CI, a loud skip on a developer's machine."""
    message = (f"BROWSER TESTS NOT RUN: {reason}. Install Chromium and the Japanese font with "
               "`apt-get install chromium fonts-ipaexfont-gothic` (and `pip install playwright`).")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed")
    if not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        context.close()
        lab.shutdown_kernels()


# --- driving JupyterLab ---------------------------------------------------------------------

STATUS_JS = "() => document.querySelector('#jp-main-statusbar')?.innerText ?? ''"

PROMPTS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')]
    .map(c => c.querySelector('.jp-InputArea-prompt')?.innerText ?? '')"""


class NotebookError(AssertionError):
    pass


def open_notebook(page, lab, relative: str):
    page.goto(lab.url(f"lab/tree/{relative}", "reset"))  # reset: a fresh layout, this notebook only
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    deadline = time.monotonic() + 90
    while "Idle" not in page.evaluate(STATUS_JS):
        if time.monotonic() > deadline:
            raise NotebookError(f"{relative}: the kernel never became Idle "
                                f"(status bar: {page.evaluate(STATUS_JS)!r})")
        time.sleep(0.2)


def run_all(page, relative: str, timeout_s: float = RUN_TIMEOUT_S):
    """Run → Run All Cells, as a reader would, then wait until every code cell has run."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    deadline = time.monotonic() + timeout_s
    while True:
        prompts = page.evaluate(PROMPTS_JS)
        status = page.evaluate(STATUS_JS)
        if re.search(r"\b(Dead|Unknown|Disconnected)\b", status) or page.locator(
                ".jp-Dialog", has_text=re.compile("Kernel (Restarting|Died|Dead)")).count():
            raise NotebookError(f"{relative}: the kernel died while running (status: {status!r})")
        if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts) and "Idle" in status:
            return
        if time.monotonic() > deadline:
            waiting = sum(p != "" and "*" in p for p in prompts)
            raise NotebookError(f"{relative}: not finished after {timeout_s:.0f} s; "
                                f"{waiting} cell(s) still running or queued — does a cell hang?")
        time.sleep(0.25)


def problems(page, settle_s: float = 20) -> list[str]:
    """Everything on the page a reader should never see (after widgets finish loading)."""
    found = []
    loading = page.locator(".jp-Notebook").first.get_by_text("Loading widget...")
    deadline = time.monotonic() + settle_s
    while loading.count() and time.monotonic() < deadline:
        time.sleep(0.2)
    if loading.count():
        found.append(f"a widget still says 'Loading widget...' after {settle_s:.0f} s")
    stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    for i in range(stderr.count()):
        found.append("error or warning output: " + stderr.nth(i).inner_text()[:300])
    broken = page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea img')]
        .filter(img => !(img.complete && img.naturalWidth > 0)).length""")
    if broken:
        found.append(f"{broken} picture(s) in the outputs did not load")
    text = page.locator(".jp-Notebook").first.inner_text()
    for bad in ("Error displaying widget", "Traceback (most recent call last)", "missing from font"):
        if bad in text:
            found.append(f"{bad!r} shown in the notebook")
    return found


def platform_fonts(page, selector: str) -> list[dict]:
    """The fonts Chromium really used to draw an element's text (from the DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


def expected_widgets(path: Path) -> int:
    return sum(WIDGET_MIME in out.get("data", {}) for cell in load(path)["cells"]
               if cell["cell_type"] == "code" for out in cell["outputs"])


def rendered_widgets(page) -> int:
    """Widget views drawn in output areas (JupyterLab gives them no mime-type attribute)."""
    return page.locator(".jp-OutputArea-output > .jupyter-widgets").count()


def wait_until(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise NotebookError(f"{what} (waited {timeout_s:.0f} s)")
        time.sleep(0.2)


def move_slider(slider, label: str, figure_timeout_s: float = 30):
    """Move one slider a step with the keyboard; its readout and its figure must change."""
    output = slider.locator("xpath=ancestor::div[contains(@class,'jp-OutputArea')][1]")
    figure = output.locator("img, canvas").first  # re-found each time: a redraw may replace it
    if not output.locator("img, canvas").count():
        raise NotebookError(f"{label}: no figure beside the slider")
    readout = slider.locator(".widget-readout")
    handle = slider.locator(".noUi-handle").first
    before_text, before_png = readout.inner_text(), figure.screenshot()
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    key = "ArrowLeft" if at_max else "ArrowRight"
    handle.focus()
    handle.press(key)
    wait_until(lambda: readout.inner_text() != before_text, 10,
               f"{label}: the readout did not change after {key}")
    wait_until(lambda: figure.screenshot() != before_png, figure_timeout_s,
               f"{label}: the figure did not change after {key}")


def move_sliders(page, relative: str) -> int:
    """Move every slider of the notebook; returns how many there were."""
    sliders = page.locator(".jp-Notebook .widget-slider")
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        name = slider.locator(".widget-label").first.inner_text() or f"slider {i}"
        move_slider(slider, f"{relative}: {name}")
    return sliders.count()


def check_notebook(page, lab, relative: str, path: Path) -> None:
    """Open, run all, check what is shown and move every slider."""
    open_notebook(page, lab, relative)
    run_all(page, relative)
    found = problems(page)
    if found:
        raise NotebookError(f"{relative}:\n- " + "\n- ".join(found))
    want, got = expected_widgets(path), rendered_widgets(page)
    if got < want:
        raise NotebookError(f"{relative}: {want} widget(s) expected, {got} rendered")
    move_sliders(page, relative)
    SHOTS.mkdir(parents=True, exist_ok=True)
    # the picture shows the notebook's first slider (after it was moved), else its first figure, else its top
    for selector in (".jp-Notebook .widget-slider", ".jp-Notebook .jp-RenderedImage", ".jp-Notebook .jp-Cell"):
        found = page.locator(selector)
        if found.count():
            found.first.evaluate("node => node.scrollIntoView({block: 'start'})")
            break
    page.screenshot(path=str(SHOTS / f"{path.stem}.png"))


# --- the series ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_in_jupyterlab(page, lab, path):
    before = path.read_bytes()
    check_notebook(page, lab, f"notebooks/{path.name}", path)
    # the Japanese title is drawn with a Japanese font, not as boxes
    fonts = platform_fonts(page, ".jp-MarkdownOutput h1")
    assert any(CJK_FONT.search(f["familyName"]) and f["glyphCount"] > 0 for f in fonts), fonts
    assert path.read_bytes() == before, "the browser run must not save over the notebook"


# --- the checks themselves, on small notebooks made for the purpose ---------------------------

SLIDER_CELL = """
import ipywidgets as widgets
from IPython.display import Image

def picture(n):
    import io
    from matplotlib.figure import Figure
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().bar(range(n), range(n))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()

slider = widgets.IntSlider(value=3, min=1, max=10, description="エポック / epochs",
                           continuous_update=False)
image = widgets.Image(value=picture(slider.value), format="png")
slider.observe(lambda change: setattr(image, "value", picture(change["new"])), "value")
widgets.VBox([slider, image])
"""

BROKEN_WIDGET_CELL = """
from IPython.display import display
# a widget view whose model the kernel never made: what a mismatched extension shows
display({"application/vnd.jupyter.widget-view+json":
         {"model_id": "0123456789abcdef", "version_major": 2, "version_minor": 0}}, raw=True)
# and a picture that cannot be drawn: a blank figure for the reader
display({"image/png": "bm90IGEgcGljdHVyZQ=="}, raw=True)
"""

DEAD_KERNEL_CELL = "import os\nos._exit(1)"

HANGING_CELL = "import time\ntime.sleep(600)"


def fixture_notebook(name: str, *sources: str) -> tuple[str, Path]:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path = FIXTURES / f"{name}.ipynb"
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 確認用 / check"),
        *(nbformat.v4.new_code_cell(s.strip()) for s in sources)])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                   "language": "python"}
    nbformat.write(book, path)
    return str(path.relative_to(ROOT)), path


def test_a_slider_is_moved_and_its_figure_changes(page, lab):
    relative, path = fixture_notebook("slider", SLIDER_CELL)
    open_notebook(page, lab, relative)
    run_all(page, relative)
    assert problems(page) == []
    assert rendered_widgets(page) == 1
    readout = page.locator(".widget-readout").first
    assert readout.inner_text() == "3"
    assert move_sliders(page, relative) == 1
    assert readout.inner_text() == "4"


def test_a_slider_whose_figure_stays_the_same_fails(page, lab):
    unwired = SLIDER_CELL.replace("slider.observe(", "# slider.observe(")
    relative, _ = fixture_notebook("unwired_slider", unwired)
    open_notebook(page, lab, relative)
    run_all(page, relative)
    slider = page.locator(".widget-slider").first
    with pytest.raises(NotebookError, match="the figure did not change after ArrowRight"):
        move_slider(slider, "unwired", figure_timeout_s=3)


def test_a_broken_widget_and_picture_fail_the_check(page, lab):
    relative, path = fixture_notebook("broken_widget", BROKEN_WIDGET_CELL)
    open_notebook(page, lab, relative)
    run_all(page, relative)
    found = problems(page)
    assert any("Error displaying widget" in p for p in found), found
    assert any("1 picture(s) in the outputs did not load" in p for p in found), found


def test_a_dying_kernel_fails_with_a_clear_message(page, lab):
    relative, _ = fixture_notebook("dead_kernel", DEAD_KERNEL_CELL)
    open_notebook(page, lab, relative)
    with pytest.raises(NotebookError, match="kernel died|not finished"):
        run_all(page, relative, timeout_s=30)


def test_a_hanging_notebook_fails_with_a_clear_message(page, lab):
    relative, _ = fixture_notebook("hanging", HANGING_CELL)
    open_notebook(page, lab, relative)
    with pytest.raises(NotebookError, match="not finished after 5 s; 1 cell"):
        run_all(page, relative, timeout_s=5)


STEPPER_CELL = """
import helpers
from helpers.lessons import overview as lesson

helpers.setup()
lesson.stepper()
"""


def test_the_stepper_buttons_run_one_step_each_and_redraw(page, lab):
    relative, _ = fixture_notebook("stepper", STEPPER_CELL)
    open_notebook(page, lab, relative)
    run_all(page, relative)
    assert problems(page) == []
    assert rendered_widgets(page) == 1
    output = page.locator(".jp-OutputArea-output > .jupyter-widgets").first
    figure, log = output.locator("img").first, output.locator("pre").first
    buttons = output.locator("button")
    assert buttons.count() == 3
    before = figure.screenshot()
    for step in range(1, 6):  # one click, one more step in the log, the figure redrawn
        buttons.nth(0).click()
        wait_until(lambda step=step: f"{step}. " in log.inner_text(), 20, f"step {step} did not appear")
    wait_until(lambda: figure.screenshot() != before, 20, "the cycle figure did not change")
    assert "step() -> new weights" in log.inner_text()
    buttons.nth(1).click()  # to the end of the epoch
    wait_until(lambda: "batch 2/2" in log.inner_text(), 20, "the epoch did not run to its end")
    buttons.nth(2).click()  # reset
    wait_until(lambda: log.inner_text().strip() == "", 20, "reset did not clear the log")
