"""The HTML report renders in headless Chromium, offline, with both per-image-time plots visible.

Skipped only where no Chromium binary is installed (apt-get install chromium).
"""

import shutil
import subprocess

import pytest

from jiasu.report import write_report

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)

BLUE, ORANGE = (31, 119, 180), (255, 127, 14)  # matplotlib tab10: the two configurations' lines


def count_near(image, box, color, tol=40):
    region = image.crop(box).convert("RGB")
    return sum(n for n, px in region.getcolors(region.width * region.height) if all(abs(a - b) <= tol for a, b in zip(px, color)))


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
def test_report_screenshot_shows_both_plots(store, tmp_path):
    from PIL import Image

    page = tmp_path / "report.html"
    shot = tmp_path / "shot.png"
    write_report(store, [page])
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    image = Image.open(shot)
    assert image.size == (1200, 1600)
    # Layout: 24 px margin, then the linear and log plots side by side (560 px wide each) under the heading.
    linear, log = (30, 150, 570, 500), (605, 150, 1150, 500)
    for box in (linear, log):
        assert count_near(image, box, BLUE) > 300, f"no 'fast' line in {box}"
        assert count_near(image, box, ORANGE) > 300, f"no 'slow' line in {box}"
    # control: beside the throughput plot the page is blank, so the check above can fail
    assert count_near(image, (620, 600, 1150, 900), BLUE) == 0
