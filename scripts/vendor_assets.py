"""(Re)build ``static/vendor/``: the map's JavaScript, CSS and fonts, served offline.

folium and streamlit-folium load Leaflet and its plugins from CDNs; with no internet the map
stays blank. This script fetches the same libraries, at pinned versions, from the npm registry
(``npm pack``; each tarball is checked against its pinned sha512 integrity), copies only the
files the map needs, keeps the relative layout that CSS ``url(...)`` references rely on, and
writes each package's licence to ``static/vendor/LICENSES/``. Two files do not come from npm:
the Leaflet.heat build that folium itself ships (it carries a weights fix that the npm release
lacks) is copied from the installed folium wheel, and folium's ``fa-rotate-N`` helper
stylesheet is generated here. ``static/vendor/SOURCES.json`` records where every file came from
and its sha256.

``layers/assets.py`` maps each CDN URL to one of these files; after a rebuild this script checks
that every file that table names exists.

Usage::

    .venv/bin/python scripts/vendor_assets.py           # rebuild (needs the npm registry)
    .venv/bin/python scripts/vendor_assets.py --check   # verify files against SOURCES.json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = ROOT / "static" / "vendor"
MANIFEST = "SOURCES.json"


@dataclass(frozen=True)
class Package:
    """One npm package: what to copy from its tarball, and where (relative to static/vendor)."""

    name: str
    version: str
    integrity: str
    license_file: str
    #: source path in the package (a glob is allowed) -> destination directory or file
    files: dict[str, str] = field(default_factory=dict)

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def folder(self) -> str:
        return f"{self.name.rsplit('/', 1)[-1]}@{self.version}"


PACKAGES: tuple[Package, ...] = (
    Package(
        "leaflet",
        "1.9.3",
        "sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D/uSIzhZgGMfQ==",
        "LICENSE",
        {
            "dist/leaflet.js": "dist/leaflet.js",
            "dist/leaflet.css": "dist/leaflet.css",
            "dist/images/*.png": "dist/images/",
        },
    ),
    Package(
        "jquery",
        "3.7.1",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
        "LICENSE.txt",
        {"dist/jquery.min.js": "dist/jquery.min.js"},
    ),
    Package(
        "bootstrap",
        "5.2.2",
        "sha512-dEtzMTV71n6Fhmbg4fYJzQsw1N29hJKO1js5ackCgIpDcGid2ETMGC6zwSYw09v05Y+oRdQ9loC54zB1La3hHQ==",
        "LICENSE",
        {
            "dist/js/bootstrap.bundle.min.js": "dist/js/bootstrap.bundle.min.js",
            "dist/css/bootstrap.min.css": "dist/css/bootstrap.min.css",
        },
    ),
    # Bootstrap 3 only for the Glyphicons that folium links for awesome-markers; the rules are
    # cut out of its stylesheet by _glyphicons() so they cannot restyle the page.
    Package(
        "bootstrap",
        "3.4.1",
        "sha512-yN5oZVmRCwe5aKwzRj6736nSmKDX7pLYwsXiCj/EYmo16hODaBiT4En5btW/jhBF/seV+XMx3aYwukYC3A49DA==",
        "LICENSE",
        {
            "dist/fonts/glyphicons-halflings-regular.woff2": "dist/fonts/",
            "dist/fonts/glyphicons-halflings-regular.woff": "dist/fonts/",
            "dist/fonts/glyphicons-halflings-regular.ttf": "dist/fonts/",
        },
    ),
    Package(
        "@fortawesome/fontawesome-free",
        "6.2.0",
        "sha512-CNR7qRIfCwWHNN7FnKUniva94edPdyQzil/zCwk3v6k4R6rR2Fr8i4s3PM7n/lyfPA6Zfko9z5WDzFxG9SW1uQ==",
        "LICENSE.txt",
        {"css/all.min.css": "css/all.min.css", "webfonts/*": "webfonts/"},
    ),
    Package(
        "leaflet.markercluster",
        "1.1.0",
        "sha512-eI+XkCiLiHwCC3uZ4/n4+Vq3rXcqEHN2lhHRVG1WVziy/3Q0TTipWkzEa1zO0dKZI2AnI5ppFDWrOjnQ7MJLKQ==",
        "MIT-LICENCE.txt",
        {
            "dist/leaflet.markercluster.js": "dist/leaflet.markercluster.js",
            "dist/MarkerCluster.css": "dist/MarkerCluster.css",
            "dist/MarkerCluster.Default.css": "dist/MarkerCluster.Default.css",
        },
    ),
    # folium links 2.0.2 from cdnjs, which npm never had; 2.0.5 is the same code (its banner
    # still says 2.0.1). Only the "soft" marker sprites are referenced by the stylesheet.
    Package(
        "leaflet.awesome-markers",
        "2.0.5",
        "sha512-Ne/xDjkGyaujwNVVkv2tyXQUV0ZW7gZ0Mo0FuQY4jp2qWrvXi0hwDBvmZyF/8YOvybyMabTMM/mFWCTd1jZIQA==",
        "LICENSE",
        {
            "dist/leaflet.awesome-markers.js": "dist/leaflet.awesome-markers.js",
            "dist/leaflet.awesome-markers.css": "dist/leaflet.awesome-markers.css",
            "dist/images/markers-soft*.png": "dist/images/",
            "dist/images/markers-shadow*.png": "dist/images/",
        },
    ),
    # Only for its licence: the heat plugin itself is folium's patched build (see FOLIUM_FILES).
    Package(
        "leaflet.heat",
        "0.2.0",
        "sha512-Cd5PbAA/rX3X3XKxfDoUGi9qp78FyhWYurFg3nsfhntcM/MCNK08pRkf4iEenO1KNqwVPKCmkyktjW3UD+h9bQ==",
        "LICENSE",
    ),
)

FOLIUM_VERSION = "0.20.0"
#: files copied from the installed folium wheel: path in the package -> (sha256, destination)
FOLIUM_FILES = {
    "templates/leaflet_heat.min.js": (
        "7378c428ff2318ec48e7e73c0d46061f938aa75551c519c74cd790b044dfa0fa",
        f"folium@{FOLIUM_VERSION}/leaflet_heat.min.js",
    ),
}
ROTATE_CSS = f"folium@{FOLIUM_VERSION}/leaflet.awesome.rotate.min.css"
GLYPHICONS_CSS = "bootstrap@3.4.1/dist/css/bootstrap-glyphicons.css"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="verify static/vendor against SOURCES.json"
    )
    args = parser.parse_args(argv)
    if args.check:
        return _check(VENDOR_DIR)
    with tempfile.TemporaryDirectory(prefix="vendor-") as tmp:
        staging = Path(tmp) / "vendor"
        staging.mkdir()
        sources = _build(Path(tmp), staging)
        _write_manifest(staging, sources)
        _verify_table(staging)
        if VENDOR_DIR.exists():
            shutil.rmtree(VENDOR_DIR)
        shutil.copytree(staging, VENDOR_DIR)
    total = sum(p.stat().st_size for p in VENDOR_DIR.rglob("*") if p.is_file())
    print(f"static/vendor rebuilt: {len(sources)} files, {total / 1e6:.2f} MB")
    return 0


def _build(tmp: Path, out: Path) -> dict[str, str]:
    """Fill ``out``; return {relative path: source description}."""
    sources: dict[str, str] = {}
    licenses = out / "LICENSES"
    licenses.mkdir()
    for pkg in PACKAGES:
        root = _fetch(pkg, tmp)
        for pattern, dest in pkg.files.items():
            matches = sorted(root.glob(pattern))
            if not matches:
                raise SystemExit(f"{pkg.spec}: no file matches {pattern!r}")
            for src in matches:
                rel = f"{pkg.folder}/{dest}{src.name if dest.endswith('/') else ''}"
                _copy(src, out / rel)
                sources[rel] = f"npm:{pkg.spec} {src.relative_to(root).as_posix()}"
        rel = f"LICENSES/{pkg.folder}.txt"
        _copy(root / pkg.license_file, out / rel)
        sources[rel] = f"npm:{pkg.spec} {pkg.license_file}"
        if pkg.spec == "bootstrap@3.4.1":
            css = _glyphicons((root / "dist/css/bootstrap.css").read_text(encoding="utf-8"))
            (out / GLYPHICONS_CSS).parent.mkdir(parents=True, exist_ok=True)
            (out / GLYPHICONS_CSS).write_text(css, encoding="utf-8")
            sources[GLYPHICONS_CSS] = (
                "npm:bootstrap@3.4.1 dist/css/bootstrap.css (Glyphicons rules only)"
            )
    sources.update(_folium_files(out))
    return sources


def _fetch(pkg: Package, tmp: Path) -> Path:
    """``npm pack`` one package, check its integrity, extract it; return the package root."""
    dest = tmp / pkg.folder
    dest.mkdir()
    proc = subprocess.run(
        ["npm", "pack", pkg.spec, "--json", "--pack-destination", str(dest)],
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(proc.stdout)[0]
    tarball = dest / info["filename"]
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if f"sha512-{digest}" != pkg.integrity:
        raise SystemExit(
            f"{pkg.spec}: tarball integrity sha512-{digest} differs from the pinned "
            f"{pkg.integrity}; refusing to vendor it."
        )
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _glyphicons(bootstrap_css: str) -> str:
    """The @font-face and ``.glyphicon*`` rules of Bootstrap 3's stylesheet, and nothing else.

    The font is listed as woff2/woff/ttf only: every browser the app supports reads woff2, and
    the eot/svg fonts would add 130 kB for Internet Explorer and old Safari.
    """
    rules = re.findall(r"([^{}]+)\{([^{}]*)\}", bootstrap_css)
    kept: list[str] = []
    for selector, body in rules:
        selector = selector.strip()
        if selector == "@font-face" and "Glyphicons Halflings" in body:
            body = (
                '\n  font-family: "Glyphicons Halflings";\n'
                '  src: url("../fonts/glyphicons-halflings-regular.woff2") format("woff2"),'
                ' url("../fonts/glyphicons-halflings-regular.woff") format("woff"),'
                ' url("../fonts/glyphicons-halflings-regular.ttf") format("truetype");\n'
            )
        elif not all(s.strip().startswith(".glyphicon") for s in selector.split(",")):
            continue
        kept.append(f"{selector} {{{body}}}")
    if len(kept) < 200:
        raise SystemExit(f"bootstrap 3 stylesheet: expected ~260 glyphicon rules, got {len(kept)}")
    header = "/* Glyphicons Halflings rules of Bootstrap v3.4.1 (MIT), see LICENSES/. */\n"
    return header + "\n".join(kept) + "\n"


def _folium_files(out: Path) -> dict[str, str]:
    """Copy folium's heat plugin from the installed wheel; generate its rotate stylesheet."""
    installed = metadata.version("folium")
    if installed != FOLIUM_VERSION:
        raise SystemExit(
            f"folium {installed} is installed but {FOLIUM_VERSION} is pinned here: check its "
            "CDN links (folium/folium.py, plugins/) and update FOLIUM_FILES and layers/assets.py."
        )
    import folium

    package = Path(folium.__file__).parent
    sources: dict[str, str] = {}
    for path, (sha256, rel) in FOLIUM_FILES.items():
        data = (package / path).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise SystemExit(f"folium {FOLIUM_VERSION} {path}: sha256 differs from the pinned one")
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
        sources[rel] = f"pypi:folium=={FOLIUM_VERSION} folium/{path}"
    # folium's own file is 360 generated rules, one per degree, used by Icon(angle=...).
    rules = "".join(
        f".fa-rotate-{d}{{-ms-transform:rotate({d}deg);-webkit-transform:rotate({d}deg);"
        f"transform:rotate({d}deg)}}\n"
        for d in range(360)
    )
    (out / ROTATE_CSS).write_text(rules, encoding="utf-8")
    sources[ROTATE_CSS] = "generated by scripts/vendor_assets.py (folium Icon angle classes)"
    license_rel = f"LICENSES/folium@{FOLIUM_VERSION}.txt"
    dist = metadata.distribution("folium")
    license_path = next(
        (Path(str(dist.locate_file(f))) for f in dist.files or [] if f.name == "LICENSE.txt"),
        None,
    )
    if license_path is None:
        raise SystemExit("folium's LICENSE.txt is not in its installed distribution")
    _copy(license_path, out / license_rel)
    sources[license_rel] = f"pypi:folium=={FOLIUM_VERSION} LICENSE.txt"
    return sources


