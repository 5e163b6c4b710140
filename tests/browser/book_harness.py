"""What the book's browser tests need: Chromium, playwright-core, a local server.

Nothing here downloads a browser: Chromium comes from Debian's packages
(installed with apt-get when it is missing and the tests run as root), and
playwright-core from the npm registry (into ``build/node``) only drives it.

Example
-------
>>> with serve(Path(".")) as url:
...     url.startswith("http://127.0.0.1:")
True
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

PLAYWRIGHT_CORE_VERSION = "1.65.1"  # needs Node.js >= 20
CHECK_SCRIPT = Path(__file__).with_name("check_book.mjs")


class Unavailable(RuntimeError):
    """A tool the browser test needs cannot be found or installed: the test fails with the reason."""


def find_chromium(install: bool = True) -> str:
    """The path of a Chromium binary; install Debian's ``chromium`` if allowed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if not install:
        raise Unavailable("Chromium is not installed")
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Unavailable("Chromium is not installed and cannot be installed here "
                          "(needs root and apt-get: `apt-get install -y chromium`)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
        if done.returncode != 0:
            raise Unavailable(f"`{' '.join(command)}` failed: {done.stderr.strip()[-500:]}")
    return find_chromium(install=False)


def check_node() -> str:
    """The path of ``node``, checked to be recent enough for playwright-core."""
    node = shutil.which("node")
    if node is None:
        raise Unavailable("Node.js is not installed (the browser checks run on "
                          "playwright-core, which needs Node.js >= 20)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    major = int(re.match(r"v(\d+)", version.strip()).group(1))
    if major < 20:
        raise Unavailable(f"Node.js {version.strip()} is too old for playwright-core "
                          f"{PLAYWRIGHT_CORE_VERSION} (needs >= 20)")
    return node


def ensure_playwright(node_dir: Path) -> Path:
    """Install the pinned playwright-core into ``node_dir``; return its package.json."""
    manifest = node_dir / "node_modules" / "playwright-core" / "package.json"
    if manifest.exists() and json.loads(manifest.read_text())["version"] == PLAYWRIGHT_CORE_VERSION:
        return node_dir / "package.json"
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm is not installed (needed once to install playwright-core)")
    node_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(node_dir), "--no-audit", "--no-fund",
         "--save-exact", "--loglevel=error", f"playwright-core@{PLAYWRIGHT_CORE_VERSION}"],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1"))
    if done.returncode != 0 or not manifest.exists():
        raise Unavailable(f"npm could not install playwright-core: {done.stderr.strip()[-500:]}")
    return node_dir / "package.json"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port) while in the block."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def site_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a built book, relative to its root (assets excluded)."""
    skip = ("_static/", "_sources/", "_images/", "mathjax/", "_sphinx_design_static/")
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html")
                  if not p.relative_to(html_dir).as_posix().startswith(skip))


def plain_heading(markdown_title: str) -> str:
    """A markdown heading as the browser shows it (no emphasis or code marks)."""
    return re.sub(r"[*`]", "", markdown_title).strip()


def run_checks(html_dir: Path, pages: list[dict[str, Any]], screenshots: list[dict[str, str]],
               launch: dict[str, str], node_dir: Path, work: Path,
               repository_url: str | None = None,
               jupyterhub_url: str | None = None) -> dict[str, Any]:
    """Serve the site, run check_book.mjs over ``pages``; return its report.

    ``launch`` are the buttons every chapter must have; a link to one of
    :data:`BUTTON_HOSTS` (or to a JupyterHub's git-pull) that is not one of them or
    the repository itself is reported as a link to an unconfigured host.
    """
    allowed = list(launch.values()) + ([repository_url] if repository_url else [])
    hosts = list(BUTTON_HOSTS) + ([urlparse(jupyterhub_url).netloc] if jupyterhub_url else [])
    chromium = find_chromium()
    node = check_node()
    package_json = ensure_playwright(node_dir)
    work.mkdir(parents=True, exist_ok=True)
    with serve(html_dir) as url:
        config = {"baseUrl": url, "chromium": chromium, "pages": pages,
                  "screenshots": screenshots, "launch": launch,
                  "buttonHosts": hosts, "allowedButtonLinks": allowed}
        config_file, report_file = work / "browser-config.json", work / "browser-report.json"
        config_file.write_text(json.dumps(config, indent=2))
        report_file.unlink(missing_ok=True)
        done = subprocess.run([node, str(CHECK_SCRIPT), str(config_file), str(report_file)],
                              capture_output=True, text=True, timeout=900,
                              env=dict(os.environ, BOOK_NODE_PACKAGE_JSON=str(package_json)))
    if done.returncode != 0 or not report_file.exists():
        raise RuntimeError(f"check_book.mjs failed (exit {done.returncode}):\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(report_file.read_text())


def page_specs(html_dir: Path, source_dir: Path) -> list[dict[str, Any]]:
    """What to expect on each page: its heading, read from the assembled sources.

    Chapters (``notebooks/*.html``) are also checked for the download and launch
    buttons.
    """
    import nbformat

    from course_tools.book.assemble import chapter_title

    specs = []
    for page in site_pages(html_dir):
        stem = source_dir / page[: -len(".html")]
        heading = None
        if stem.with_suffix(".ipynb").exists():
            heading = chapter_title(nbformat.read(stem.with_suffix(".ipynb"), as_version=4))
        elif stem.with_suffix(".md").exists():
            first = [line for line in stem.with_suffix(".md").read_text().splitlines()
                     if line.startswith("# ")]
            heading = first[0][2:] if first else None
        specs.append({"path": page, "heading": plain_heading(heading) if heading else None,
                      "chapter": page.startswith("notebooks/")})
    return specs


def launch_patterns(repository_url: str | None, jupyterhub_url: str | None = None) -> dict[str, str]:
    """A substring of each launch button's link, for a repository on GitHub.

    Empty without a repository: then no chapter may have a launch button, and no link
    may point at a launch or repository host (see :data:`BUTTON_HOSTS`).
    """
    from urllib.parse import quote

    if not repository_url:
        return {}
    owner_repo = repository_url.split("github.com/", 1)[1]
    patterns = {
        "Binder": f"/v2/gh/{owner_repo}/",
        "Colab": f"colab.research.google.com/github/{owner_repo}/blob/",
    }
    if jupyterhub_url:
        patterns["JupyterHub"] = f"git-pull?repo={quote(repository_url, safe='/')}"
    return patterns


#: Hosts that only the configured buttons may link to (the bibliography links elsewhere).
BUTTON_HOSTS = ("github.com", "mybinder.org", "colab.research.google.com")
