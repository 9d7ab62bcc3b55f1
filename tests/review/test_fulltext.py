"""Full-text PDFs: checked by their bytes, stored under generated names beside the project, logged."""

from __future__ import annotations

import hashlib

import pytest

from metareview.base.exceptions import DataError
from metareview.review.fulltext import attach_pdf, files_folder, fulltext_path, fulltexts, latest_fulltexts

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_a_pdf_is_stored_under_a_generated_name_with_its_hash(deduped, tmp_path):
    entry = attach_pdf(deduped, 1, PDF, filename="../../etc/passwd.pdf", by="ann")
    folder = files_folder(deduped)
    assert folder == tmp_path / "review.mrv.files"
    assert entry["stored_name"] != "passwd.pdf" and len(entry["stored_name"]) == 36
    assert entry["original_name"] == "passwd.pdf"
    assert (entry["size"], entry["sha256"], entry["uploaded_by"]) == (len(PDF), hashlib.sha256(PDF).hexdigest(), "ann")
    path, logged = fulltext_path(deduped, entry["id"])
    assert path.parent == folder and path.read_bytes() == PDF and logged == entry
    assert sorted(p.name for p in folder.iterdir()) == [entry["stored_name"]]
    assert not (tmp_path / "etc").exists()


def test_windows_paths_keep_only_their_last_component(deduped):
    entry = attach_pdf(deduped, 1, PDF, filename="C:\\Users\\ann\\Namba 2019.pdf", by="ann")
    assert entry["original_name"] == "Namba 2019.pdf"


@pytest.mark.parametrize("data, rule", [
    (b"", "empty"),
    (b"<html><script>alert(1)</script></html>", "pdf"),
    (b"PK\x03\x04 a zip named .pdf", "pdf"),
    (b" %PDF-1.4 leading space", "pdf"),
])
def test_what_is_not_a_pdf_is_refused_and_nothing_is_kept(deduped, data, rule):
    with pytest.raises(DataError) as info:
        attach_pdf(deduped, 1, data, filename="paper.pdf", by="ann")
    assert info.value.rule == rule and "paper.pdf" in str(info.value)
    assert fulltexts(deduped) == []
    assert not files_folder(deduped).exists() or not any(files_folder(deduped).iterdir())


def test_the_size_limit_is_enforced(deduped):
    with pytest.raises(DataError, match="the limit is") as info:
        attach_pdf(deduped, 1, PDF + b"x" * 100, filename="big.pdf", by="ann", max_bytes=len(PDF) + 50)
    assert info.value.rule == "size"
    assert attach_pdf(deduped, 1, PDF, filename="ok.pdf", by="ann", max_bytes=len(PDF))["size"] == len(PDF)


def test_unknown_records_and_anonymous_uploads_are_refused(deduped):
    with pytest.raises(DataError, match="no record 9999"):
        attach_pdf(deduped, 9999, PDF, filename="x.pdf", by="ann")
    with pytest.raises(DataError, match="who uploaded"):
        attach_pdf(deduped, 1, PDF, filename="x.pdf", by="")


def test_uploads_are_kept_and_the_latest_is_shown_for_the_whole_cluster(deduped):
    from metareview.review.dedupe import clusters
    cl = clusters(deduped.store)
    unit, members = next((p, m) for p, m in cl.members.items() if len(m) > 1)
    other = next(m for m in members if m != unit)
    first = attach_pdf(deduped, unit, PDF, filename="v1.pdf", by="ann")
    second = attach_pdf(deduped, other, PDF + b"% v2\n", filename="v2.pdf", by="bob")
    assert second["record_id"] == unit  # stored against the report's cluster, whichever copy was named
    assert [f["id"] for f in fulltexts(deduped)] == [first["id"], second["id"]]
    assert latest_fulltexts(deduped)[unit]["id"] == second["id"]
    assert fulltext_path(deduped, first["id"])[0].read_bytes() == PDF


def test_a_tampered_or_missing_file_is_an_error_not_a_path(deduped):
    entry = attach_pdf(deduped, 1, PDF, filename="x.pdf", by="ann")
    with pytest.raises(DataError, match="no uploaded file"):
        fulltext_path(deduped, entry["id"] + 1)
    with deduped.store.transaction():
        deduped.store._write("UPDATE fulltexts SET stored_name = '../review.mrv' WHERE id = ?", (entry["id"],))
    with pytest.raises(DataError, match="invalid stored name"):
        fulltext_path(deduped, entry["id"])
    second = attach_pdf(deduped, 1, PDF, filename="y.pdf", by="ann")
    fulltext_path(deduped, second["id"])[0].unlink()
    with pytest.raises(DataError, match="missing"):
        fulltext_path(deduped, second["id"])


def test_reports_sought_say_retrieval_file_state_and_study(screened):
    from metareview.review.fulltext import reports_sought
    entry = attach_pdf(screened, 6, PDF, filename="namba.pdf", by="ann")
    rows = {r["record_id"]: r for r in reports_sought(screened)}
    assert sorted(rows) == [1, 2, 3, 6, 8, 10]
    assert rows[10]["retrieved"] is False and rows[10]["state"] is None
    assert rows[10]["retrieval"]["note"] == "not held by any library"
    assert rows[1]["retrieved"] is None and rows[1]["state"].state == "included"
    assert rows[8]["state"].state == "excluded" and rows[8]["state"].reason == "wrong study design"
    assert rows[8]["study"] is None
    assert rows[6]["file"]["id"] == entry["id"] and rows[6]["study"] == "Namba 2019"
    assert rows[1]["file"] is None
