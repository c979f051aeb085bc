"""CLI ``backup``, ``restore`` and ``migrate``: on both stores, with clear refusals."""

from __future__ import annotations

from pathlib import Path

from geo.cli import main
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.model import SCHEMAS
from geo.store import SCHEMA_VERSION, open_store
from tests.concurrency._workload import NOW, csv_file, setup_store

V5_STORE = Path(__file__).resolve().parent / "data" / "store_v5.gpkg"


def _counts(url: str) -> dict[str, int]:
    store = open_store(url)
    return {t: store.count(t) for t in SCHEMAS}


def test_backup_then_restore_into_either_store(store_url, tmp_path, capsys):
    source = str(tmp_path / "source.gpkg")
    setup_store(source)
    store = open_store(source)
    commit_upload(prepare_upload(csv_file(5), name="f5.csv", store=store,
                                 options=UploadOptions(now=NOW)), store=store)  # fmt: skip
    out = tmp_path / "b.gpkg"
    assert main(["backup", "--db", source, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"backed up {source} to {out}: " in printed and "violations" in printed

    assert main(["restore", "--from", str(out), "--db", store_url]) == 0
    assert "restored" in capsys.readouterr().out
    assert _counts(store_url) == _counts(source)
    salt = open_store(source).offender_salt(stored=True)
    assert open_store(store_url).offender_salt(stored=True) == salt

    # Again into the same store: refused, nothing changed; with --overwrite, replaced.
    assert main(["restore", "--from", str(out), "--db", store_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "rows; restore into a new store, or overwrite" in err
    assert main(["restore", "--from", str(out), "--db", store_url, "--overwrite"]) == 0
    assert _counts(store_url) == _counts(source)


def test_an_old_backup_is_refused_until_migrated(tmp_path, capsys):
    old = tmp_path / "old.gpkg"
    old.write_bytes(V5_STORE.read_bytes())
    target = str(tmp_path / "new.gpkg")
    assert main(["restore", "--from", str(old), "--db", target]) == 2
    assert f"urban-order migrate --db {old}" in capsys.readouterr().err
    assert main(["migrate", "--db", str(old)]) == 0
    assert f"from schema version 5 to {SCHEMA_VERSION}" in capsys.readouterr().out
    assert main(["migrate", "--db", str(old)]) == 0
    assert f"already at schema version {SCHEMA_VERSION}" in capsys.readouterr().out
    assert main(["restore", "--from", str(old), "--db", target]) == 0
    assert _counts(target) == _counts(str(old))


def test_backup_refuses_an_existing_file_without_overwrite(tmp_path, capsys):
    source = str(tmp_path / "source.gpkg")
    setup_store(source)
    out = tmp_path / "b.gpkg"
    out.write_bytes(b"precious")
    assert main(["backup", "--db", source, "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == b"precious"
    assert main(["backup", "--db", source, "--out", str(out), "--overwrite"]) == 0
    assert _counts(str(out)) == _counts(source)
