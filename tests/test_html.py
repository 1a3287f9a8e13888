"""OUT/index.html: the Markdown converter, the page, and the page in a real headless browser."""

import base64
import html
import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from jaxmle import _html, _runs

md = _html.markdown_to_html

# -- the converter ---------------------------------------------------------------------------


def test_pipe_table_with_alignment_escaped_pipes_and_ragged_rows():
    text = ("| k | \\|1 − λn/5\\| | verdict |\n| ---: | :---: | --- |\n"
            "| 1 | 0.98 | a \\| b |\n| 2 |\n| 3 | 4 | 5 | extra |")  # fmt: skip
    out = md(text)
    assert out.startswith('<div class="table-wrap"><table>')
    heads = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", out)
    assert heads == ["k", "|1 − λn/5|", "verdict"]  # the escaped pipes stay in one column
    assert re.findall(r"<th( style=\"[^\"]*\")?>", out) == [
        ' style="text-align:right"', ' style="text-align:center"', ""]  # fmt: skip
    cell = r"<td(?: [^>]*)?>(.*?)</td>"
    rows = [re.findall(cell, r) for r in re.findall(r"<tr>(.*?)</tr>", out)[1:]]
    # GitHub's rules: a short row is padded, a long one cut to the header's three columns.
    assert rows == [["1", "0.98", "a | b"], ["2", "", ""], ["3", "4", "5"]]


def test_header_and_delimiter_of_different_widths_are_not_a_table():
    # What Report.table wrote before headers were escaped: "|1 − λn/5|" splits the header.
    out = md("| k | |1 − λn/5| theory |\n| --- | --- |\n| 1 | 2 |")
    assert "<table>" not in out and out.startswith("<p>")


def test_everything_outside_the_markup_is_escaped():
    out = md('<script>alert("x")</script> & a < b\n\n| <b>c</b> |\n| --- |\n| `<i>` |\n\n'
             '- [x<y](a"b.html) and ![<alt>](nope.png)')  # fmt: skip
    assert "<script>" not in out and "<b>" not in out and "<i>" not in out
    assert '&lt;script&gt;alert("x")&lt;/script&gt; &amp; a &lt; b' in out
    assert "<th>&lt;b&gt;c&lt;/b&gt;</th>" in out and "<td><code>&lt;i&gt;</code></td>" in out
    assert '<a href="a&quot;b.html">x&lt;y</a>' in out
    assert '<img src="nope.png" alt="&lt;alt&gt;">' in out


def test_unsafe_link_schemes_keep_only_their_text():
    out = md("[click](javascript:alert(1)) [site](https://example.org/a?b=1&c=2)")
    assert "javascript" not in out and "click" in out
    assert '<a href="https://example.org/a?b=1&amp;c=2">site</a>' in out


def test_emphasis_code_and_escapes_follow_the_reports_usage():
    out = md("**Answer.** θ_MAP = **0.48**, P(x8=0 | θ_MAP); the *mean* and _this_; "
             "λ_mean = n·λ; 2 * 3 * 4; \\*not\\* `a*b*c` **[bold link](x.md)**")  # fmt: skip
    assert out == (
        "<p><strong>Answer.</strong> θ_MAP = <strong>0.48</strong>, P(x8=0 | θ_MAP); the "
        "<em>mean</em> and <em>this</em>; λ_mean = n·λ; 2 * 3 * 4; *not* <code>a*b*c</code> "
        '<strong><a href="x.md">bold link</a></strong></p>')  # fmt: skip


def test_headings_lists_and_paragraphs():
    ids = set()
    text = ("# Title\n\nline one\nline two\n\n## Answers\n\n- **a**: 1\n- b\n  continued\n\n"
            "1. first\n2. second\n\n## Answers")  # fmt: skip
    out = md(text, heading_offset=1, id_prefix="s-", ids=ids)
    assert out == "\n".join([
        '<h2 id="s-title">Title</h2>', "<p>line one\nline two</p>",
        '<h3 id="s-answers">Answers</h3>',
        "<ul><li><strong>a</strong>: 1</li><li>b\ncontinued</li></ul>",
        "<ol><li>first</li><li>second</li></ol>", '<h3 id="s-answers-2">Answers</h3>'])  # fmt: skip
    assert ids == {"s-title", "s-answers", "s-answers-2"}


