"""The studio page in a real browser: Debian's headless Chromium driven by Playwright, against `score studio`."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import mido
import pytest

from score_core.media.synthetic import write_test_video

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# screenshots of the main states: set SCORE_STUDIO_SCREENSHOTS=packages/score-studio/docs to refresh the kept ones
SCREENSHOTS = os.environ.get("SCORE_STUDIO_SCREENSHOTS")
# records every stage text the page shows, so a test can tell progress was displayed while the take ran
STAGE_RECORDER = """
window.__stages = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.stage, progress')) {
    const text = el.tagName === 'PROGRESS' ? `progress ${el.value}` : el.textContent;
    if (window.__stages[window.__stages.length - 1] !== text) window.__stages.push(text);
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; .ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`score studio` on a free local port, with the light example plugins only."""
    work = tmp_path_factory.mktemp("studio")
    log = work / "studio.log"
    score = shutil.which("score", path=str(Path(os.sys.executable).parent)) or "score"
    env = {**os.environ, "SCORE_PLUGINS": "example,studio"}
    with log.open("w") as sink:
        process = subprocess.Popen([score, "studio", "--port", "0", "--work", str(work / "work")], stderr=sink,
                                   stdout=sink, env=env)
    try:
        url = None
        for _ in range(300):
            found = re.search(r"http://127\.0\.0\.1:\d+/", log.read_text())
            if found:
                url = found.group(0)
                break
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
        assert url, log.read_text()
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.add_init_script(STAGE_RECORDER)
    opened = context.new_page()
    yield opened
    context.close()


def _open(page: Any, studio_url: str) -> None:
    """Load the page and wait until it shows the takes already made, so counts taken next are not racing it."""
    page.goto(studio_url)
    page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)


def _shot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


def test_score_watch_compare_and_download(studio_url: str, page: Any, tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "street.mp4", duration=6.0, cuts=(3.0,), size=(72, 128))
    _open(page, studio_url)
    vision = page.locator("#vision option").all_inner_texts()
    music = page.locator("#music option").all_inner_texts()
    assert "color-stats" in vision and "arpeggio" in music  # the example plugin's, read from the registry
    page.select_option("#vision", "color-stats")
    page.select_option("#music", "arpeggio")
    page.set_input_files("#video", str(clip))
    _shot(page, "studio-start.png")
    page.click("#score")

    first = page.locator(".take").nth(0)
    video = first.locator("video")
    video.wait_for(timeout=120_000)
    stages = page.evaluate("window.__stages")
    assert any(s.startswith("progress 0.") and s != "progress 0" for s in stages), stages  # a moving bar
    texts = {s for s in stages if not s.startswith("progress")}
    assert texts - {"queued", "starting", "loading models", "timeline"}, stages  # the pipeline's own stages
    page.evaluate("document.querySelector('.take video').muted = true")
    page.evaluate("document.querySelector('.take video').play()")
    page.wait_for_function("document.querySelector('.take video').currentTime > 1.0", timeout=30_000)
    assert page.evaluate("document.querySelector('.take video').error") is None
    page.wait_for_function("Number(document.querySelector('.take canvas').dataset.cursor) > 1.0", timeout=10_000)
    page.evaluate("document.querySelector('.take video').pause()")
    _shot(page, "studio-take.png")

    first.locator("button.again").click()
    second = page.locator(".take").nth(1)
    second.locator("video").wait_for(timeout=120_000)
    assert "seed 1" in second.locator("h2").inner_text()
    one, two = first.bounding_box(), second.bounding_box()
    assert two["x"] > one["x"] + one["width"] - 1 and abs(two["y"] - one["y"]) < 5  # side by side
    _shot(page, "studio-two-takes.png")

    # A/B on one transport: switching takes keeps the position, and only one video plays
    assert page.locator("#compare").is_visible()
    legend = first.locator(".legend").inner_text()
    assert "cut" in legend and "bar" in legend
    page.evaluate("document.querySelector('#ab-video').muted = true")
    page.click("#compare button[data-side=a]")
    page.wait_for_function("document.querySelector('#ab-video').readyState >= 1", timeout=10_000)
    page.evaluate("document.querySelector('#ab-video').play()")
    page.wait_for_function("document.querySelector('#ab-video').currentTime > 1.0", timeout=30_000)
    source_a = page.evaluate("document.querySelector('#ab-video').getAttribute('src')")
    page.click("#compare button[data-side=b]")
    page.wait_for_function(f"document.querySelector('#ab-video').getAttribute('src') !== '{source_a}'")
    page.wait_for_function("document.querySelector('#ab-video').currentTime > 1.0 && "
                           "!document.querySelector('#ab-video').paused", timeout=30_000)
    assert page.evaluate("[...document.querySelectorAll('.take video')].every((v) => v.paused)")
    assert page.get_attribute("#compare button[data-side=b]", "aria-pressed") == "true"
    page.check("#loop")
    page.fill("#loop-from", "0.5")
    page.fill("#loop-to", "1.5")
    page.evaluate("document.querySelector('#ab-video').currentTime = 0.6")
    page.wait_for_timeout(2500)
    assert page.evaluate("document.querySelector('#ab-video').currentTime") < 1.9  # the region loops
    page.evaluate("document.querySelector('#ab-video').pause()")
    _shot(page, "studio-compare.png")

    for output, check in (("midi", _valid_midi), ("video", _valid_mp4)):
        href = second.locator(f"a[data-output={output}]").get_attribute("href")
        answer = page.request.get(studio_url.rstrip("/") + href)
        assert answer.ok
        check(answer.body())

    page.reload()
    page.locator(".take video").nth(1).wait_for(timeout=30_000)
    assert page.locator(".take").count() == 2  # takes survive a reload

    page.on("dialog", lambda dialog: dialog.accept("night ride"))
    page.locator(".take button.rename").nth(1).click()
    page.wait_for_function("document.querySelectorAll('.take .title')[1].textContent.includes('night ride')")
    assert page.locator(".take .title").nth(1).inner_text() == "street.mp4 · take 2 “night ride”"
    page.locator(".take button.delete").nth(0).click()
    page.wait_for_function("document.querySelectorAll('.take').length === 1", timeout=10_000)
    page.reload()
    page.locator(".take video").first.wait_for(timeout=30_000)
    assert page.locator(".take").count() == 1 and "night ride" in page.locator(".take .title").inner_text()


def test_every_control_is_labelled_and_the_file_chooser_is_reached_by_keyboard(studio_url: str, page: Any) -> None:
    _open(page, studio_url)
    page.locator("#vision option").first.wait_for(state="attached")
    unlabelled = page.evaluate("""[...document.querySelectorAll('input, select')]
        .filter((c) => !c.closest('[hidden]') && c.labels.length === 0).map((c) => c.id)""")
    assert unlabelled == []
    for _ in range(3):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "video":
            break
    assert page.evaluate("document.activeElement.id") == "video"  # the first stop: choose a video


def test_a_non_video_upload_shows_a_one_line_error(studio_url: str, page: Any, tmp_path: Path) -> None:
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(b"this is a text file pretending to be a video\n" * 50)
    _open(page, studio_url)
    page.locator("#vision option").first.wait_for(state="attached")
    page.set_input_files("#video", str(fake))
    page.click("#score")
    error = page.locator("#error")
    page.wait_for_function("document.querySelector('#error').textContent.length > 0", timeout=30_000)
    text = error.inner_text()
    assert text.startswith("score: error: holiday.mp4: not a video"), text
    assert "\n" not in text
    _shot(page, "studio-error.png")


def test_an_mpeg4_part2_clip_plays_in_the_page(studio_url: str, page: Any, tmp_path: Path) -> None:
    archive = write_test_video(tmp_path / "archive.mp4", duration=4.5, cuts=(2.0,), size=(72, 128), codec="mpeg4")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    _open(page, studio_url)
    page.select_option("#vision", "color-stats")
    page.select_option("#music", "arpeggio")
    page.set_input_files("#video", str(archive))
    video = _new_take(page, lambda: page.click("#score")).locator("video")
    assert video.get_attribute("preload") == "metadata"  # a page of takes does not fetch every video
    page.evaluate("(v) => { v.muted = true; v.play(); }", video.element_handle())
    page.wait_for_function("(v) => v.readyState >= 2 && v.videoWidth > 0", arg=video.element_handle(),
                           timeout=30_000)
    assert page.evaluate("(v) => v.error", video.element_handle()) is None
    assert not errors, errors


def _scored_clip(page: Any, studio_url: str, clip: Path) -> Any:
    """Open the page, score ``clip`` with the light plugins and return the new take's card."""
    _open(page, studio_url)
    page.select_option("#vision", "color-stats")
    page.select_option("#music", "arpeggio")
    page.set_input_files("#video", str(clip))
    return _new_take(page, lambda: page.click("#score"))


