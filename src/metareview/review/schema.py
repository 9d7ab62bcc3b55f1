"""The project file's schema, as numbered migrations.

The schema version is kept in the project itself (``PRAGMA user_version`` in a SQLite
file, the table ``metareview_schema`` in a PostgreSQL database), so a project
opened by a newer metareview is upgraded in place, step by step, inside one
transaction, and a project written by a newer metareview is refused rather than
misread.  Each migration is a list of statements that takes the file from version
``n - 1`` to ``n``; migrations are never edited once released, only appended, so
that every project ever written can reach the current version.

Nothing in the schema is ever deleted by the application: decisions, duplicate
links, extracted values and adjudications are append-only logs, and the current
state is derived from the latest entry for each key.
"""

from __future__ import annotations

import re

__all__ = ["MIGRATIONS", "LATEST_VERSION", "TABLES"]

# 1: what was imported, from where, in which batch, with each record's raw text.
_V1 = [
    """CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('database', 'register', 'other'))
    )""",
    """CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        filename TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        format TEXT NOT NULL,
        encoding TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        imported_by TEXT,
        n_records INTEGER NOT NULL,
        n_malformed INTEGER NOT NULL
    )""",
    "CREATE INDEX batches_sha256 ON batches(sha256)",
    """CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        batch_id INTEGER NOT NULL REFERENCES batches(id),
        source_id INTEGER NOT NULL REFERENCES sources(id),
        position INTEGER NOT NULL,
        line INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'malformed')),
        problem TEXT,
        raw TEXT NOT NULL,
        type TEXT,
        title TEXT,
        abstract TEXT,
        authors TEXT NOT NULL DEFAULT '[]',
        year INTEGER,
        journal TEXT,
        volume TEXT,
        issue TEXT,
        pages TEXT,
        doi TEXT,
        pmid TEXT,
        keywords TEXT NOT NULL DEFAULT '[]',
        extra TEXT NOT NULL DEFAULT '{}',
        UNIQUE (batch_id, position)
    )""",
    "CREATE INDEX records_doi ON records(doi)",
    "CREATE INDEX records_pmid ON records(pmid)",
]

# 2: duplicates are links between records (a pair judged the same or distinct),
# never deletions; uncertain pairs wait in a queue for a person.
_V2 = [
    """CREATE TABLE dedupe_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        settings TEXT NOT NULL,
        n_records INTEGER NOT NULL,
        n_compared INTEGER NOT NULL,
        n_linked INTEGER NOT NULL,
        n_queued INTEGER NOT NULL
    )""",
    """CREATE TABLE pair_decisions (
        id INTEGER PRIMARY KEY,
        record_a INTEGER NOT NULL REFERENCES records(id),
        record_b INTEGER NOT NULL REFERENCES records(id),
        same INTEGER NOT NULL CHECK (same IN (0, 1)),
        method TEXT NOT NULL CHECK (method IN ('doi', 'pmid', 'fuzzy', 'manual')),
        score REAL,
        run_id INTEGER REFERENCES dedupe_runs(id),
        decided_by TEXT,
        note TEXT,
        created_at TEXT NOT NULL,
        CHECK (record_a < record_b)
    )""",
    "CREATE INDEX pair_decisions_pair ON pair_decisions(record_a, record_b)",
    """CREATE TABLE pair_candidates (
        id INTEGER PRIMARY KEY,
        record_a INTEGER NOT NULL REFERENCES records(id),
        record_b INTEGER NOT NULL REFERENCES records(id),
        score REAL NOT NULL,
        reason TEXT NOT NULL,
        run_id INTEGER REFERENCES dedupe_runs(id),
        created_at TEXT NOT NULL,
        CHECK (record_a < record_b),
        UNIQUE (record_a, record_b)
    )""",
    """CREATE TABLE primary_choices (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        chosen_by TEXT,
        created_at TEXT NOT NULL
    )""",
]

