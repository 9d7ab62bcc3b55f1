"""RoB 2's algorithms against every combination of signalling answers in the guidance's tables.

The tables below are transcribed from the RoB 2 guidance document (Higgins JPT, Savović J,
Page MJ, Sterne JAC, "Revised Cochrane risk-of-bias tool for randomized trials (RoB 2)",
22 August 2019: the "Risk-of-bias judgement" algorithm of each domain, for the effect of
assignment to intervention), independently of ``data/rob/rob2.toml``.  Each row lists,
per signalling question, the answers it covers ("any" for any answer including not
asked, "NA" for not asked) and the proposed judgment.  Every combination of answers
(Y, PY, PN, N, NI or not asked, per question) that a row covers is run through the
engine and must give that row's judgment; combinations no row covers are ones the
guidance never reaches (a question asked that its path skips, or one skipped that its
path asks) and are not scored here.
"""

from __future__ import annotations

import itertools

import pytest

from metareview.appraisal.rob import load_tool
from metareview.base.exceptions import DataError

YES = {"Y", "PY"}
NO = {"N", "PN"}
NI = {"NI"}
NA = {None}
ANY = {"Y", "PY", "PN", "N", "NI", None}
ANSWERED = {"Y", "PY", "PN", "N", "NI"}
LOW, SOME, HIGH = "Low", "Some concerns", "High"

# Domain 1: 1.1, 1.2, 1.3
D1 = [
    ((YES | NI, YES, NO | NI), LOW),
    ((YES | NI, YES, YES), SOME),
    ((NO, YES, ANSWERED), SOME),
    ((ANSWERED, NI, NO | NI), SOME),
    ((ANSWERED, NI, YES), HIGH),
    ((ANSWERED, NO, ANSWERED), HIGH),
]

# Domain 2, part 1: 2.1, 2.2, 2.3, 2.4, 2.5 ("either" rows: 2.1 or 2.2 Y/PY/NI)
D2_PART1 = [
    ((NO, NO, NA, NA, NA), LOW),
    (("either", NO, NA, NA), LOW),
    (("either", NI, NA, NA), SOME),
    (("either", YES, NO, NA), SOME),
    (("either", YES, YES | NI, YES), SOME),
    (("either", YES, YES | NI, NO | NI), HIGH),
]
# Domain 2, part 2: 2.6, 2.7
D2_PART2 = [
    ((YES, NA), LOW),
    ((NO | NI, NO), SOME),
    ((NO | NI, YES | NI), HIGH),
]

# Domain 3: 3.1, 3.2 (no NI offered), 3.3, 3.4
D3 = [
    ((YES, NA, NA, NA), LOW),
    ((NO | NI, YES, NA, NA), LOW),
    ((NO | NI, NO, NO, NA), LOW),
    ((NO | NI, NO, YES | NI, NO), SOME),
    ((NO | NI, NO, YES | NI, YES | NI), HIGH),
]

# Domain 4: 4.1, 4.2, 4.3, 4.4, 4.5
D4 = [
    ((YES, ANSWERED, NA, NA, NA), HIGH),
    ((NO | NI, YES, NA, NA, NA), HIGH),
    ((NO | NI, NO, NO, NA, NA), LOW),
    ((NO | NI, NO, YES | NI, NO, NA), LOW),
    ((NO | NI, NI, NO, NA, NA), SOME),
    ((NO | NI, NI, YES | NI, NO, NA), SOME),
    ((NO | NI, NO | NI, YES | NI, YES | NI, NO), SOME),
    ((NO | NI, NO | NI, YES | NI, YES | NI, YES | NI), HIGH),
]

# Domain 5: 5.1, 5.2, 5.3
D5 = [
    ((YES, NO, NO), LOW),
    ((NO | NI, NO, NO), SOME),
    ((ANSWERED, NI, NO | NI), SOME),
    ((ANSWERED, NO | NI, NI), SOME),
    ((ANSWERED, YES, ANSWERED), HIGH),
    ((ANSWERED, ANSWERED, YES), HIGH),
]


def _covers(cells, combo) -> bool:
    if cells[0] == "either":
        a, b = combo[0], combo[1]
        if not ((a in YES | NI) or (b in YES | NI)) or a is None or b is None:
            return False
        return all(c in allowed for c, allowed in zip(combo[2:], cells[1:]))
    return all(c in allowed for c, allowed in zip(combo, cells))


def _expected(table, combo):
    found = {judgment for cells, judgment in table if _covers(cells, combo)}
    assert len(found) <= 1, f"the transcribed table is ambiguous for {combo}: {found}"
    return found.pop() if found else None


