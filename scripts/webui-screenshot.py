#!/usr/bin/env python3
"""Takes the README's screenshot of the web UI's trace page (docs/images/trace-page.png): starts the given otelsink
binary on ephemeral loopback ports with a fresh database, stores the browser tests' example traces and logs
(Tests/interop/webui_data.py), opens the slower trace in headless Chromium at 1280×800 and selects its failed span.

    .venv/bin/python scripts/webui-screenshot.py --bin .build/debug/otelsink [--out docs/images/trace-page.png]

Needs Debian's chromium and chromium-driver and Python's selenium (scripts/test.sh installs them). Stops by itself.
"""
import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Tests" / "interop"))
sys.path.insert(0, str(REPO / "bench"))
from webui_data import seed  # noqa: E402
from webui_latency import start  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", default=str(REPO / "docs" / "images" / "trace-page.png"))
    args = ap.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    work = tempfile.mkdtemp(prefix="otelsink-screenshot-")
    proc, http_url, query_url = start(args.bin, work, logs=True)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    try:
        traces = seed(http_url)
        # The window's inner size is what is shown: make it 1280×800 whatever the browser's frame takes.
        driver.set_window_size(1280, 800)
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        driver.set_window_size(1280 + 1280 - inner[0], 800 + 800 - inner[1])
        driver.get(f"{query_url}/trace/{traces.a}")
        WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.querySelectorAll('.wf-spacer .row').length === 7"))
        driver.execute_script("[...document.querySelectorAll('.row')].find(r => r.querySelector('.op').textContent === 'charge card').click()")
        WebDriverWait(driver, 20).until(lambda d: d.execute_script(
            "return document.querySelector('.detail h2 .op')?.textContent === 'charge card' && document.querySelector('.detail .log-body') !== null"))
        driver.execute_script("document.activeElement?.blur()")
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(args.out)
        print(f"wrote {args.out}")
    finally:
        driver.quit()
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
