"""The public API of metareview.review is curated: this list changes only on purpose."""

import subprocess
import sys

import metareview.review as review


def test_public_api_is_pinned():
    assert sorted(review.__all__) == sorted([
        "Project", "Store", "Record", "ParseResult", "ImportReport", "STAGES", "DEFAULT_REASONS", "parse_stage",
        "export_records", "run_dedupe", "DedupeSettings", "DedupeReport", "Clusters", "clusters", "merge", "split",
        "choose_primary", "resolve_pair", "review_queue", "decide", "resolve", "states", "UnitState", "conflicts",
        "agreement", "cohen_kappa", "Agreement", "export_decisions", "import_decisions", "screening_sheet",
        "set_retrieval", "assign_study", "study_labels", "run_screen", "Form", "Field", "load_form", "set_form",
        "get_form", "import_values", "enter_values", "discrepancies", "adjudicate", "export_analysis",
        "prisma_counts", "select_records", "import_tool_decisions", "check_entries", "save_entries",
        "parse_location", "attach_pdf", "fulltext_path", "reports_sought"])
    for name in review.__all__:
        assert getattr(review, name) is not None


def test_the_command_line_does_not_load_the_review_stack_to_start():
    code = ("import sys, metareview.cli; "
            "print(sorted(m for m in ('rapidfuzz', 'rispy', 'pandas', 'metareview.review') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "rapidfuzz" not in out and "rispy" not in out and "metareview.review'" not in out
