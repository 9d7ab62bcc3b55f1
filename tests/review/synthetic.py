"""A labelled set of bibliographic records with the differences real exports show.

Each article is written out by one to three databases in their own style (PubMed:
abbreviated journal, ``Smith AB``, abbreviated page ranges; Embase: British spelling,
``Smith A.B.``, often no DOI; Scopus: ``Smith, A.B.``, full journal name), with typos,
missing fields and year shifts (online versus print), plus hard negatives: companion
papers with nearly the same title, errata, and conference abstracts of the same study.
``article`` is the ground truth used to measure precision and recall of de-duplication.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from metareview.review.records import Record

INTERVENTIONS = ["focused ultrasound", "radiofrequency ablation", "stereotactic body radiotherapy",
                 "cryoablation", "microwave ablation", "single-fraction radiotherapy", "vertebroplasty",
                 "kyphoplasty", "denosumab", "zoledronic acid", "dexamethasone", "opioid rotation",
                 "hypofractionated radiotherapy", "palliative surgery", "methadone", "ketamine infusion",
                 "acupuncture", "nerve block", "radiopharmaceutical therapy", "radium-223",
                 "strontium-89", "percutaneous cementoplasty", "high-intensity focused ultrasound",
                 "brachytherapy", "proton therapy", "exercise training", "nurse-led follow-up",
                 "early palliative care", "telemonitoring", "cognitive behavioural therapy"]
COMPARATORS = ["placebo", "usual care", "external beam radiotherapy", "sham procedure", "best supportive care",
               "conventional fractionation", "observation", "standard analgesia", "surgery", "no treatment"]
CONDITIONS = ["painful bone metastases", "spinal metastases", "vertebral compression fractures",
              "osteoid osteoma", "breast cancer bone metastases", "prostate cancer bone metastases",
              "lung cancer bone metastases", "multiple myeloma bone disease", "pathological fractures",
              "metastatic spinal cord compression", "renal cell carcinoma metastases", "desmoid tumours",
              "uterine fibroids", "essential tremor", "pancreatic cancer pain", "liver metastases",
              "chronic low back pain", "knee osteoarthritis", "neuropathic cancer pain", "breakthrough pain"]
POPULATIONS = ["adults", "older adults", "patients receiving chemotherapy", "outpatients", "hospice patients",
               "a multicentre cohort", "a tertiary centre", "Chinese patients", "European centres",
               "patients with limited life expectancy", "a national registry", "community hospitals"]
DESIGNS = ["a randomized controlled trial", "a prospective cohort study", "a retrospective analysis",
           "a phase II trial", "a systematic review and meta-analysis", "a pilot study", "a case series",
           "a cost-effectiveness analysis", "a feasibility study", "a multicenter trial", "a cross-sectional survey"]
OUTCOMES = ["pain response", "quality of life", "local control", "adverse events", "opioid consumption",
            "survival", "functional outcomes", "patient-reported outcomes", "re-treatment rates", "costs"]
SURNAMES = [s for s in (
    "Smith Jones Wang Li Zhang Chen Liu Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Kim Lee Park Choi "
    "Jung Kang Cho Yoon Jang Lim Han Garcia Martinez Rodriguez Lopez Gonzalez Hernandez Perez Sanchez Ramirez "
    "Torres Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Rossi Russo Ferrari "
    "Esposito Bianchi Romano Colombo Ricci Marino Greco Tanaka Suzuki Takahashi Watanabe Ito Yamamoto Nakamura "
    "Kobayashi Kato Yoshida Brown Taylor Wilson Johnson Davies Evans Thomas Roberts Walker Wright Thompson White "
    "Hughes Edwards Green Hall Wood Harris Martin Jackson Clarke Dubois Durand Leroy Moreau Simon Laurent Lefebvre "
    "Michel Bertrand Roux Vincent Fournier Morel Girard Andre Mercier Blanc Guerin Boyer Garnier Chevalier "
    "Nielsen Jensen Hansen Pedersen Andersen Larsen Sorensen Rasmussen Johansson Karlsson Nilsson Eriksson "
    "Larsson Olsson Persson Svensson Gustafsson Novak Kowalski Nowak Wisniewski Wojcik Kowalczyk Kaminski "
    "Lewandowski Zielinski Szymanski Dabrowski Kozlowski Jankowski Mazur Kwiatkowski Krawczyk Piotrowski "
    "Grabowski Nowakowski Pawlowski Michalski Ivanov Smirnov Kuznetsov Popov Vasiliev Petrov Sokolov "
    "Mikhailov Fedorov Morozov Volkov Alekseev Lebedev Semenov Egorov Pavlov Kozlov Stepanov Nikolaev Orlov "
    "Andreev Makarov Nikitin Zakharov Zaitsev Solovyov Borisov Yakovlev Grigoriev Romanov Vorobyov").split()]
JOURNALS = [("Radiology", "Radiology"), ("European Radiology", "Eur Radiol"),
            ("Journal of Therapeutic Ultrasound", "J Ther Ultrasound"), ("Academic Radiology", "Acad Radiol"),
            ("International Journal of Radiation Oncology Biology Physics", "Int J Radiat Oncol Biol Phys"),
            ("Radiotherapy and Oncology", "Radiother Oncol"), ("Journal of Clinical Oncology", "J Clin Oncol"),
            ("Lancet Oncology", "Lancet Oncol"), ("Journal of Pain and Symptom Management", "J Pain Symptom Manage"),
            ("Supportive Care in Cancer", "Support Care Cancer"), ("BMC Palliative Care", "BMC Palliat Care"),
            ("Palliative Medicine", "Palliat Med"), ("Cancer", "Cancer"), ("Clinical Oncology", "Clin Oncol"),
            ("Journal of Vascular and Interventional Radiology", "J Vasc Interv Radiol"),
            ("Cardiovascular and Interventional Radiology", "Cardiovasc Intervent Radiol"),
            ("Spine Journal", "Spine J"), ("Journal of Neurosurgery Spine", "J Neurosurg Spine"),
            ("Pain Medicine", "Pain Med"), ("European Journal of Cancer", "Eur J Cancer"),
            ("British Journal of Radiology", "Br J Radiol"), ("Current Oncology", "Curr Oncol"),
            ("Frontiers in Oncology", "Front Oncol"), ("Cancers", "Cancers"), ("PLoS One", "PLoS One"),
            ("Scientific Reports", "Sci Rep"), ("BMJ Open", "BMJ Open"), ("JAMA Oncology", "JAMA Oncol"),
            ("Annals of Palliative Medicine", "Ann Palliat Med"), ("International Journal of Hyperthermia",
                                                                  "Int J Hyperthermia")]
BRITISH = [("randomized", "randomised"), ("tumor", "tumour"), ("center", "centre"), ("analyses", "analyses"),
           ("behavioral", "behavioural"), ("multicenter", "multicentre"), ("esophageal", "oesophageal")]


@dataclass
class Article:
    key: int
    title: str
    authors: list[tuple[str, str]]
    year: int
    journal: int
    volume: str
    issue: str
    pages: tuple[int, int]
    doi: str | None
    pmid: str | None


def _article(rng: random.Random, key: int) -> Article:
    title = (f"{rng.choice(INTERVENTIONS).capitalize()} versus {rng.choice(COMPARATORS)} for "
             f"{rng.choice(CONDITIONS)} in {rng.choice(POPULATIONS)}")
    if rng.random() < 0.5:
        title += f": {rng.choice(OUTCOMES)} in {rng.choice(DESIGNS)}"
    else:
        title += f": {rng.choice(DESIGNS)}"
    n_auth = rng.randint(1, 8)
    authors = [(rng.choice(SURNAMES), "".join(rng.choice("ABCDEFGHJKLMNPRSTW") for _ in range(rng.randint(1, 2))))
               for _ in range(n_auth)]
    start = rng.randint(1, 2500)
    return Article(key=key, title=title, authors=authors, year=rng.randint(1995, 2024),
                   journal=rng.randrange(len(JOURNALS)), volume=str(rng.randint(1, 400)), issue=str(rng.randint(1, 12)),
                   pages=(start, start + rng.randint(3, 15)),
                   doi=(f"10.{rng.randint(1000, 9999)}/j.x.{key}.{rng.randint(100, 999)}"
                        if rng.random() < 0.8 else None),
                   pmid=str(10_000_000 + key * 7 + rng.randint(0, 6)) if rng.random() < 0.7 else None)


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text))
    op = rng.random()
    if op < 0.4:
        return text[:i] + text[i + 1:]
    if op < 0.8:
        return text[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[i + 1:]
    return text[:i] + text[i:i + 2][::-1] + text[i + 2:]


def _render(rng: random.Random, art: Article, style: str) -> Record:
    title, year = art.title, art.year
    full, abbrev = JOURNALS[art.journal]
    start, end = art.pages
    rec = Record(line=0, raw="")
    if style == "pubmed":
        rec.title = title + "."
        rec.authors = [f"{s} {i}" for s, i in art.authors]
        rec.journal = abbrev
        rec.pages = f"{start}-{str(end)[-1]}" if str(end)[:-1] == str(start)[:-1] else f"{start}-{end}"
        rec.doi, rec.pmid = art.doi, art.pmid
    elif style == "embase":
        for us, uk in BRITISH:
            title = title.replace(us, uk)
        rec.title = title
        rec.authors = [f"{s} {'.'.join(i)}." for s, i in art.authors]
        rec.journal = full
        rec.pages = f"{start}-{end}"
        rec.doi = art.doi if rng.random() < 0.6 else None
    else:
        rec.title = title
        rec.authors = [f"{s}, {'.'.join(i)}." for s, i in art.authors]
        rec.journal = full
        rec.pages = f"{start}-{end}"
        rec.doi = art.doi if rng.random() < 0.9 else None
        rec.pmid = art.pmid if rng.random() < 0.5 else None
    if rng.random() < 0.05:
        rec.title = _typo(rng, rec.title)
    if rng.random() < 0.05:
        year += rng.choice((-1, 1))
    rec.year = None if rng.random() < 0.02 else year
    rec.volume = None if rng.random() < 0.08 else art.volume
    rec.issue = art.issue
    if rng.random() < 0.08:
        rec.pages = None
    rec.raw = f"{style}: {rec.title}"
    rec.extra = {"article": art.key}
    return rec


def generate(n_articles: int, *, seed: int = 1) -> list[tuple[str, Record]]:
    """(database, record) pairs; ``record.extra["article"]`` is the true article."""
    rng = random.Random(seed)
    out: list[tuple[str, Record]] = []
    key = 0
    for _ in range(n_articles):
        key += 1
        art = _article(rng, key)
        styles = [s for s in ("pubmed", "embase", "scopus") if rng.random() < 0.55] or ["pubmed"]
        out.extend((s, _render(rng, art, s)) for s in styles)
        roll = rng.random()
        if roll < 0.03:  # companion paper: nearly the same title, another article
            key += 1
            twin = Article(key=key, title=art.title.replace(":", ": long-term follow-up of", 1)
                           if ":" in art.title else art.title + ": part 2",
                           authors=art.authors, year=art.year + 1, journal=art.journal,
                           volume=str(int(art.volume) + 1), issue="1", pages=(art.pages[0] + 40, art.pages[1] + 40),
                           doi=f"{art.doi}.2" if art.doi else None, pmid=None)
            out.append(("pubmed", _render(rng, twin, "pubmed")))
        elif roll < 0.04:  # erratum notice
            key += 1
            notice = Article(key=key, title="Erratum: " + art.title, authors=art.authors[:1], year=art.year + 1,
                             journal=art.journal, volume=str(int(art.volume) + 1), issue="1",
                             pages=(art.pages[0], art.pages[0]), doi=None, pmid=None)
            out.append(("pubmed", _render(rng, notice, "pubmed")))
        elif roll < 0.07:  # conference abstract of the same study
            key += 1
            abstract = Article(key=key, title=art.title, authors=art.authors[:3], year=art.year - 1,
                               journal=rng.randrange(len(JOURNALS)), volume=str(rng.randint(1, 400)), issue="S1",
                               pages=(rng.randint(1, 900), 0), doi=None, pmid=None)
            rec = _render(rng, abstract, "embase")
            rec.pages = f"S{abstract.pages[0]}"
            out.append(("embase", rec))
    rng.shuffle(out)
    return out


def pair_metrics(truth: dict[int, int], predicted: dict[int, int]) -> dict[str, float]:
    """Pairwise precision and recall of predicted clusters against true articles (keys: record ids)."""
    from collections import Counter

    def pairs(counter: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    both = Counter((predicted[i], truth[i]) for i in truth)
    tp = pairs(both)
    pred = pairs(Counter(predicted[i] for i in truth))
    true = pairs(Counter(truth.values()))
    return {"true_pairs": true, "predicted_pairs": pred, "correct_pairs": tp,
            "precision": tp / pred if pred else 1.0, "recall": tp / true if true else 1.0}