# 3: screening decisions by named reviewers, resolutions of conflicts, and whether a
# full text could be retrieved; all append-only.
_V3 = [
    """CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        stage TEXT NOT NULL CHECK (stage IN ('title_abstract', 'full_text')),
        reviewer TEXT NOT NULL,
        decision TEXT NOT NULL CHECK (decision IN ('include', 'exclude', 'maybe')),
        reason TEXT,
        note TEXT,
        is_resolution INTEGER NOT NULL DEFAULT 0 CHECK (is_resolution IN (0, 1)),
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX decisions_record ON decisions(record_id, stage)",
    """CREATE TABLE retrievals (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        retrieved INTEGER NOT NULL CHECK (retrieved IN (0, 1)),
        recorded_by TEXT NOT NULL,
        note TEXT,
        created_at TEXT NOT NULL
    )""",
]

# 4: studies (one or more reports each), the values two extractors entered, and the
# adjudicated value with who decided and why.
_V4 = [
    """CREATE TABLE study_assignments (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        study TEXT NOT NULL,
        assigned_by TEXT,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE extraction_values (
        id INTEGER PRIMARY KEY,
        study TEXT NOT NULL,
        field TEXT NOT NULL,
        extractor TEXT NOT NULL,
        value TEXT,
        entered_via TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX extraction_values_key ON extraction_values(study, field)",
    """CREATE TABLE adjudications (
        id INTEGER PRIMARY KEY,
        study TEXT NOT NULL,
        field TEXT NOT NULL,
        value TEXT,
        adjudicator TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
]

# 5: the team's workspace: accounts (never deleted, only marked removed, so the decision log
# keeps naming real people), full-text files stored under generated names, where in a
# report each extracted value was found, and screening decisions taken back (undo).
_V5 = [
    """CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('owner', 'reviewer', 'adjudicator')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT,
        removed_at TEXT
    )""",
    """CREATE TABLE fulltexts (
        id INTEGER PRIMARY KEY,
        record_id INTEGER NOT NULL REFERENCES records(id),
        stored_name TEXT NOT NULL UNIQUE,
        original_name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        uploaded_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX fulltexts_record ON fulltexts(record_id)",
    "ALTER TABLE extraction_values ADD COLUMN location TEXT",
    # a screener's "undo": the decision stays in the log, marked as taken back by its author
    """CREATE TABLE decision_retractions (
        id INTEGER PRIMARY KEY,
        decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions(id),
        retracted_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
]

# 6: risk-of-bias assessments (each assessor's answers to signalling questions and their own
# domain and overall judgments, with the quote and page that support them), adjudications
# with a reason, and GRADE ratings of each outcome's domains with a reason; all append-only.
_V6 = [
    """CREATE TABLE rob_answers (
        id INTEGER PRIMARY KEY,
        tool TEXT NOT NULL,
        outcome TEXT NOT NULL DEFAULT '',
        study TEXT NOT NULL,
        item TEXT NOT NULL,
        assessor TEXT NOT NULL,
        value TEXT,
        support TEXT,
        location TEXT,
        entered_via TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX rob_answers_key ON rob_answers(tool, outcome, study, item)",
    """CREATE TABLE rob_adjudications (
        id INTEGER PRIMARY KEY,
        tool TEXT NOT NULL,
        outcome TEXT NOT NULL DEFAULT '',
        study TEXT NOT NULL,
        item TEXT NOT NULL,
        value TEXT,
        adjudicator TEXT NOT NULL,
        reason TEXT NOT NULL,
        support TEXT,
        location TEXT,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE grade_ratings (
        id INTEGER PRIMARY KEY,
        outcome TEXT NOT NULL,
        domain TEXT NOT NULL CHECK (domain IN ('risk_of_bias', 'inconsistency', 'indirectness', 'imprecision',
                                               'publication_bias')),
        rating TEXT NOT NULL CHECK (rating IN ('not serious', 'serious', 'very serious')),
        reason TEXT NOT NULL,
        rated_by TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
]

MIGRATIONS: list[list[str]] = [_V1, _V2, _V3, _V4, _V5, _V6]
LATEST_VERSION = len(MIGRATIONS)
#: every table, in the order the migrations create them (a table after those it refers to)
TABLES: tuple[str, ...] = tuple(m.group(1) for step in MIGRATIONS for statement in step
                                for m in [re.match(r"CREATE TABLE (\w+)", statement)] if m)