def test_a_cut_added_on_the_timeline_is_scored_in_the_next_take(studio_url: str, page: Any, tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "edit.mp4", duration=6.0, cuts=(3.0,), size=(72, 128))
    card = _scored_clip(page, studio_url, clip)
    field = card.locator("input.cuts")
    page.wait_for_function("(f) => f.value.length > 0", arg=field.element_handle())
    assert [round(float(t)) for t in field.input_value().split(",")] == [3]
    box = card.locator("canvas").bounding_box()
    card.locator("canvas").click(modifiers=["Shift"], position={"x": box["width"] * 1.5 / 6.0, "y": box["height"] / 2})
    times = [float(t) for t in field.input_value().split(",")]
    assert len(times) == 2 and abs(times[0] - 1.5) < 0.2
    rescored = _new_take(page, lambda: card.locator("button.rescore").click())
    take = rescored.get_attribute("data-take")
    timeline = page.request.get(f"{studio_url.rstrip('/')}/api/takes/{take}/files/studio-timeline").json()
    assert [round(t, 1) for t in timeline["cuts"]] == [round(times[0], 1), 3.0]  # scored on the edited cuts


def test_re_rolling_one_shot_keeps_the_other_shots_music(studio_url: str, page: Any, tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "reroll.mp4", duration=6.0, cuts=(3.0,), size=(72, 128))
    card = _scored_clip(page, studio_url, clip)
    card.locator(".shots button.reroll").nth(1).wait_for()
    assert card.locator(".shots .shot").count() == 2
    rerolled = _new_take(page, lambda: card.locator(".shots button.reroll").nth(1).click())  # shot 2 only
    base = studio_url.rstrip("/")

    def notes(take: str) -> tuple[list, list]:
        timeline = page.request.get(f"{base}/api/takes/{take}/files/studio-timeline").json()
        cut = timeline["cuts"][0]
        return ([n for n in timeline["notes"] if n[1] < cut], [n for n in timeline["notes"] if n[1] >= cut])

    before, after = notes(card.get_attribute("data-take")), notes(rerolled.get_attribute("data-take"))
    assert after[0] == before[0] and after[1] != before[1]
    assert "locked 1@" in rerolled.locator("h2").inner_text()