def test_report_markdown_converts_to_the_tables_it_means(tmp_path):
    """A Report's table whose header holds "|" (gradient-ascent's |1 − λn/5|) stays a table."""
    from jaxmle import report

    ctx = report.Context(out=tmp_path / "s", quick=True, name="s")
    rep = report.Report(ctx, "T", "Q?")
    rep.table([{"λ": 0.001, "|1 − λn/5| theory": 0.98, "verdict": "a|b"}])
    rep.write({})
    out = md((tmp_path / "s" / "report.md").read_text())
    table = out[out.index("<table>"):out.index("</table>")]  # fmt: skip
    assert re.findall(r"<th(?: [^>]*)?>(.*?)</th>", table) == ["λ", "|1 − λn/5| theory", "verdict"]
    assert re.findall(r"<td(?: [^>]*)?>(.*?)</td>", table) == ["0.001", "0.98", "a|b"]


# -- the page -------------------------------------------------------------------------------

WIDE = "| " + " | ".join(f"column {i}" for i in range(14)) + " |\n"
WIDE += "| " + " | ".join("---:" for _ in range(14)) + " |\n"
WIDE += "| " + " | ".join(f"{1234567.891 * (i + 1):.6e}" for i in range(14)) + " |\n"


def png(path, width_px, height_px):
    """A real PNG from matplotlib (Agg, no pyplot), ``width_px`` × ``height_px``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [0, 1, 4], label="y = x²")
    ax.legend()
    fig.savefig(path, dpi=100)


def fake_study(out, name, title, body, plots=(), quick=True):
    """OUT/NAME with report.md, results.json and PNGs: what write_index reads of a study."""
    folder = out / name
    folder.mkdir(parents=True)
    for stem, (w, h) in plots:
        png(folder / f"{stem}.png", w, h)
    images = "".join(f"\n\n![{stem}: a plot]({stem}.png)\n\n*{stem}: a plot.*" for stem, _ in plots)
    (folder / "report.md").write_text(
        f"# {title}\n\nExperiment `{name}`.\n\n{body}{images}\n\n## Files and environment\n\n"
        "Data: [results.json](results.json).\n", encoding="utf-8")  # fmt: skip
    env = {"seed": 3, "dtype": "float64", "utc": "2026-01-02T03:04:05Z", "jaxmle": "0.1.0"}
    (folder / "results.json").write_text(json.dumps({
        "experiment": name, "title": title, "quick": quick, "options": {"n": 10},
        "wall_s": 1.25, "environment": env, "results": {}}))  # fmt: skip


@pytest.fixture
def run_folder(tmp_path):
    """Two small studies (a wide table, a plot wider than any window, escaping) and the index."""
    out = tmp_path / "results"
    fake_study(out, "alpha-study", "Alpha: tables <and> plots",
               "## Answers\n\n- **Numerical reason:** x < y & θ_MAP = **0.48**.\n- "
               + "averylongwordwithoutanybreaks" * 4 + "\n\n" + WIDE,
               plots=[("wide", (1600, 500)), ("small", (300, 200))])  # fmt: skip
    fake_study(out, "beta-study", "Beta", "| a | b |\n| --- | --- |\n| 1 | 2 |", quick=False,
               plots=[("curve", (640, 480))])  # fmt: skip
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / f".beta-study.staging-{dead.pid}").mkdir()  # an interrupted run of beta-study
    _runs.write_index(out, ["beta-study", "alpha-study"])
    return out


def test_index_html_is_written_beside_index_md(run_folder):
    page = (run_folder / "index.html").read_text(encoding="utf-8")
    assert (run_folder / "index.md").exists() and page.startswith("<!DOCTYPE html>")
    # Every plot is inlined: the page stands alone, its PNGs byte for byte.
    srcs = re.findall(r'<img src="([^"]*)"', page)
    assert len(srcs) == 3 and all(s.startswith("data:image/png;base64,") for s in srcs)
    curve = (run_folder / "beta-study" / "curve.png").read_bytes()
    assert base64.b64decode(srcs[0].split(",", 1)[1]) == curve  # beta first: the order given
    # The index's links to each report lead to that study's section of the page.
    assert '<a href="#beta-study">beta-study/report.md</a>' in page
    assert '<section class="study" id="alpha-study">' in page
    # A report's links to its own files are made relative to OUT.
    assert '<a href="alpha-study/results.json">results.json</a>' in page
    # Status lines: the run's settings under each title, and the interrupted run of beta.
    assert "quick run · seed 3 · float64 · 1.2 s · finished 2026-01-02T03:04:05Z" in page
    assert "full run · seed 3" in page
    warn = re.findall(r'<p class="status warn">(.*?)</p>', page)
    assert len(warn) == 1 and warn[0].startswith("a previous run of beta-study was interrupted")
    # Titles are escaped, and the tables are HTML tables (three: index, alpha's, beta's).
    assert "Alpha: tables &lt;and&gt; plots" in page and "<and>" not in page
    assert page.count("<table>") == 3 and "| --- |" not in page


def test_index_html_inlines_nothing_from_outside_the_study(tmp_path):
    out = tmp_path / "results"
    fake_study(out, "s", "S", "![secret](../secret.png) ![gone](gone.png)")
    png(out / "secret.png", 50, 50)
    _runs.write_index(out)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<img" not in page
    assert "[image not found: ../secret.png (secret)]" in page
    assert "[image not found: gone.png (gone)]" in page


# -- in a real browser ------------------------------------------------------------------------

# Run after the page has loaded: every image's natural size, the page's width against the
# window's, and every element whose box sticks out of the window. An element inside a box that
# scrolls or clips sideways (a table's wrapper) is checked through that box instead.
CHECK = """<pre id="check"></pre><script>
window.addEventListener("load", () => {
  const vw = window.innerWidth, out = [];
  const scroller = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return p;
    }
    return null;
  };
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && !scroller(el) && (r.right > vw + 0.5 || r.left < -0.5)) {
      out.push(`${el.tagName}#${el.id}.${el.className} ${r.left}..${r.right}`);
    }
  }
  const wraps = [...document.querySelectorAll(".table-wrap")].map((w) => (
    {scroll: w.scrollWidth, client: w.clientWidth, overflowX: getComputedStyle(w).overflowX}));
  document.getElementById("check").textContent = JSON.stringify({
    innerWidth: vw, scrollWidth: document.documentElement.scrollWidth,
    images: [...document.images].map((i) => ({alt: i.alt, natural: i.naturalWidth,
      shown: i.getBoundingClientRect().width, complete: i.complete})),
    outside: out, wraps});
});
</script>"""


def browser():
    """Debian's chromium (or Chrome) on PATH, or None."""
    return next((p for n in ("chromium", "chromium-browser", "google-chrome")
                 if (p := shutil.which(n))), None)  # fmt: skip


