"""Hostile uploads, end to end: refused with a clear message, fast, in bounded memory, and
without changing anything in the store; or read, harmless, and every row accounted for.

Each refused file goes the whole upload path (``prepare_upload``, then ``commit_upload`` had
it passed) in a child process (forked from multiprocessing's fork server), which measures it:

- time: the child's CPU seconds (``time.process_time``), which the file's work alone
  decides, must stay under :data:`CPU_SECONDS`; its wall time, which the machine's other
  work also decides, is only guarded against hangs (:data:`WALL_SECONDS`).
- memory: the growth of the child's peak resident set (``ru_maxrss``). A forked child's
  peak starts at its resident size when forked (Linux sets it so), so the growth is what the
  upload itself took, C allocations (expat, zlib, Pillow) included, which ``tracemalloc``
  would miss; and nothing runs slower for being measured. The child is also capped (CPU
  seconds and address space), so a regression fails the test rather than the machine.

The store is compared before and after: every table's row count, ``data_version()``, the
audit log and the uploads.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import sys
import tempfile
import tomllib
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from geo.cli import main
from geo.errors import UrbanOrderError
from geo.export import export_records
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.model import SCHEMAS
from geo.readers import ReadLimits, read_upload, upload_name
from geo.store import Store, open_store
from tests.children import no_main_script
from tests.hostile import _child, corpus
from tests.hostile.corpus import MIB, REFUSED

#: The measures read Linux's /proc and its ru_maxrss (KiB) in forked children.
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="measures the Linux way")

CPU_SECONDS = 5.0
WALL_SECONDS = 60.0
#: A child that has not answered by then is taken for hung, killed, and the test fails.
HANG_SECONDS = 180.0
ROOT = Path(__file__).resolve().parents[2]


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """How one upload ended in the child: its error (``None``: committed) and its costs."""

    error: str | None
    kind: str | None
    cpu: float
    wall: float
    grown_mib: float


def upload_in_child(data: bytes, name: str, db: Path, options: UploadOptions) -> Outcome:
    """Upload ``data`` as ``name`` into the store at ``db`` in a child process, measured.

    The child comes from multiprocessing's fork server (see ``_child.py`` for why not a
    plain fork). One that has not answered within :data:`HANG_SECONDS` is killed and the
    test fails, naming the file, rather than waiting for ever.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.hostile._child"])  # once per server: the code imported
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "upload"
        source.write_bytes(data)
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_child.run, args=(str(source), name, str(db), options, send))
        with no_main_script():
            child.start()
        send.close()
        try:
            if not receive.poll(HANG_SECONDS):
                pytest.fail(f"uploading {name!r} did not end within {HANG_SECONDS:.0f} s")
            try:
                result = receive.recv()
            except EOFError:
                child.join(5)
                pytest.fail(f"the child died uploading {name!r} (exit code {child.exitcode})")
        finally:
            child.join(5)
            if child.is_alive():
                child.kill()
                child.join()
    assert "crash" not in result, f"{name!r}: {result['crash']}"
    return Outcome(**result)


# -- the store -----------------------------------------------------------------------------------


def snapshot(store: Store) -> dict[str, Any]:
    """What a refused upload must leave as it was."""
    return {
        "counts": {table: store.count(table) for table in SCHEMAS},
        "data_version": store.data_version(),
        "audit_log": store.read("audit_log").to_json(date_format="iso"),
        "uploads": store.read("uploads").to_json(date_format="iso"),
    }


