"""The built site in a real browser: Debian's headless Chromium driven by Playwright for Python, against
a local HTTP server. Every page, at desktop (1280 px) and phone (390 px) widths: the console stays
clean, no page is wider than the viewport, every image loads, every internal link resolves, every
table header has a tooltip and every sortable column sorts. Tables hold the expected rows and
registry text is shown and never run. Screenshots of the index, the DP task page, the DP-SGD
algorithm page and the privacy page at both widths are saved to test-artifacts/.

Needs /usr/bin/chromium (CI: `apt-get update && apt-get install -y chromium`); skipped without it.
"""

import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
from test_leaderboard import build, fabricated_records, write_store, xss_registry

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} not installed (apt-get install -y chromium)",
)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(site: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="module")
def served_reference(tmp_path_factory):
    """Base URL of the site built from the committed reference records (`leaderboard/reference`)."""
    from aca_bench.leaderboard.build import build_site

    site = tmp_path_factory.mktemp("reference") / "site"
    build_site(str(Path(__file__).resolve().parents[1] / "leaderboard" / "reference"), site)
    server = _serve(site)
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Base URL of the site built from the fabricated store, served on 127.0.0.1 at a free port."""
    root = tmp_path_factory.mktemp("browser")
    site = build(write_store(root / "store", fabricated_records()), root / "site", xss_registry(root / "reg"))
    server = _serve(site)
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


WIDTHS = (1280, 390)


def _watch(pg) -> None:
    """Record console errors and warnings, page errors, failed requests and dialogs in pg.problems."""
    pg.problems = []
    pg.on(
        "console",
        lambda m: m.type in ("error", "warning") and pg.problems.append(f"console {m.type}: {m.text}"),
    )
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("requestfailed", lambda r: pg.problems.append(f"request failed: {r.url}"))
    pg.on("response", lambda r: r.status >= 400 and pg.problems.append(f"HTTP {r.status}: {r.url}"))
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def any_page(browser, request):
    """A watched page at each tested viewport width."""
    context = browser.new_context(viewport={"width": request.param, "height": 900})
    pg = context.new_page()
    _watch(pg)
    pg.width = request.param
    yield pg
    context.close()


@pytest.fixture
def page(browser):
    """A watched page at desktop width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    _watch(pg)
    yield pg
    context.close()


def _rows(page, table_id):
    return page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        "rows => rows.map(r => [r.dataset.config, ...Array.from(r.cells).map(c => c.innerText.trim())])",
    )


def test_index_tables_sorting_and_screenshot(page, served):
    page.goto(served + "index.html")
    page.wait_for_load_state("load")
    mnist = _rows(page, "results-mnist_patch")
    birds = _rows(page, "results-waterbirds")
    # columns: [config], rank, configuration, alpha*, algorithm, S0, clean, epsilon, seeds, runs, provenance
    assert [r[0] for r in mnist][:2] == ["dpsgd(max_grad_norm=1.0, target_epsilon=8.0)", "erm"]
    assert [r[1] for r in mnist] == ["1", "2", "3", "4", "5"]
    assert len(mnist) == 5 and len(birds) == 2
    nr = next(r for r in mnist if r[0] == "dpsgd(max_grad_norm=0.5, target_epsilon=1.0)")
    assert nr[3] == "not reached (> 0.1)" and nr[7] == "0.98" and nr[8:10] == ["2", "8"]
    assert "0123456789ab" in nr[10] and "0123456789abcdef0123" not in nr[10] and "2026-01-01" in nr[10]
    erm = next(r for r in mnist if r[0] == "erm")
    assert erm[3].startswith("0.00") and "[" not in erm[3] and erm[5] == "0.020" and erm[7] == "\u2013"
    dro = next(r for r in birds if r[0] == "groupdro")
    assert dro[3].startswith("<= 0.001") and dro[7] == "0.810"
    headers = page.eval_on_selector_all("#results-waterbirds thead th", "ths => ths.map(t => t.innerText)")
    assert any("Worst-group" in h for h in headers) and not any("\u03b5" in h for h in headers)

    alpha = "#results-mnist_patch thead th:nth-child(3) button"
    page.click(alpha)  # ascending: reached first, not reached last
    order = [r[0] for r in _rows(page, "results-mnist_patch")]
    assert order[-1] == "dpsgd(max_grad_norm=0.5, target_epsilon=1.0)"
    page.click(alpha)  # descending: not reached first
    assert _rows(page, "results-mnist_patch")[0][0] == "dpsgd(max_grad_norm=0.5, target_epsilon=1.0)"
    assert page.get_attribute("#results-mnist_patch thead th:nth-child(3)", "aria-sort") == "descending"
    page.click("#results-mnist_patch thead th:nth-child(2) button")  # text column
    assert [r[0] for r in _rows(page, "results-mnist_patch")] == sorted(order)
    rank = "#results-mnist_patch thead th:nth-child(1) button"
    page.click(rank)
    assert [r[1] for r in _rows(page, "results-mnist_patch")] == ["1", "2", "3", "4", "5"]
    page.click(rank)
    assert [r[1] for r in _rows(page, "results-mnist_patch")] == ["5", "4", "3", "2", "1"]
    assert page.problems == []