def test_one_click_scores_several_variations(studio_url: str, page: Any, tmp_path: Path) -> None:
    clip = write_test_video(tmp_path / "three.mp4", duration=4.5, cuts=(2.0,), size=(72, 128))
    _open(page, studio_url)
    page.select_option("#vision", "color-stats")
    page.select_option("#music", "arpeggio")
    page.fill("#seed", "20")
    page.fill("#variations", "3")
    page.set_input_files("#video", str(clip))
    before = page.locator(".take").count()
    page.click("#score")
    page.wait_for_function(f"document.querySelectorAll('.take').length === {before + 3}", timeout=30_000)
    seeds = page.evaluate("[...document.querySelectorAll('.take')].slice(-3).map((t) => t.querySelector('h2')"
                          ".textContent.match(/seed (\\d+)/)[1])")
    assert seeds == ["20", "21", "22"]


def _new_take(page: Any, action: Any) -> Any:
    """Do ``action`` (which submits a take) and return the new take's card once its video is there."""
    before = set(page.evaluate("[...document.querySelectorAll('.take')].map((t) => t.dataset.take)"))
    action()
    page.wait_for_function(f"document.querySelectorAll('.take').length > {len(before)}", timeout=30_000)
    after = page.evaluate("[...document.querySelectorAll('.take')].map((t) => t.dataset.take)")
    take = next(t for t in after if t not in before)
    card = page.locator(f'.take[data-take="{take}"]')
    card.locator("video").wait_for(timeout=120_000)
    return card


def _valid_midi(data: bytes) -> None:
    midi = mido.MidiFile(file=io.BytesIO(data))
    assert any(m.type == "note_on" for track in midi.tracks for m in track)


def _valid_mp4(data: bytes) -> None:
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video and container.streams.audio
        assert sum(1 for _ in container.decode(video=0)) > 0