@pytest.fixture(scope="module")
def shared_store(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the demo store for every refused file: none may change it."""
    path = tmp_path_factory.mktemp("hostile") / "store.gpkg"
    path.write_bytes(demo_store.read_bytes())
    return path


def assert_refused(outcome: Outcome, name: str, expect: str, *, memory_mib: float) -> None:
    """A clear refusal: an InputError naming the file, what is wrong, and what to do."""
    assert outcome.kind == "InputError", outcome
    message = outcome.error or ""
    assert message.startswith(f"{upload_name(name)}: "), message
    assert expect in message, message
    problem, _, fix = message.partition(". ")
    assert problem and fix.endswith("."), f"no fix in {message!r}"
    assert outcome.cpu < CPU_SECONDS, outcome
    assert outcome.wall < WALL_SECONDS, outcome
    assert outcome.grown_mib < memory_mib, outcome


# -- refused files -------------------------------------------------------------------------------


@linux_only
@pytest.mark.parametrize("name", list(REFUSED))
def test_hostile_file_is_refused_fast_in_bounded_memory_and_changes_nothing(name, shared_store):
    hostile = REFUSED[name]
    store = open_store(shared_store)
    before = snapshot(store)
    outcome = upload_in_child(hostile.build(), name, shared_store, UploadOptions(user="attacker"))
    assert_refused(outcome, name, hostile.expect, memory_mib=hostile.memory_mib)
    assert snapshot(store) == before


@pytest.fixture(scope="session")
def hundred_mb_line() -> bytes:
    return corpus.long_line_csv(100 * 10**6)


@linux_only
@pytest.mark.slow
@pytest.mark.parametrize(
    ("max_bytes", "expect"),
    [
        (None, "it is 95.4 MiB, more than the 50 MiB allowed"),
        # with room for it, the line itself is refused, from the raw bytes
        (200 * MIB, "line 2 is 100,000,000 bytes long, more than the 1,048,576 allowed"),
    ],
)
def test_a_100_mb_line_is_refused_without_copying_it(
    hundred_mb_line, shared_store, max_bytes, expect
):
    limits = ReadLimits() if max_bytes is None else ReadLimits(max_bytes=max_bytes)
    store = open_store(shared_store)
    before = snapshot(store)
    options = UploadOptions(user="attacker", limits=limits)
    outcome = upload_in_child(hundred_mb_line, "long.csv", shared_store, options)
    # decoding the file would take 200 MiB more; hashing it takes none
    assert_refused(outcome, "long.csv", expect, memory_mib=16)
    assert snapshot(store) == before


def test_the_kml_inside_a_kmz_is_held_to_the_upload_size_limit():
    placemark = b"<Placemark><name>%d</name><Point><coordinates>105.83,21.0</coordinates></Point>"
    kml = corpus.KML_NS + b"".join(placemark % i + b"</Placemark>" for i in range(30_000))
    kmz = corpus._zip([("doc.kml", kml + b"</kml>")])
    assert len(kmz) < MIB < len(kml)  # small enough to upload, and well within the ratio
    expect = r"^big\.kmz: the KML 'doc\.kml' inside is 2\.7 MiB, more than the 1 MiB allowed\."
    with pytest.raises(UrbanOrderError, match=expect):
        read_upload(kmz, name="big.kmz", limits=ReadLimits(max_bytes=MIB))


def test_the_corpus_is_what_it_claims():
    """The bombs are real: built small, they would inflate to what their names say."""
    stream, size, crc = corpus._zeros(3)
    inflated = zlib.decompressobj(-15).decompress(stream)
    assert (len(inflated), set(inflated), size) == (3 * MIB, {0}, 3 * MIB)
    assert crc == zlib.crc32(inflated)
    assert len(corpus.zip_bomb_xlsx()) < 2 * MIB
    assert len(corpus.wide_csv().split(b"\r\n")[0].split(b",")) == 10_000
    assert b"\x00" not in corpus.nul_csv()[:65_536] and b"\x00" in corpus.nul_csv()
    data = corpus.jpeg_bomb()
    assert data.startswith(b"\xff\xd8\xff") and b"\xc3\x50\xc3\x50" in data  # 50,000 = C350


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bomb.kml", "zip-bomb.xlsx", "wide.csv", "nul.csv", "bomb.jpg"])
def test_cli_import_refuses_hostile_files_and_changes_nothing(name, shared_store, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(REFUSED[name].build())
    store = open_store(shared_store)
    before = snapshot(store)
    code = main(["import", "--db", str(shared_store), "--json", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and not out
    assert err.startswith(f"error: {name}: ") and REFUSED[name].expect in err
    assert snapshot(store) == before


def test_cli_import_never_reads_a_file_over_the_size_limit(
    shared_store, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.truncate(100 * 10**6)  # sparse: 100 MB that take no disk
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read"))
    store = open_store(shared_store)
    before = snapshot(store)
    code = main(["import", "--db", str(shared_store), "--json", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: huge.csv: it is 95.4 MiB, more than the 50 MiB allowed.")
    assert snapshot(store) == before


def test_cli_import_of_formulas_and_a_name_with_a_newline(demo_copy, tmp_path, capsys):
    path = tmp_path / "đợt 1\n=cmd.csv"
    path.write_bytes(corpus.formula_csv())
    assert main(["import", "--db", str(demo_copy), "--json", str(path)]) == 0
    counts = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert counts["rows"] == len(corpus.FORMULAS) == counts["accepted"]
    assert counts["accepted"] + counts["duplicates"] + counts["quarantined"] == counts["rows"]
    uploads = open_store(demo_copy).read("uploads")
    assert uploads["file_name"].iloc[-1] == "đợt 1_=cmd.csv"


# -- formulas ------------------------------------------------------------------------------------


def test_formula_cells_are_stored_as_text_and_escaped_on_export(demo_copy):
    store = open_store(demo_copy)
    prepared = prepare_upload(corpus.formula_csv(), name="formulas.csv", store=store)
    summary = commit_upload(prepared, store=store)
    assert summary["accepted"] == summary["rows"] == len(corpus.FORMULAS)
    records = store.read("violations")
    records = records[records["upload_id"] == summary["upload_id"]].sort_values("observed_at")
    # as typed, but for the surrounding blanks every upload cell loses
    expected = [f.strip() for f in corpus.FORMULAS]
    assert records["address"].tolist() == expected
    assert records["legal_basis"].tolist() == expected

    rows = list(csv.reader(io.StringIO(export_records(records, fmt="csv").decode("utf-8-sig"))))
    header = rows[0]
    for column in ("address", "legal_basis"):
        exported = [row[header.index(_vi_header(column))] for row in rows[1:]]
        assert exported == ["'" + value for value in expected]

    book = openpyxl.load_workbook(io.BytesIO(export_records(records, fmt="xlsx")))
    sheet = book.active
    titles = [c.value for c in sheet[1]]
    for column in ("address", "legal_basis"):
        cells = [row[titles.index(_vi_header(column))] for row in sheet.iter_rows(min_row=2)]
        assert [c.value for c in cells] == expected  # the text intact...
        assert {c.data_type for c in cells} == {"s"}  # ...as text, never a formula
        assert all(c.quotePrefix for c in cells)
    assert store.read("violations").loc[records.index, "address"].tolist() == expected


def _vi_header(column: str) -> str:
    from geo.i18n import t

    return t(f"column.{column}", "vi")


# -- names -----------------------------------------------------------------------------------------

#: The names of a hostile client, and what is kept of them.
NAMES = {
    "../../etc/passwd.csv": "passwd.csv",
    "C:\\Windows\\System32\\x.csv": "x.csv",
    "/abs/dir/y.csv": "y.csv",
    "a\x00b.csv": "a_b.csv",
    "a\nb\r\n.csv": "a_b__.csv",
    "hoa-don\u202ecsv.exe": "hoa-don_csv.exe",
    "=HYPERLINK(A1)+cmd|A0.csv": "=HYPERLINK(A1)+cmd|A0.csv",
    "..": "upload",
    "đ" * 400 + ".csv": "đ" * 150 + "…" + "đ" * 45 + ".csv",
}

_WATCHED: list[str] | None = None
#: Audit events of Python's file operations (see the "Audit events table" of the docs).
_FILE_EVENTS = frozenset(
    {"open", "os.chdir", "os.chmod", "os.link", "os.listdir", "os.mkdir", "os.remove",
     "os.rename", "os.rmdir", "os.scandir", "os.symlink", "os.truncate", "os.utime",
     "shutil.copyfile", "shutil.copytree", "shutil.move", "shutil.rmtree", "sqlite3.connect"}
)  # fmt: skip


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCHED is not None and event in _FILE_EVENTS:
        _WATCHED.extend(os.fsdecode(a) for a in args if isinstance(a, str | bytes | os.PathLike))


@pytest.fixture
def file_operations() -> Iterator[list[str]]:
    """Paths of every file Python opens, lists, moves or removes meanwhile (audit events)."""
    global _WATCHED
    if not getattr(sys, "_hostile_audit", False):
        sys.addaudithook(_audit)  # hooks cannot be removed: one, idle outside this fixture
        sys._hostile_audit = True  # type: ignore[attr-defined]
    _WATCHED = []
    try:
        yield _WATCHED
    finally:
        _WATCHED = None


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.name.startswith("store.")}


@pytest.mark.parametrize("name", list(NAMES))
def test_a_file_name_is_only_text(name, demo_copy, tmp_path, monkeypatch, file_operations):
    assert upload_name(name) == NAMES[name]
    work = tmp_path / "in" / "here"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # "../../etc/passwd.csv" would land in tmp_path/etc
    before_tree, before_abs = _tree(tmp_path), Path("/abs/dir/y.csv").exists()
    store = open_store(demo_copy)
    data = corpus.records_csv([corpus.record(i, address=f"tên {len(name)}") for i in range(3)])
    prepared = prepare_upload(data, name=name, store=store)
    summary = commit_upload(prepared, store=store)
    assert (summary["rows"], summary["accepted"]) == (3, 3)
    assert [part.name for part in prepared.parts] == [NAMES[name]]  # names messages and tables
    uploads = store.read("uploads").set_index("upload_id")
    stored = uploads.loc[summary["upload_id"], "file_name"]
    # stored as text (as given, or as upload_name makes it), never as a path
    assert isinstance(stored, str) and upload_name(stored) == NAMES[name]
    assert _tree(tmp_path) == before_tree
    assert Path("/abs/dir/y.csv").exists() == before_abs
    assert str(demo_copy) in file_operations  # the watch works: it saw the store opened
    last_part = name.replace("\\", "/").rsplit("/", 1)[-1]
    touched = [p for p in file_operations if last_part in p or NAMES[name] in p]
    assert name == ".." or not touched, touched


# -- damaged but readable ------------------------------------------------------------------------


def _cp1258(value: str) -> bytes:
    """Windows-1258 as Windows writes Vietnamese: tone marks as separate characters."""
    out = []
    for char in value:
        try:
            out.append(char.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            tones = "".join(c for c in parts if c in "\u0300\u0301\u0303\u0309\u0323")
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out.append((base + tones).encode("cp1258"))
    return b"".join(out)


def _readable() -> dict[str, tuple[bytes, list[int]]]:
    """Damaged files a reader must read anyway, and the records (by number) it accepts."""
    rows = [corpus.record(i, address=f"Ngõ {i} Phạm Ngọc Thạch") for i in range(5)]
    text = corpus.records_csv(rows).decode()
    ragged = text.splitlines()
    ragged[2] += ",thừa"  # one cell too many: a value lost, quarantined
    ragged[3] = ragged[3].rsplit(",", 2)[0]  # two cells short: shifted values, quarantined
    return {
        "windows-1258.csv": (_cp1258(text), [0, 1, 2, 3, 4]),
        "mac.csv": (text.replace("\r\n", "\r").encode(), [0, 1, 2, 3, 4]),
        "ragged.csv": ("\n".join(ragged).encode(), [0, 3, 4]),
        "no-final-newline.csv": (text.rstrip().encode(), [0, 1, 2, 3, 4]),
    }


@pytest.mark.parametrize("name", list(_readable()))
def test_damaged_but_readable_files_account_for_every_row(name, demo_copy):
    data, accepted = _readable()[name]
    store = open_store(demo_copy)
    summary = commit_upload(prepare_upload(data, name=name, store=store), store=store)
    assert summary["rows"] == 5
    assert (summary["accepted"], summary["quarantined"]) == (len(accepted), 5 - len(accepted))
    assert summary["accepted"] + summary["duplicates"] + summary["quarantined"] == 5
    records = store.read("violations")
    records = records[records["upload_id"] == summary["upload_id"]].sort_values("observed_at")
    assert records["address"].tolist() == [f"Ngõ {i} Phạm Ngọc Thạch" for i in accepted]


# -- the app ---------------------------------------------------------------------------------------


def test_the_app_caps_uploads_at_the_readers_limit():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] * MIB == ReadLimits().max_bytes


@pytest.mark.slow
def test_the_app_refuses_a_file_over_the_limit_before_reading_it(demo_copy, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import views.upload_page
    from tests.views import signed_in

    monkeypatch.setenv("URBAN_ORDER_DB", str(demo_copy))
    monkeypatch.setattr(views.upload_page, "MAX_UPLOAD_BYTES", MIB)
    calls = []
    monkeypatch.setattr(views.upload_page, "prepare_upload", lambda *a, **k: calls.append(k))
    router = "from views import common, upload_page\n" + (
        "upload_page.render(common.sidebar(common.get_store(str(common.store_location()))))"
    )
    at = signed_in(AppTest.from_string(router, default_timeout=120)).run()
    big = b"a,b\n" * 400_000
    at.file_uploader(key="upload-files").set_value(("../to.csv", big, "text/csv")).run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        "Tệp to.csv nặng 1,5 MiB, quá giới hạn 1 MiB cho mỗi tệp: hãy chia thành các tệp nhỏ hơn."
    ]
    assert not calls