# In the page: check every sortable table's every column. Click each header twice; after each click
# the column's keys (data-sort-value, else the text; numbers by Number) must be in order, empties last.
SORT_CHECK = """
() => {
  const bad = [];
  document.querySelectorAll("table.sortable").forEach((table, t) => {
    const ths = Array.from(table.tHead.rows[0].cells);
    ths.forEach((th, i) => {
      const button = th.querySelector("button");
      if (!button) { return; }
      const numeric = th.getAttribute("data-type") === "number";
      for (const click of [0, 1]) {
        button.click();
        const dir = th.getAttribute("aria-sort") === "ascending" ? 1 : -1;
        const keys = Array.from(table.tBodies[0].rows).map(r => {
          const c = r.cells[i];
          let raw = c.getAttribute("data-sort-value");
          if (raw === null) { raw = c.textContent.trim(); }
          if (!numeric) { return raw.toLowerCase(); }
          return raw === "" || isNaN(Number(raw)) ? null : Number(raw);
        });
        Array.from(table.tBodies[0].rows).forEach((r, j) => {
          const shown = r.cells[i] ? r.cells[i].textContent.trim() : "";
          if (numeric && (shown === "inf" || shown === "\u221e") && keys[j] === null) {
            bad.push([t, i, "inf has no sort key: it would sort last both ways"]);
          }
        });
        const present = keys.filter(k => k !== null);
        if (keys.slice(0, present.length).some(k => k === null)) { bad.push([t, i, "empty not last"]); }
        for (let j = 1; j < present.length; j++) {
          const a = present[j - 1], b = present[j];
          if ((dir > 0 && a > b) || (dir < 0 && a < b)) { bad.push([t, i, click, a, b]); break; }
        }
      }
    });
  });
  return bad;
}
"""