def _write_manifest(out: Path, sources: dict[str, str]) -> None:
    files = {
        rel: {
            "source": sources[rel],
            "bytes": (out / rel).stat().st_size,
            "sha256": hashlib.sha256((out / rel).read_bytes()).hexdigest(),
        }
        for rel in sorted(sources)
    }
    text = json.dumps({"files": files}, indent=1, ensure_ascii=False) + "\n"
    (out / MANIFEST).write_text(text, encoding="utf-8")


def _verify_table(out: Path) -> None:
    """Every file layers/assets.py points at, or that a vendored stylesheet refers to, exists."""
    sys.path.insert(0, str(ROOT))
    from layers.assets import required_files

    missing = [p for p in required_files(vendor_dir=out) if not p.is_file()]
    if missing:
        raise SystemExit("layers/assets.py names files the build did not produce: " + str(missing))


def _check(vendor: Path) -> int:
    manifest = json.loads((vendor / MANIFEST).read_text(encoding="utf-8"))["files"]
    problems = []
    for rel, entry in manifest.items():
        path = vendor / rel
        if not path.is_file():
            problems.append(f"missing: {rel}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            problems.append(f"changed: {rel}")
    extra = (
        {p.relative_to(vendor).as_posix() for p in vendor.rglob("*") if p.is_file()}
        - set(manifest)
        - {MANIFEST}
    )
    problems += [f"not in {MANIFEST}: {rel}" for rel in sorted(extra)]
    for line in problems:
        print(line)
    print(f"{len(manifest)} files checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
