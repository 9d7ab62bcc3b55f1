"""De-duplication: records of one article found in several databases are linked, never deleted.

Two passes, as in the methods of Bramer et al. (2016, "De-duplication of database search
results for systematic reviews in EndNote", J Med Libr Assoc 104:240-3) and Rathbone et
al. (2015, "Better duplicate detection for systematic reviewers", Syst Rev 4:6):

1. **Exact identifiers.**  Records sharing a PMID are the same article.  Records sharing
   a DOI are too, unless their titles clearly differ: Embase gives conference abstracts
   the DOI of the whole supplement, so such pairs go to the review queue instead.
2. **Fuzzy bibliographic match.**  Candidate pairs come from blocking (records sharing
   the start or the end of their normalised title, or first author, year and first
   page, or first author and year), so that the work grows with the number of records,
   not its square.  Each pair is scored on title similarity (rapidfuzz) and on agreement
   of year, first author, journal, volume and first page; a pair whose fields conflict
   (different DOIs, volumes, pages, years) is never linked automatically.  Pairs that are
   probably but not surely the same wait in the review queue for a person.

A link is a row in an append-only log of pair decisions; the clusters are the connected
components of the latest "same" decisions, and each cluster has one primary record that
is screened.  A person can merge records, split a record out of its cluster, choose the
primary, and decide queued pairs; automatic runs never overturn a person's decision.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

from rapidfuzz import fuzz, process

from ..base.collector import collector_paused
from ..base.exceptions import DataError, SettingsError
from .normalize import clean_doi, first_author_key, first_page, journal_key, journals_match, norm_title, norm_titles
from .store import Store

if TYPE_CHECKING:  # numpy is imported where pairs are found and compared: a command that only reads clusters
    import numpy as np  # (import, screen, count) starts without it

__all__ = ["DedupeSettings", "DedupeReport", "Clusters", "run_dedupe", "clusters", "compare_records",
           "merge", "split", "choose_primary", "resolve_pair", "review_queue", "prepare"]

Progress = Callable[[str, int, int], None]

# Notices about an article (errata, retractions, comments, replies) repeat its title but
# are separate records; PubMed lists them as their own publication types.
_NOTICE = re.compile(r"^(erratum|errata|correction|corrigendum|retraction|retracted|withdrawn|comment on|"
                     r"reply|response to|expression of concern|notice of)\b")


@dataclass(frozen=True)
class DedupeSettings:
    """Thresholds on title similarity (0-100, rapidfuzz ratio of normalised titles).

    ``link`` and above with no conflicting field links a pair; ``link_supported`` and
    above links when at least ``support`` of year, first author, journal, volume and
    first page agree; ``queue`` and above sends the pair to the review queue.  Titles of
    fewer than ``short_title_words`` words ("Editorial", "Reply to Smith") need full
    support before they are linked.  Blocks larger than ``max_block`` are compared
    within a sliding window of ``window`` records sorted by title.
    """

    link: float = 97.0
    link_supported: float = 90.0
    support: int = 2
    queue: float = 80.0
    doi_title_min: float = 70.0
    short_title_words: int = 4
    max_block: int = 60
    window: int = 12

    def __post_init__(self) -> None:
        if not 0 <= self.queue <= self.link_supported <= self.link <= 100:
            raise SettingsError(f"thresholds must satisfy 0 <= queue ({self.queue}) <= link_supported "
                                f"({self.link_supported}) <= link ({self.link}) <= 100")


class _Key(NamedTuple):
    id: int
    title: str
    words: int
    year: int | None
    author: str
    journal: str
    volume: str
    page: str
    doi: str | None
    pmid: str | None


def prepare(rec: dict[str, Any]) -> _Key:
    """Comparable keys of a stored record."""
    title = norm_title(rec.get("title"))
    # in the order of the fields (``_make`` skips the keyword handling: this runs once per record)
    return _Key._make((int(rec["id"]), title, len(title.split()), rec.get("year"),
                       first_author_key(rec.get("authors")), journal_key(rec.get("journal")),
                       (rec.get("volume") or "").strip().lower(), first_page(rec.get("pages")),
                       clean_doi(rec.get("doi")), rec.get("pmid") or None))


def compare_records(a: _Key, b: _Key, settings: DedupeSettings = DedupeSettings(), *,
                    similarity: float | None = None) -> tuple[str, float, str]:
    """Verdict on one pair: ``("same" | "queue" | "different", title similarity, reason)``.

    ``similarity`` is the title similarity if already computed (in bulk, by the caller).
    """
    if a.doi and b.doi and a.doi != b.doi:
        return "different", 0.0, "different DOIs"
    if a.pmid and b.pmid and a.pmid != b.pmid:
        return "different", 0.0, "different PMIDs"
    if not a.title or not b.title:
        return "different", 0.0, "no title to compare"
    sim = similarity if similarity is not None else _title_similarity(a.title, b.title, settings.queue)
    if sim < settings.queue:
        return "different", sim, "titles differ"
    conflicts = []
    if bool(_NOTICE.match(a.title)) != bool(_NOTICE.match(b.title)):
        conflicts.append("one is a correction or comment notice")
    if a.year and b.year and abs(a.year - b.year) > 1:
        conflicts.append("year")
    if a.volume and b.volume and a.volume != b.volume:
        conflicts.append("volume")
    if a.page and b.page and a.page != b.page:
        conflicts.append("first page")
    agree = []
    if a.year and b.year and a.year == b.year:
        agree.append("year")
    if a.author and b.author and fuzz.ratio(a.author, b.author) >= 85:
        agree.append("first author")
    if journals_match(a.journal, b.journal):
        agree.append("journal")
    if a.volume and a.volume == b.volume:
        agree.append("volume")
    if a.page and a.page == b.page:
        agree.append("first page")
    reason = (f"title {sim:.0f}%; agree: {', '.join(agree) or 'none'}"
              + (f"; conflict: {', '.join(conflicts)}" if conflicts else ""))
    short = min(a.words, b.words) < settings.short_title_words
    if conflicts:
        # a conflicting field with nothing else in common is another article; with
        # something in common (a conference abstract of the article, an erratum) a person decides
        if sim >= settings.link_supported and agree:
            return "queue", sim, reason
        return "different", sim, reason
    if short:
        return ("same" if len(agree) >= 4 and sim >= settings.link else "queue"), sim, reason
    if sim >= settings.link and len(agree) >= 1:
        return "same", sim, reason
    if sim >= settings.link_supported and len(agree) >= settings.support:
        return "same", sim, reason
    if len(agree) >= 4 and sim >= settings.queue + 5:
        return "same", sim, reason
    if agree or sim >= settings.link_supported:
        return "queue", sim, reason
    return "different", sim, reason


def _title_similarity(a: str, b: str, cutoff: float) -> float:
    """Ratio of the normalised titles, or of their sorted words if higher (word order
    differs between some databases' titles)."""
    sim = fuzz.ratio(a, b, score_cutoff=cutoff)
    if sim < 100:
        sim = max(sim, fuzz.token_sort_ratio(a, b, score_cutoff=cutoff))
    return sim


#: the characters of normalised titles; any other character is counted in one more column
_TITLE_CHARACTERS = b" 0123456789abcdefghijklmnopqrstuvwxyz"


@cache
def _character_column() -> np.ndarray:
    """The column of :func:`_character_counts` that counts each byte."""
    import numpy as np
    column = np.full(256, len(_TITLE_CHARACTERS), dtype=np.int64)
    column[np.frombuffer(_TITLE_CHARACTERS, dtype=np.uint8)] = np.arange(len(_TITLE_CHARACTERS))
    return column


def _character_counts(titles: np.ndarray, chunk: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Each title's length and how often it holds each character (a row of counts per title).

    A character not found in normalised titles counts in a last column shared by all such
    characters: the counts of two titles in common can then only be overstated, so a bound
    made from them still holds.
    """
    import numpy as np
    width = len(_TITLE_CHARACTERS) + 1
    column = _character_column()
    length = np.fromiter((len(t) for t in titles), dtype=np.int64, count=len(titles))
    chars = np.zeros((len(titles), width), dtype=np.uint16)
    for begin in range(0, len(titles), chunk):
        part = titles[begin:begin + chunk]
        # one byte per character (a character beyond ASCII becomes one "?"), the titles end to end
        text = np.frombuffer("".join(part.tolist()).encode("ascii", "replace"), dtype=np.uint8)
        owner = np.repeat(np.arange(len(part)) * width, length[begin:begin + chunk])
        counts = np.bincount(owner + column[text], minlength=len(part) * width)
        chars[begin:begin + len(part)] = counts.reshape(len(part), width)
    return length, chars


def _codes(values: Iterable[Any], counter: Iterator[int] | None = None) -> tuple[np.ndarray, dict[int, Any]]:
    """Each distinct non-empty value as an integer (equal values, equal codes; -1 for empty), and the
    distinct values by code.  Codes are drawn from ``counter`` (by default 0, 1, 2, ...), so that
    values coded with one counter get codes that differ between calls; they need not be consecutive."""
    import numpy as np
    index: dict[Any, int] = {None: -1, "": -1}
    # one C loop: a value seen before keeps its code, a new one takes the next number drawn
    codes = np.fromiter(map(index.setdefault, values, counter or itertools.count()), dtype=np.int64)
    return codes, {code: value for value, code in index.items() if code >= 0}


class _Fields:
    """The keys of all records as arrays, so that many pairs are judged at once.

    Titles are held as arrays of Python strings: picking the titles of a million pairs
    is then one indexing operation in C instead of a list built in Python.
    """

    def __init__(self, keys: Sequence[_Key]):
        import numpy as np
        self.title = np.asarray([k.title for k in keys], dtype=object)
        # each title with its words sorted, made when the title is first compared that way (few are)
        self.sorted_title = np.full(len(keys), None, dtype=object)
        self.author = np.asarray([k.author for k in keys], dtype=object)
        self.has_author = self.author != ""
        self.words = np.asarray([k.words for k in keys], dtype=np.int64)
        self.year = np.asarray([k.year or 0 for k in keys], dtype=np.int64)
        self.notice = np.asarray([bool(_NOTICE.match(k.title)) for k in keys])
        self.doi = _codes([k.doi for k in keys])[0]
        self.pmid = _codes([k.pmid for k in keys])[0]
        self.volume = _codes([k.volume for k in keys])[0]
        self.page = _codes([k.page for k in keys])[0]
        self.journal, self.journals = _codes([k.journal for k in keys])
        self._journals_match: dict[tuple[int, int], bool] = {}
        self.length, self.chars = _character_counts(self.title)

    def similarity(self, a: np.ndarray, b: np.ndarray, cutoff: float) -> np.ndarray:
        """Title similarity of pairs ``(a[i], b[i])``, as :func:`_title_similarity` gives it, in C.

        The second score compares titles with their words sorted (the token-sort ratio), made
        once per record instead of once per pair.
        """
        import numpy as np
        plain = process.cpdist(self.title[a], self.title[b], scorer=fuzz.ratio, score_cutoff=cutoff, workers=-1)
        # equal titles need no second score
        left = np.flatnonzero(plain < 100)
        for p in np.unique(np.r_[a[left], b[left]]).tolist():
            if self.sorted_title[p] is None:
                self.sorted_title[p] = " ".join(sorted(self.title[p].split()))
        order = process.cpdist(self.sorted_title[a[left]], self.sorted_title[b[left]], scorer=fuzz.ratio,
                               score_cutoff=cutoff, workers=-1)
        plain[left] = np.maximum(plain[left], order)
        return plain

    def threshold(self, a: np.ndarray, b: np.ndarray, settings: DedupeSettings, *,
                  lower: bool = False) -> np.ndarray:
        """The least title similarity at which :func:`compare_records` would not call pairs ``(a[i], b[i])``
        "different" (infinite where no similarity would do), by the same rules, on arrays.

        ``queue`` for pairs with no conflicting field that are short or agree on a field,
        ``link_supported`` for the others that may still be linked or queued, infinite for
        different identifiers, a missing title, or a conflict with nothing in common.  With
        ``lower`` the first author and journal, the costlier agreements, are taken as agreeing:
        a lower bound, to set aside pairs whose titles cannot reach it before those are compared.
        """
        import numpy as np
        # each field of both records picked once (a chunk's pairs are many)
        ya, yb, va, vb, pa, pb = self.year[a], self.year[b], self.volume[a], self.volume[b], self.page[a], self.page[b]
        years = (ya > 0) & (yb > 0)
        conflict = ((self.notice[a] != self.notice[b]) | (years & (np.abs(ya - yb) > 1))
                    | ((va >= 0) & (vb >= 0) & (va != vb)) | ((pa >= 0) & (pb >= 0) & (pa != pb)))
        agree = (years & (ya == yb)) | ((va >= 0) & (va == vb)) | ((pa >= 0) & (pa == pb))
        authors = self.has_author[a] & self.has_author[b]
        if lower:
            agree |= authors | ((self.journal[a] >= 0) & (self.journal[b] >= 0))
        else:
            agree |= self._journal_agrees(a, b)
            pending = np.flatnonzero(~agree & authors)
            if len(pending):
                agree[pending] = process.cpdist(self.author[a[pending]], self.author[b[pending]],
                                                scorer=fuzz.ratio, workers=1) >= 85
        wa, wb = self.words[a], self.words[b]
        short = np.minimum(wa, wb) < settings.short_title_words
        # rapidfuzz's scores are single precision: the thresholds are compared in it too, as before
        need = np.where(~conflict & (short | agree), settings.queue, settings.link_supported).astype(np.float32)
        never = (conflict & ~agree) | (wa == 0) | (wb == 0)
        for codes in (self.pmid, self.doi):
            ca, cb = codes[a], codes[b]
            never |= (ca >= 0) & (cb >= 0) & (ca != cb)
        need[never] = np.inf
        return need

    def not_different(self, a: np.ndarray, b: np.ndarray, sim: np.ndarray, settings: DedupeSettings) -> np.ndarray:
        """Which pairs :func:`compare_records` would not call "different", given their title similarity.

        The same rules as :func:`compare_records`, on arrays: only the pairs left need its
        verdict and reason, one by one.
        """
        return sim >= self.threshold(a, b, settings)

    def may_reach(self, a: np.ndarray, b: np.ndarray, need: np.ndarray | float) -> np.ndarray:
        """Which pairs' title similarity may reach ``need``: ``False`` only where it surely does not.

        rapidfuzz's ratio is 200 x the longest common subsequence over the two lengths, and a
        common subsequence holds no more of each character than either title has; the sorted
        words have the characters of the title.  This bound (the bag distance of Bartolini et
        al. 2002, "String matching with metric trees using an approximate distance", SPIRE,
        LNCS 2476:271-83) costs a few array operations per pair instead of a comparison of two
        strings, and sets aside most candidate pairs of a block.
        """
        import numpy as np
        need = np.broadcast_to(np.asarray(need, dtype=np.float64), a.shape)
        total = self.length[a] + self.length[b]
        # some slack, more than single precision's rounding of a score near 100: a pair kept in
        # doubt is compared, and judged by its similarity
        floor = (need - 1e-3) * total
        out = np.isfinite(need) & (200.0 * np.minimum(self.length[a], self.length[b]) >= floor)
        check = np.flatnonzero(out)
        common = np.minimum(self.chars[a[check]], self.chars[b[check]]).sum(axis=1, dtype=np.int64)
        out[check] = 200.0 * common >= floor[check]
        return out

    def _journal_agrees(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        import numpy as np
        ja, jb = self.journal[a], self.journal[b]
        known = (ja >= 0) & (jb >= 0)
        out = known & (ja == jb)
        pending = np.flatnonzero(known & ~out)
        if len(pending):
            # few journals, so few pairs of them: each pair is judged once
            cache = self._journals_match
            for x, y in set(zip(ja[pending].tolist(), jb[pending].tolist())) - cache.keys():
                cache[x, y] = journals_match(self.journals[x], self.journals[y])
            out[pending] = [cache[x, y] for x, y in zip(ja[pending].tolist(), jb[pending].tolist())]
        return out


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        # a root has no entry (only union gives one, to the root it joins to another): most records
        # are roots of their own, answered by one look-up
        parent = self.parent
        root = parent.get(x)
        if root is None:
            return x
        while (up := parent.get(root)) is not None:
            root = up
        while x != root:  # every record on the way now points at the root
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


@dataclass
class Clusters:
    """Current clusters: ``primary[id]`` is the primary record of ``id``'s cluster."""

    primary: dict[int, int]
    members: dict[int, list[int]]

    def primaries(self) -> list[int]:
        return sorted(self.members)

    def duplicates(self) -> int:
        return sum(len(m) - 1 for m in self.members.values())


def _rank(rec: dict[str, Any]) -> tuple:
    """Order in which records are preferred as primary: database records, parsed, complete, oldest."""
    filled = sum(bool(rec.get(k)) for k in ("abstract", "doi", "pmid", "authors", "year", "journal", "volume",
                                             "pages"))
    return (rec.get("source_kind") == "other", rec.get("status") != "ok", -filled, rec["id"])


def clusters(store: Store, records: Sequence[dict[str, Any]] | None = None) -> Clusters:
    """Clusters derived from the decision log (latest decision on each pair wins).

    Computed once per state of the links (:meth:`Store.links_version`) and kept on the
    store, since screening asks for them at every decision; each caller gets its own copy.
    """
    if records is None:
        version = store.links_version()
        cached = store.memo.get("clusters")
        if cached is None or cached[0] != version:
            cached = store.memo["clusters"] = (version, _clusters(store, None))
        found: Clusters = cached[1]
        return Clusters(primary=dict(found.primary), members={k: list(v) for k, v in found.members.items()})
    return _clusters(store, records)


def _clusters(store: Store, records: Sequence[dict[str, Any]] | None) -> Clusters:
    uf = _UnionFind()
    for row in store.pair_decisions():
        if row["same"]:
            uf.union(row["record_a"], row["record_b"])
    if records is None:
        records = list(store.iter_records(("id", "status", "abstract", "doi", "pmid", "authors", "year",
                                           "journal", "volume", "pages")))
    by_root: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_root[uf.find(rec["id"])].append(rec)
    chosen = {row["record_id"]: i for i, row in enumerate(store.primary_choices())}
    primary: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    for group in by_root.values():
        picks = [r["id"] for r in group if r["id"] in chosen]
        if len(group) == 1:
            head = group[0]["id"]
        elif picks:
            head = max(picks, key=lambda i: chosen[i])
        else:
            head = min(group, key=_rank)["id"]
        ids = sorted(r["id"] for r in group)
        members[head] = ids
        for i in ids:
            primary[i] = head
    return Clusters(primary=primary, members=members)


@dataclass
class DedupeReport:
    run_id: int
    n_records: int
    n_compared: int
    linked_doi: int
    linked_pmid: int
    linked_fuzzy: int
    queued: int
    clusters: int
    duplicates: int

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _block_labels(keys: Sequence[_Key]) -> tuple[np.ndarray, np.ndarray]:
    """Blocking keys as ``(label, position)`` arrays: records sharing the start or the end of
    their title (without spaces), or first author, year and first page, or first author and
    year, share a label.  Records without a title get none (identifiers matched them already)."""
    import numpy as np
    compact = [k.title.replace(" ", "") for k in keys]
    kinds = (
        [c[:28] if len(c) >= 12 else None for c in compact],
        [c[-28:] if len(c) >= 12 else None for c in compact],
        [(k.author, k.year, k.page) if k.title and k.author and k.year and k.page else None for k in keys],
        [(k.author, k.year) if k.title and k.author and k.year else None for k in keys],
    )
    # one counter for all kinds: a label of one kind is never a label of another
    counter = itertools.count()
    labels, positions = [], []
    for values in kinds:
        codes = _codes(values, counter)[0]
        found = np.flatnonzero(codes >= 0)
        labels.append(codes[found])
        positions.append(found)
    return np.concatenate(labels), np.concatenate(positions)


def _candidate_pairs(keys: Sequence[_Key], settings: DedupeSettings, progress: Progress | None):
    """Unique candidate pairs (positions ``a < b`` in ``keys``) as two integer arrays, in order.

    Small blocks give all their pairs; a block larger than ``max_block`` (a common
    title opening, a prolific author's year) gives each record's ``window`` nearest
    neighbours in title order, the sorted-neighbourhood method of Hernandez and Stolfo
    (1995, "The merge/purge problem for large databases", SIGMOD Rec 24:127-38).  Blocks
    of one size are expanded together, as a matrix of their members.
    """
    import numpy as np
    n = len(keys)
    label, pos = _block_labels(keys)
    sort = np.lexsort((pos, label))
    label, pos = label[sort], pos[sort]
    starts = np.flatnonzero(np.r_[True, label[1:] != label[:-1]])
    sizes = np.diff(np.r_[starts, len(label)])
    codes = []
    shared = sizes > 1
    sizes_left = sizes[shared]
    done, n_blocks = 0, int(shared.sum())
    for size in np.unique(sizes_left[sizes_left <= settings.max_block]).tolist():
        first = starts[sizes == size]
        members = pos[first[:, None] + np.arange(size)]
        rows, cols = np.triu_indices(size, 1)
        a, b = members[:, rows].ravel(), members[:, cols].ravel()
        codes.append(np.minimum(a, b) * n + np.maximum(a, b))
        done += len(first)
        if progress:
            progress("blocking", done, n_blocks)
    large = starts[sizes > settings.max_block]
    if len(large):
        # order by title, ties by position (a stable sort of the block's members by title)
        # (Python's sort of the strings: the same stable order as numpy's argsort of an object array, which
        # compares through the same ``<`` but in half the time)
        titles = [k.title for k in keys]
        rank = np.empty(n, dtype=np.int64)
        rank[sorted(range(n), key=titles.__getitem__)] = np.arange(n)
        for first, size in zip(large.tolist(), sizes[sizes > settings.max_block].tolist()):
            g = pos[first:first + size]
            g = g[np.argsort(rank[g], kind="stable")]
            steps = range(1, min(settings.window, len(g) - 1) + 1)
            a = np.concatenate([g[:-w] for w in steps])
            b = np.concatenate([g[w:] for w in steps])
            codes.append(np.minimum(a, b) * n + np.maximum(a, b))
            done += 1
            if progress and done % 500 == 0:
                progress("blocking", done, n_blocks)
    if progress:
        progress("blocking", n_blocks, n_blocks)
    if not codes:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    pairs = np.concatenate(codes)
    pairs.sort()
    unique = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    return unique // n, unique % n


#: the columns of a record that its keys are made from, in the order of :func:`_prepare_columns`'s arguments
_KEY_COLUMNS = ("id", "title", "authors", "year", "journal", "volume", "pages", "doi", "pmid")


def _prepare_columns(ids: Sequence[int], titles: Sequence[str | None], authors: Sequence[str],
                     years: Sequence[int | None], journals: Sequence[str | None], volumes: Sequence[str | None],
                     pages: Sequence[str | None], dois: Sequence[str | None],
                     pmids: Sequence[str | None]) -> list[_Key]:
    """:func:`prepare` of many records given as columns (``authors`` as stored, JSON text): the same keys,
    with the titles normalised together and the author lists read in one pass."""
    normal = norm_titles(titles)
    firsts = json.loads(f"[{','.join(authors)}]")
    return [_Key._make(fields) for fields in zip(
        map(int, ids), normal, [t.count(" ") + 1 if t else 0 for t in normal], years, map(first_author_key, firsts),
        map(journal_key, journals), [(v or "").strip().lower() for v in volumes], map(first_page, pages),
        map(clean_doi, dois), [p or None for p in pmids])]


def _read_keys(store: Store, progress: Progress | None) -> dict[int, _Key]:
    """Comparable keys of every record, read as columns (only the keys' columns, only the keys kept)."""
    with collector_paused():
        columns = store.record_columns(_KEY_COLUMNS)
        total = len(columns[0])
        if progress:
            progress("reading records", 0, total)
        keys: dict[int, _Key] = {}
        step = 10_000
        for begin in range(0, total, step):
            for key in _prepare_columns(*(column[begin:begin + step] for column in columns)):
                keys[key.id] = key
            if progress:
                progress("reading records", len(keys), total)
    return keys


def run_dedupe(store: Store, settings: DedupeSettings = DedupeSettings(), *,
               progress: Progress | None = None) -> DedupeReport:
    """Link duplicates among all records and queue uncertain pairs; returns what was done.

    Pairs a person already decided are left alone, and so are pairs already queued; a
    second run only adds links for new records.  Everything found is written in one
    transaction with the run's settings, so a run is all or nothing.  ``progress`` is
    called with a stage ("reading records", "blocking", "comparing", "linking"), the
    work done and the work in all.
    """
    import numpy as np
    keys = _read_keys(store, progress)
    decided: dict[tuple[int, int], bool] = {(d["record_a"], d["record_b"]): bool(d["same"])
                                            for d in store.pair_decisions()}
    queued = {(c["record_a"], c["record_b"]) for c in store.candidates()}
    uf = _UnionFind()
    cannot: dict[int, set[int]] = defaultdict(set)
    for (a, b), same in decided.items():
        if same:
            uf.union(a, b)
        else:
            cannot[a].add(b)
            cannot[b].add(a)
    comp: dict[int, set[int]] = defaultdict(set)
    for i in keys:
        comp[uf.find(i)].add(i)

    def try_link(a: int, b: int) -> bool:
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            return False
        small, other = (comp[ra], rb) if len(comp[ra]) <= len(comp[rb]) else (comp[rb], ra)
        for u in small:
            for v in cannot.get(u, ()):
                if uf.find(v) == other:
                    return False
        uf.union(a, b)
        root = uf.find(a)
        merged = comp.pop(ra) | comp.pop(rb)
        comp[root] = merged
        return True

    links: list[tuple[int, int, bool, str, float | None, None, None, str | None]] = []
    queue: list[tuple[int, int, float, str]] = []

    def fresh(a: int, b: int) -> bool:
        pair = (a, b) if a < b else (b, a)
        return pair not in decided and pair not in queued

    counts = {"pmid": 0, "doi": 0, "fuzzy": 0}
    # 1. exact identifiers
    for field in ("pmid", "doi"):
        groups: dict[str, list[int]] = defaultdict(list)
        for k in keys.values():
            value = getattr(k, field)
            if value:
                groups[value].append(k.id)
        for value, sharing in groups.items():
            head = sharing[0]
            for other in sharing[1:]:
                if not fresh(head, other) or uf.find(head) == uf.find(other):
                    continue
                ka, kb = keys[head], keys[other]
                if field == "doi" and ka.title and kb.title:
                    sim = fuzz.token_set_ratio(ka.title, kb.title)
                    if sim < settings.doi_title_min:
                        queue.append((head, other, float(sim), f"same DOI {value} but titles differ ({sim:.0f}%)"))
                        continue
                if try_link(head, other):
                    links.append((head, other, True, field, 100.0, None, None, f"same {field.upper()} {value}"))
                    counts[field] += 1
                else:
                    queue.append((head, other, 100.0, f"same {field.upper()} {value}, but a person separated "
                                                      f"these clusters"))
    # 2. fuzzy matching within blocks
    order = list(keys.values())
    ids = np.asarray([k.id for k in order], dtype=np.int64)
    left_pos, right_pos = _candidate_pairs(order, settings, progress)
    total = len(left_pos)
    skip = set(decided) | queued
    fields = _Fields(order)
    # records linked already stay linked (links are only added below): their pairs need no comparison
    linked = np.asarray([uf.find(i) for i in ids.tolist()], dtype=np.int64)
    chunk = 250_000
    for begin in range(0, total, chunk):
        a_pos, b_pos = left_pos[begin:begin + chunk], right_pos[begin:begin + chunk]
        # two different DOIs are two articles: no need to compare their titles
        doi = fields.doi
        keep = ~((doi[a_pos] >= 0) & (doi[b_pos] >= 0) & (doi[a_pos] != doi[b_pos])) & (linked[a_pos] != linked[b_pos])
        a_pos, b_pos = a_pos[keep], b_pos[keep]
        # the title similarity each pair needs not to be "different": first without the costlier
        # agreements, then exactly for the pairs whose titles may reach that; only the pairs whose
        # titles may reach what they need are compared
        near = np.flatnonzero(fields.may_reach(a_pos, b_pos, fields.threshold(a_pos, b_pos, settings, lower=True)))
        a_pos, b_pos = a_pos[near], b_pos[near]
        need = fields.threshold(a_pos, b_pos, settings)
        near = np.flatnonzero(fields.may_reach(a_pos, b_pos, need))
        sims = np.zeros(len(a_pos), dtype=np.float32)
        sims[near] = fields.similarity(a_pos[near], b_pos[near], settings.queue)
        hits = np.flatnonzero(sims >= need)
        for h in hits.tolist():
            a, b = int(ids[a_pos[h]]), int(ids[b_pos[h]])
            if (a, b) in skip or uf.find(a) == uf.find(b):
                continue
            verdict, score, reason = compare_records(keys[a], keys[b], settings, similarity=float(sims[h]))
            if verdict == "same":
                if try_link(a, b):
                    links.append((a, b, True, "fuzzy", score, None, None, reason))
                    counts["fuzzy"] += 1
                else:
                    queue.append((a, b, score, reason + "; a person separated these clusters"))
            elif verdict == "queue":
                queue.append((a, b, score, reason))
        if progress:
            progress("comparing", min(begin + chunk, total), total)
    if progress:
        progress("comparing", total, total)
    # a queued pair whose records ended up linked anyway needs no one's attention
    queue = [q for q in queue if uf.find(q[0]) != uf.find(q[1])]
    seen: set[tuple[int, int]] = set()
    unique_queue = []
    for a, b, score, reason in queue:
        pair = (min(a, b), max(a, b))
        if pair not in seen:
            seen.add(pair)
            unique_queue.append((a, b, score, reason))

    def counted(rows: list, start: int, total: int) -> Iterator:
        for done, row in enumerate(rows, start=start + 1):
            if progress and done % 10_000 == 0:
                progress("linking", done, total)
            yield row

    n_rows = len(links) + len(unique_queue)
    with store.transaction():
        run_id = store.add_dedupe_run(settings=asdict(settings), n_records=len(keys), n_compared=total,
                                      n_linked=len(links), n_queued=len(unique_queue))
        store.add_pair_decisions((a, b, same, method, score, run_id, by, note)
                                 for a, b, same, method, score, _, by, note in counted(links, 0, n_rows))
        store.add_candidates((a, b, score, reason, run_id)
                             for a, b, score, reason in counted(unique_queue, len(links), n_rows))
    if progress:
        progress("linking", n_rows, n_rows)
    # the clusters are the components of the links, whichever record of each is primary
    n_clusters = len({uf.find(i) for i in keys})
    return DedupeReport(run_id=run_id, n_records=len(keys), n_compared=total, linked_doi=counts["doi"],
                        linked_pmid=counts["pmid"], linked_fuzzy=counts["fuzzy"], queued=len(unique_queue),
                        clusters=n_clusters, duplicates=len(keys) - n_clusters)


def _check_ids(store: Store, ids: Iterable[int]) -> None:
    for i in ids:
        if store.record(int(i)) is None:
            raise DataError(f"there is no record {i} in this project", study=str(i), rule="record-id")


def review_queue(store: Store) -> list[dict[str, Any]]:
    """Queued pairs not yet decided, with both records, most similar first."""
    current = clusters(store)
    out = []
    for cand in store.open_candidates():
        if current.primary.get(cand["record_a"]) == current.primary.get(cand["record_b"]):
            continue  # linked since it was queued
        out.append(cand)
    return out


def resolve_pair(store: Store, a: int, b: int, *, same: bool, by: str, note: str | None = None) -> None:
    """Record a person's decision on a pair (queued or not)."""
    if a == b:
        raise DataError("a record cannot be paired with itself", study=str(a), rule="record-id")
    _check_ids(store, (a, b))
    store.add_pair_decisions([(a, b, same, "manual", None, None, by, note)])


def merge(store: Store, ids: Sequence[int], *, by: str, note: str | None = None) -> int:
    """Link records (and their clusters) as one article; returns the primary of the result."""
    ids = [int(i) for i in ids]
    if len(set(ids)) < 2:
        raise DataError("merge needs at least two different record ids", rule="record-id")
    _check_ids(store, ids)
    head = ids[0]
    store.add_pair_decisions([(head, other, True, "manual", None, None, by, note) for other in ids[1:]
                              if other != head])
    return clusters(store).primary[head]


def split(store: Store, record_id: int, *, by: str, note: str | None = None) -> None:
    """Take a record out of its cluster; the rest of the cluster stays together.

    Every "same" link touching the record is countermanded by a "distinct" decision;
    if the record held the cluster together, the remaining members are re-linked to
    one another so that only the record named leaves.
    """
    _check_ids(store, (record_id,))
    before = clusters(store)
    group = before.members[before.primary[record_id]]
    if len(group) == 1:
        raise DataError(f"record {record_id} is not linked to any other record", study=str(record_id),
                        rule="split")
    touching = [d for d in store.pair_decisions() if d["same"] and record_id in (d["record_a"], d["record_b"])]
    rows: list[tuple] = [(d["record_a"], d["record_b"], False, "manual", None, None, by, note) for d in touching]
    rest = [i for i in group if i != record_id]
    with store.transaction():
        store.add_pair_decisions(rows)
        after = clusters(store)
        anchor = rest[0]
        relink = {after.primary[i] for i in rest} - {after.primary[anchor]}
        store.add_pair_decisions([(anchor, other, True, "manual", None, None, by,
                                   f"kept in the cluster when {record_id} was split out")
                                  for other in sorted(relink)])


def choose_primary(store: Store, record_id: int, *, by: str) -> None:
    """Make ``record_id`` the primary (screened) record of its cluster."""
    _check_ids(store, (record_id,))
    store.add_primary_choice(record_id, by)
