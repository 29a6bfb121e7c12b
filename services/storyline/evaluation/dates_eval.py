"""``storyline eval dates``: the date finder's TIMEX3 output against TimeML gold (TimeBank).

Each document of ``DATASET/documents.jsonl`` (``doc_id``, ``dct``, ``text``) goes through the
production path: ``split_sentences`` as ``extract_facts`` splits an article body, then
``find_timexes`` (``temporal.scan``, resolved against the document creation time). Offsets
into the joined sentences are mapped back to the original text. Scores are TempEval-3 Task A
timex figures with the definitions of ``../shared/tools/score_timex.py`` (re-implemented
here, checked equal by a test): strict and relaxed span P/R/F1 (relaxed = one-to-one overlap
pairing in text order), type and value accuracy over relaxed pairs, value F1 = relaxed F1 x
value accuracy. Figures are given for all expressions and for DATE ones (gold and predicted
rows of type DATE only), over the whole set and over two fixed halves (documents in sorted
``doc_id`` order, even and odd positions): rules are developed on the even half, and the odd
half is the held-out check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from storyline.domain.extract.text import Document, split_sentences
from storyline.domain.extract.timex import find_timexes
from storyline.evaluation.results import write_results

Row = dict[str, Any]


def load_jsonl(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def align(original: str, joined: str) -> list[int]:
    """For each character of ``joined`` (whitespace-collapsed lines of ``original`` joined with
    newlines), its offset in ``original``; one more entry for the end."""
    out: list[int] = []
    pos = 0
    for ch in joined:
        if ch.isspace():
            out.append(pos)
            continue
        while original[pos] != ch:
            pos += 1
        out.append(pos)
        pos += 1
    out.append(pos)
    return out


def predict(doc_id: str, dct: dt.date, text: str) -> list[Row]:
    """The timexes of one document as scorer rows, offsets into ``text``."""
    doc = Document(split_sentences(text))
    where = align(text, doc.text)
    rows: list[Row] = []
    for t in find_timexes(doc, dct):
        start, end = where[t.start], where[t.end - 1] + 1
        rows.append({"doc_id": doc_id, "start": start, "end": end, "type": t.type,
                     "value": t.value, "text": text[start:end]})
    return rows


# --- scoring: the definitions of score_timex.py -----------------------------------------


def pair(gold: Sequence[Row], pred: Sequence[Row]) -> list[tuple[int, int]]:
    """One-to-one overlap pairing, TE3-Normalizer style: in text order (gold before pred at
    one offset), a timex beginning inside an unpaired timex of the other side pairs with it."""
    sides = (gold, pred)
    begins = sorted((s["start"], side, i) for side in (0, 1) for i, s in enumerate(sides[side]))
    partner: tuple[dict[int, int], dict[int, int]] = ({}, {})
    for pos, side, i in begins:
        other = 1 - side
        for j, o in enumerate(sides[other]):
            begun = o["start"] < pos or (side == 1 and o["start"] == pos)
            if begun and pos < o["end"] and j not in partner[other]:
                partner[side][i], partner[other][j] = j, i
                break
    return sorted(partner[0].items())


def _prf(match: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = match / n_pred if n_pred else 0.0
    r = match / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(pred: Iterable[Row], gold: Iterable[Row], doc_ids: Iterable[str]) -> dict[str, Any]:
    """TempEval-3 timex figures of ``pred`` against ``gold`` over the documents ``doc_ids``."""
    docs = sorted(set(doc_ids))
    wanted = set(docs)
    by_doc: tuple[defaultdict[str, list[Row]], defaultdict[str, list[Row]]] = (
        defaultdict(list), defaultdict(list))
    for side, rows in enumerate((gold, pred)):
        for row in rows:
            if row["doc_id"] in wanted:
                by_doc[side][row["doc_id"]].append(row)
    n_gold = sum(map(len, by_doc[0].values()))
    n_pred = sum(map(len, by_doc[1].values()))
    strict = relaxed = type_ok = value_ok = 0
    for doc in docs:
        g_rows, p_rows = by_doc[0][doc], by_doc[1][doc]
        for gi, pi in pair(g_rows, p_rows):
            g, p = g_rows[gi], p_rows[pi]
            relaxed += 1
            strict += (g["start"], g["end"]) == (p["start"], p["end"])
            type_ok += g["type"] == p.get("type")
            value_ok += g["value"] == p.get("value")
    sp, sr, sf = _prf(strict, n_pred, n_gold)
    rp, rr, rf = _prf(relaxed, n_pred, n_gold)
    type_acc = type_ok / relaxed if relaxed else 0.0
    value_acc = value_ok / relaxed if relaxed else 0.0
    return {"docs": len(docs), "gold": n_gold, "pred": n_pred, "strict_match": strict,
            "relaxed_match": relaxed, "strict_p": sp, "strict_r": sr, "strict_f1": sf,
            "relaxed_p": rp, "relaxed_r": rr, "relaxed_f1": rf, "type_acc": type_acc,
            "value_acc": value_acc, "type_f1": rf * type_acc, "value_f1": rf * value_acc}


def halves(doc_ids: Iterable[str]) -> dict[str, list[str]]:
    """The fixed split: sorted ``doc_id``, even positions (development) and odd (held out)."""
    ordered = sorted(doc_ids)
    return {"all": ordered, "dev_half": ordered[0::2], "heldout_half": ordered[1::2]}


def evaluate(dataset: Path) -> tuple[list[Row], dict[str, Any]]:
    documents = load_jsonl(dataset / "documents.jsonl")
    gold = load_jsonl(dataset / "gold" / "timexes.jsonl")
    pred: list[Row] = []
    for d in documents:
        pred.extend(predict(d["doc_id"], dt.date.fromisoformat(d["dct"]), d["text"]))
    gold_date = [g for g in gold if g["type"] == "DATE"]
    pred_date = [p for p in pred if p["type"] == "DATE"]
    scores: dict[str, Any] = {"dataset": dataset.name}
    for part, ids in halves(d["doc_id"] for d in documents).items():
        scores[part] = {"all_types": score(pred, gold, ids),
                        "date": score(pred_date, gold_date, ids)}
    return pred, scores


def format_table(scores: dict[str, Any]) -> str:
    lines = [f"{'part':<13} {'types':<5} {'gold':>5} {'pred':>5} {'strict F1':>9} "
             f"{'relaxed P':>9} {'R':>6} {'F1':>6} {'type acc':>8} {'value acc':>9} "
             f"{'value F1':>8}"]
    for part in ("all", "dev_half", "heldout_half"):
        for kind in ("date", "all_types"):
            s = scores[part][kind]
            lines.append(f"{part:<13} {kind[:5]:<5} {s['gold']:>5} {s['pred']:>5} "
                         f"{s['strict_f1']:>9.3f} {s['relaxed_p']:>9.3f} {s['relaxed_r']:>6.3f} "
                         f"{s['relaxed_f1']:>6.3f} {s['type_acc']:>8.3f} {s['value_acc']:>9.3f} "
                         f"{s['value_f1']:>8.3f}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, required=True,
                        help="directory with documents.jsonl and gold/timexes.jsonl")
    parser.add_argument("--out", type=Path, required=True,
                        help="where to write timexes.jsonl and scores.json")


def run(args: argparse.Namespace) -> int:
    dataset: Path = args.dataset
    if not (dataset / "documents.jsonl").is_file() or not (
            dataset / "gold" / "timexes.jsonl").is_file():
        print(f"no documents.jsonl and gold/timexes.jsonl under {dataset}")
        return 2
    pred, scores = evaluate(dataset)
    out: Path = args.out
    write_results(out, "timexes.jsonl", pred, scores)
    print(format_table(scores))
    return 0