def test_every_page_at_desktop_and_phone_width(any_page, served):
    """Crawl from the index: every page answers 200 and fits the viewport (wide tables scroll in their
    own box), every internal href/src resolves (anchors too), every <img> decodes, every header has a
    tooltip, every sortable column sorts, and the console stays clean."""
    page = any_page
    seen, queue, checked = set(), [served + "index.html"], set()
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("load")
        width = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        assert width <= page.width, (url, width)
        broken = page.eval_on_selector_all(
            "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        assert broken == [], (url, broken)
        untitled = page.eval_on_selector_all("th", "ths => ths.filter(t => !t.title).map(t => t.innerText)")
        assert untitled == [], (url, untitled)
        assert page.evaluate(SORT_CHECK) == [], url
        refs = page.eval_on_selector_all(
            "a[href], link[href], img[src], script[src]",
            "els => els.map(e => e.getAttribute('href') || e.getAttribute('src'))",
        )
        for ref in refs:
            target = urljoin(url, ref)
            if urlparse(target).netloc != urlparse(served).netloc or ref.startswith("data:"):
                continue
            path = target.split("#")[0]
            if path.endswith(".html"):
                queue.append(path)
            elif path not in checked:
                checked.add(path)
                assert page.request.get(path).status == 200, (url, ref)
            if "#" in target and target.split("#")[1] and path.endswith(".html"):
                anchor = target.split("#")[1]
                checked.add(target)
                html = page.request.get(path).text()
                assert f'id="{anchor}"' in html, (url, ref)
    pages = {urlparse(u).path for u in seen}
    assert pages == {
        "/index.html",
        "/methodology.html",
        "/submit.html",
        "/privacy.html",
        "/tasks/mnist_patch.html",
        "/tasks/waterbirds.html",
        "/algorithms/erm.html",
        "/algorithms/dpsgd.html",
        "/algorithms/groupdro.html",
        "/algorithms/reweight.html",
        "/algorithms/jtt.html",
        "/algorithms/cvar_dro.html",
        "/algorithms/xss-algo.html",
    }
    assert any(p.endswith(".svg") for p in checked) and any(p.endswith("leaderboard.csv") for p in checked)
    ARTIFACTS.mkdir(exist_ok=True)
    for rel in ("index.html", "tasks/mnist_patch.html", "algorithms/dpsgd.html", "privacy.html"):
        page.goto(served + rel)
        page.wait_for_load_state("load")
        name = rel.replace("/", "-").removesuffix(".html")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{page.width}px.png"), full_page=True)
    assert page.problems == []


def test_registry_text_is_shown_and_never_run(page, served):
    page.goto(served + "algorithms/xss-algo.html")
    page.wait_for_load_state("load")
    text = page.inner_text(".card .description")
    assert text == '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.eval_on_selector_all(".card img", "els => els.length") == 0
    assert page.inner_text("dl.pairs dd >> nth=0") == "<b>Mallory</b>"
    assert page.eval_on_selector_all("a[href^='javascript:']", "els => els.length") == 0
    assert page.problems == []


def test_task_page_plots_and_tables(page, served):
    page.goto(served + "tasks/mnist_patch.html")
    page.wait_for_load_state("load")
    sizes = page.eval_on_selector_all(
        "figure img", "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth])"
    )
    assert [s for s, _ in sizes] == [
        "../plots/mnist_patch-curves.svg",
        "../plots/mnist_patch-dpsgd-alpha-vs-target_epsilon.svg",
        "../plots/mnist_patch-dpsgd-alpha-vs-max_grad_norm.svg",
    ]
    assert all(w > 300 for _, w in sizes)
    # columns: configuration, the two declared axes, epsilon spent, delta, noise multiplier, accountant
    privacy = page.eval_on_selector_all("#privacy tbody tr", "rows => rows.map(r => r.cells[5].innerText)")
    assert sorted(privacy) == ["0.5", "0.5", "4", "4"]  # noise multipliers recorded by the algorithm
    assert page.problems == []


def test_dark_mode_follows_the_reader_preference(browser, served):
    """prefers-color-scheme: dark switches the palette (text light on dark); plots keep a white ground."""
    colors = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        pg = context.new_page()
        _watch(pg)
        pg.goto(served + "tasks/mnist_patch.html")
        pg.wait_for_load_state("load")
        colors[scheme] = pg.evaluate(
            "() => [getComputedStyle(document.body).backgroundColor, getComputedStyle(document.body).color,"
            " getComputedStyle(document.querySelector('figure img')).backgroundColor]"
        )
        if scheme == "dark":
            ARTIFACTS.mkdir(exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / "tasks-mnist_patch-dark.png"))
        assert pg.problems == []
        context.close()
    assert colors["light"][:2] == ["rgb(255, 255, 255)", "rgb(29, 35, 48)"]
    assert colors["dark"][:2] == ["rgb(21, 24, 30)", "rgb(227, 231, 238)"]
    assert colors["dark"][2] == colors["light"][2] == "rgb(255, 255, 255)"


PAGES_OF_THE_REFERENCE_SITE = (
    "index.html",
    "methodology.html",
    "scaling.html",
    "privacy.html",
    "tasks/mnist_patch.html",
    "tasks/grouped_digits.html",
    "tasks/waterbirds_feature_flip.html",
    "algorithms/dpsgd.html",
    "algorithms/erm.html",
    "algorithms/groupdro.html",
)
OVERFLOW = """() => Array.from(document.querySelectorAll('.scroll')).map(b => [
    b.scrollWidth > b.clientWidth + 1,
    !!(b.previousElementSibling && b.previousElementSibling.classList.contains('scroll-hint')),
    b.querySelector('table') ? b.querySelector('table').id : ''])"""


@pytest.mark.parametrize("width", (1366, 390))
def test_the_reference_site_fits_desktop_and_phone_and_says_when_a_table_scrolls(
    browser, served_reference, width
):
    """Every page of the reference site fits the viewport; at 1366 px the results tables fit whole
    (their Provenance column was clipped), and a table wider than the screen has a line saying so."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _watch(page)
    for rel in PAGES_OF_THE_REFERENCE_SITE:
        assert page.goto(served_reference + rel).status == 200, rel
        page.wait_for_load_state("load")
        wide = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
        assert wide <= width, (rel, wide)
        assert page.evaluate(SORT_CHECK) == [], rel
        boxes = page.evaluate(OVERFLOW)
        assert all(hint == over for over, hint, _ in boxes), (rel, boxes)  # a hint exactly where it scrolls
        if width == 1366:
            assert not [t for over, _, t in boxes if over and t.startswith("results")], rel
        else:
            assert any(over for over, _, _ in boxes) or rel in ("methodology.html",), rel
        if rel in ("index.html", "scaling.html", "privacy.html"):
            ARTIFACTS.mkdir(exist_ok=True)
            name = rel.removesuffix(".html")
            page.screenshot(path=str(ARTIFACTS / f"reference-{name}-{width}px.png"), full_page=False)
    assert page.problems == []
    context.close()