def in_browser(page: pathlib.Path, width: int, profile: pathlib.Path) -> dict:
    """What :data:`CHECK` finds in ``page`` opened by headless chromium ``width`` px wide."""
    probe = page.with_name("index.check.html")  # beside it: the same relative links
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", CHECK + "\n</body>"),
                     encoding="utf-8")  # fmt: skip
    cmd = [browser(), "--headless=new", "--no-sandbox", "--disable-gpu",
           "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
           f"--window-size={width},900", "--virtual-time-budget=10000", "--dump-dom",
           probe.as_uri()]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    m = re.search(r'<pre id="check">(.*?)</pre>', proc.stdout, re.S)
    assert proc.returncode == 0 and m and m.group(1), (proc.returncode, proc.stderr[-2000:])
    return json.loads(html.unescape(m.group(1)))


@pytest.mark.skipif(
    browser() is None,
    reason="no headless browser: install Debian's chromium "
    "(apt-get install chromium) to open index.html in a real browser",
)
@pytest.mark.parametrize("width", [1280, 500])  # 500 px: the narrowest window chromium opens
def test_index_html_in_a_headless_browser(run_folder, tmp_path, width):
    found = in_browser(run_folder / "index.html", width, tmp_path / "profile")
    assert found["innerWidth"] == width
    # Every image loaded (a broken data: URI has naturalWidth 0) and is shown within the page.
    assert [i["alt"] for i in found["images"]] == ["curve: a plot", "wide: a plot",
                                                   "small: a plot"]  # fmt: skip
    assert [i["natural"] for i in found["images"]] == [640, 1600, 300]
    assert all(i["complete"] and 0 < i["shown"] <= width for i in found["images"])
    # Nothing overflows: not the page, not any element outside a scrolling wrapper.
    assert found["scrollWidth"] <= width and found["outside"] == [], found["outside"][:5]
    # The 14-column table is wider than a 500 px window: its wrapper scrolls instead.
    wide = max(found["wraps"], key=lambda w: w["scroll"])
    assert wide["overflowX"] == "auto" and wide["client"] <= width
    if width < 1000:
        assert wide["scroll"] > wide["client"]