def _check(domain, questions, table, extra=None):
    tool = load_tool("rob2")
    tested = 0
    space = [sorted(ANY - {"NI"} if q == "3.2" else ANY, key=str) for q in questions]
    for combo in itertools.product(*space):
        expected = _expected(table, combo)
        if expected is None:
            continue
        answers = dict(zip(questions, combo))
        answers.update(extra or {})
        assert tool.domain_judgment(domain, answers) == expected, (domain, answers)
        tested += 1
    return tested


def test_domain_1_every_combination():
    assert _check("D1", ["1.1", "1.2", "1.3"], D1) == 5 ** 3


def test_domain_2_part_1_every_combination():
    # part 2 answered low (2.6 = Y), so the domain judgment is part 1's
    n = _check("D2", ["2.1", "2.2", "2.3", "2.4", "2.5"], D2_PART1, {"2.6": "Y"})
    assert n == 4 + 21 * (2 + 1 + 2 * 2 + 2 * 3 * 2 + 2 * 3 * 3)


def test_domain_2_part_2_every_combination():
    n = _check("D2", ["2.6", "2.7"], D2_PART2, {"2.1": "N", "2.2": "N"})
    assert n == 2 + 3 * 5


@pytest.mark.parametrize("part1,part2,expected", [
    ({"2.1": "N", "2.2": "N"}, {"2.6": "Y"}, LOW),
    ({"2.1": "N", "2.2": "N"}, {"2.6": "N", "2.7": "N"}, SOME),
    ({"2.1": "N", "2.2": "N"}, {"2.6": "NI", "2.7": "Y"}, HIGH),
    ({"2.1": "Y", "2.2": "Y", "2.3": "NI"}, {"2.6": "Y"}, SOME),
    ({"2.1": "Y", "2.2": "Y", "2.3": "NI"}, {"2.6": "N", "2.7": "PN"}, SOME),
    ({"2.1": "Y", "2.2": "Y", "2.3": "NI"}, {"2.6": "N", "2.7": "PY"}, HIGH),
    ({"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N"}, {"2.6": "Y"}, HIGH),
    ({"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N"}, {"2.6": "N", "2.7": "N"}, HIGH),
    ({"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "N"}, {"2.6": "N", "2.7": "Y"}, HIGH),
])
def test_domain_2_takes_the_worse_part(part1, part2, expected):
    assert load_tool("rob2").domain_judgment("D2", {**part1, **part2}) == expected


def test_domain_3_every_combination():
    assert _check("D3", ["3.1", "3.2", "3.3", "3.4"], D3) == 2 + 3 * 2 + 3 * 2 * 2 + 3 * 2 * 3 * 2 + 3 * 2 * 3 * 3


def test_domain_4_every_combination():
    assert _check("D4", ["4.1", "4.2", "4.3", "4.4", "4.5"], D4) == \
        2 * 5 + 3 * 2 + 3 * 2 * 2 + 3 * 2 * 3 * 2 + 3 * 2 + 3 * 3 * 2 + 3 * 3 * 3 * 3 * 2 + 3 * 3 * 3 * 3 * 3


def test_domain_5_every_combination():
    assert _check("D5", ["5.1", "5.2", "5.3"], D5) == 5 ** 3


@pytest.mark.parametrize("domains,expected", [
    ([LOW] * 5, LOW),
    ([LOW, SOME, LOW, LOW, LOW], SOME),
    ([SOME] * 5, SOME),
    ([LOW, LOW, LOW, LOW, HIGH], HIGH),
    ([SOME, HIGH, SOME, LOW, LOW], HIGH),
])
def test_overall_judgment(domains, expected):
    assert load_tool("rob2").overall_judgment(domains) == expected


def test_a_question_always_asked_must_be_answered():
    with pytest.raises(DataError, match="question 1.3 of D1 needs an answer"):
        load_tool("rob2").domain_judgment("D1", {"1.1": "Y", "1.2": "Y"}, study="Trial A")


def test_a_path_that_needs_a_conditional_answer_says_which():
    with pytest.raises(DataError, match="3.2"):
        load_tool("rob2").domain_judgment("D3", {"3.1": "N"}, study="Trial A")


def test_answers_by_label_and_unknown_answers():
    tool = load_tool("rob2")
    assert tool.domain_judgment("D1", {"1.1": "yes", "1.2": "Probably yes", "1.3": "no"}) == LOW
    with pytest.raises(DataError, match="'maybe' is not an answer to question 1.1"):
        tool.domain_judgment("D1", {"1.1": "maybe", "1.2": "Y", "1.3": "N"}, study="Trial A")
