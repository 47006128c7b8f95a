"""Render a LeadScore HTML report to a PNG screenshot with headless Chromium.

Run on demand (not part of the tests; the report test skips when Chromium is absent)::

    .venv/bin/python bench/render_report.py                        # artifacts/demo/report.png
    .venv/bin/python bench/render_report.py --report path/report.html --output shot.png

Headless Chromium screenshots exactly its window, not the full page, so the window is made taller
than any report (9000 px; the demo report is about 6300 px) and the blank page background below
the content is cut off afterwards. If the content still reaches the bottom edge the script says
so: rerun with a larger ``--height``.

A screenshot is the quickest way to review the report's layout (tables wrapping, images
overflowing their cards) the way an analyst sees it, without opening a browser by hand. Chromium
is the Debian package ``chromium`` (``apt-get install -y chromium``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPORT = ROOT / "artifacts" / "demo" / "report.html"
DEFAULT_HEIGHT = 9000
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Path of the first Chromium-like browser on ``PATH``, or None.

    Returns
    -------
    str or None
        The executable, or None when no browser is installed.
    """
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_command(
    browser: str,
    report: Path,
    output: Path,
    profile: Path,
    width: int = 1280,
    height: int = DEFAULT_HEIGHT,
) -> list[str]:
    """The headless Chromium command line that screenshots ``report`` into ``output``.

    Parameters
    ----------
    browser
        Chromium executable.
    report
        HTML file to render.
    output
        PNG to write.
    profile
        Empty directory for the browser profile (a throwaway one per run keeps the user's
        profile and any lock on it out of the way).
    width, height
        Window size in CSS pixels; the screenshot is exactly this size, so ``height`` must
        cover the whole page to see all of it.

    Returns
    -------
    list of str
        The argument vector.
    """
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        f"--screenshot={output}",
        report.resolve().as_uri(),
    ]


def trim_bottom(png: Path, margin: int = 32) -> bool:
    """Cut the blank rows below the page content off a screenshot, in place.

    Parameters
    ----------
    png
        Screenshot to trim.
    margin
        Blank pixels kept under the content.

    Returns
    -------
    bool
        True when the content reaches the bottom edge (the page is taller than the window and
        the screenshot is cut).
    """
    import numpy as np
    from PIL import Image

    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"))
    # the page background is whatever colour the last row has; content is any row that differs
    differs = (pixels != pixels[-1:, :, :]).any(axis=(1, 2))
    rows = np.flatnonzero(differs)
    if rows.size == 0:
        return False
    last = int(rows[-1])
    if last >= pixels.shape[0] - 1 - margin:
        return True
    Image.fromarray(pixels[: last + 1 + margin]).save(png)
    return False


def screenshot(
    report: Path,
    output: Path,
    width: int = 1280,
    height: int = DEFAULT_HEIGHT,
    browser: str | None = None,
    timeout: float = 120.0,
    trim: bool = True,
) -> Path:
    """Render ``report`` to the PNG ``output`` with headless Chromium.

    Parameters
    ----------
    report
        HTML file.
    output
        PNG file to write (its folder is created).
    width, height
        Window size in CSS pixels.
    browser
        Chromium executable; found on ``PATH`` when None.
    timeout
        Seconds before the browser is given up on.
    trim
        Cut the blank page background below the content (see :func:`trim_bottom`).

    Returns
    -------
    Path
        ``output``.

    Raises
    ------
    FileNotFoundError
        When the report does not exist or no browser is installed.
    RuntimeError
        When Chromium exits without writing the PNG.
    """
    report, output = Path(report), Path(output)
    if not report.is_file():
        raise FileNotFoundError(f"{report}: no report (run `leadscore train` or `report`)")
    browser = browser or find_chromium()
    if browser is None:
        raise FileNotFoundError("no chromium on PATH (apt-get install -y chromium)")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="leadscore-chromium-") as profile:
        done = subprocess.run(
            chromium_command(browser, report, output.resolve(), Path(profile), width, height),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if not output.is_file():
        raise RuntimeError(
            f"chromium exited {done.returncode} without writing {output}:\n{done.stderr[-2000:]}"
        )
    if trim and trim_bottom(output):
        print(
            f"warning: the page is taller than {height} px; the screenshot is cut "
            "(rerun with a larger --height)",
            file=sys.stderr,
        )
    return output


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="PNG path (default: beside the report, report.png)",
    )
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument(
        "--height",
        type=int,
        default=DEFAULT_HEIGHT,
        help="window height; the blank space below the page is trimmed",
    )
    parser.add_argument("--no-trim", action="store_true", help="keep the full window height")
    args = parser.parse_args(argv)
    output = args.output or args.report.with_suffix(".png")
    try:
        path = screenshot(args.report, output, args.width, args.height, trim=not args.no_trim)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
