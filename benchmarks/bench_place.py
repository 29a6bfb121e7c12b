"""``Clusterer.place`` alone (the staged worker's one ordered assign path) on a saved state.

Grows one clusterer exactly as ``bench_clustering.py --levels L1,...,Ln`` does (the same
synthetic background, the same slices of the real dev articles; the earlier levels' slices
are placed on the way), stops before the last level's timed slice and pickles the state
and that slice's ``clustering_features`` to ``--state`` (reused when it exists). Then, for
each of ``--runs`` runs, the state is unpickled afresh and the slice placed; printed: CPU
ms per article of ``place`` (min and median over the runs), of ``clustering_features``
over the same articles as the extract stage makes them (whole-body names
included for a long body; both after an untimed first pass, which loads compiled code), and
a digest of the assignments (story id, new-story flag, copy of, merged ids), to compare
two branches on the same state.

    PYTHONPATH=services .venv/bin/python benchmarks/bench_place.py \
        [--levels 1000,100000] [--state /tmp/place-100000.pickle] [--runs 5] [--profile] \
        [--sample N] [--compiled] [--cold-store DIR [--warm 600]]

``--sample N``: N more runs under a CPU-time sampler (``SIGPROF`` every tick of the kernel,
4 ms here), each sample charged to the line of ``storyline`` code being run; printed, the
lines with the most. Unlike ``--profile`` (cProfile, which doubles the time of Python calls
and charges it to the calls), the clock is the process's CPU time and the code runs at its
own speed. Python takes the signal after a call returns, so a call's samples go to the line
that made it; an array operation written as an operator or a subscript is not a call, and
its samples go to the next line that calls something.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import linecache
import pickle
import pstats
import signal
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from types import FrameType

from storyline.domain.assign import kernels
from storyline.domain.assign.clustering import Clusterer, ClusteringConfig, clustering_features
from storyline.domain.extract.extractor import (
    analysed_in_part,
    clustering_facts,
    extract_facts,
)
from storyline.domain.pipeline import WARM_ARTICLES
from storyline.evaluation.clustering_eval import merged_stream
from storyline.stream.coldstore import RocksColdStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_clustering import ROOT, Background


def build(levels: list[int], per_level: int, shared: Path
          ) -> tuple[bytes, list, list, list]:
    datasets = [shared / "data" / "timeline17-dev", shared / "data" / "entities-dev"]
    real = [(a, clustering_facts(a, extract_facts(a))) for a in merged_stream(datasets)]
    slices = [real[i :: len(levels)][:per_level] for i in range(len(levels))]
    # real articles in no slice (later in the stream): what --warm places before timing
    spare = [(a.uri, clustering_features(a, f)) for a, f in real[len(levels) * per_level:]]
    clusterer = Clusterer(ClusteringConfig())
    background = Background()
    for level, timed in zip(levels, slices, strict=True):
        while clusterer.story_count < level:
            clusterer.assign(*background.next())
        if level == levels[-1]:
            break
        for article, facts in timed:
            clusterer.assign(article, facts)
    last = slices[-1]
    features = [(a.uri, clustering_features(a, f)) for a, f in last]
    state = pickle.dumps(clusterer, protocol=pickle.HIGHEST_PROTOCOL)
    return state, features, last, spare


class LineSampler:
    """CPU-time samples (SIGPROF) of the line of ``storyline`` code being run, while on: the
    innermost such line of the stack, so the time of the line itself and of the C calls it
    made."""

    def __init__(self) -> None:
        self.samples: Counter[tuple[str, int, str]] = Counter()
        self._on = False
        signal.signal(signal.SIGPROF, self._take)
        signal.setitimer(signal.ITIMER_PROF, 1e-4, 1e-4)  # (as often as the kernel ticks)

    def _take(self, signum: int, frame: FrameType | None) -> None:
        while frame is not None and "/storyline/" not in frame.f_code.co_filename:
            frame = frame.f_back
        if self._on and frame is not None:
            code = frame.f_code
            self.samples[(code.co_filename, frame.f_lineno or 0, code.co_name)] += 1

    def place(self, clusterer: Clusterer, features: list) -> None:
        self._on = True
        try:
            for uri, feature in features:
                clusterer.place(uri, feature)
        finally:
            self._on = False

    def report(self, lines: int = 40) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        total = sum(self.samples.values())
        print(f"{total} samples")
        for (file, line, name), count in self.samples.most_common(lines):
            text = linecache.getline(file, line).strip()[:90]
            print(f"{100 * count / max(total, 1):5.1f} %  {Path(file).name}:{line} {name}: "
                  f"{text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1000,100000")
    parser.add_argument("--per-level", type=int, default=600)
    parser.add_argument("--shared", type=Path, default=ROOT / ".." / "shared")
    parser.add_argument("--state", type=Path, help="pickle of the state (made when absent)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one more run")
    parser.add_argument("--sample", type=int, default=0, metavar="N",
                        help="N more runs under a CPU-time line sampler (see above)")
    parser.add_argument("--cold-store", type=Path, metavar="DIR",
                        help="attach a RocksDB cold store in DIR to each run's clusterer, "
                        "keeping in memory what the worker keeps (pipeline.WARM_ARTICLES "
                        "articles, twice as many postings, VOCABULARY_KEEP times as many "
                        "terms and names in the vocabularies' dicts), as the worker, the "
                        "assign stage and every replay run it; the attach (spilling the "
                        "rest, fingerprinting every term) is not timed")
    parser.add_argument("--warm", type=int, default=0, metavar="N",
                        help="after the store is attached, place N other real articles "
                        "(untimed) first: the steady state of a worker whose store holds "
                        "what the synthetic background pushed out, while real news keeps the "
                        "words it uses in memory; default 0 (every real word read back from "
                        "the store at its first use)")
    parser.add_argument("--compiled", action="store_true",
                        help="the compiled kernels (numba; STORYLINE_COMPILED_KERNELS=true), "
                        "loaded before anything is measured; default: the portable code")
    args = parser.parse_args()
    if args.compiled:
        kernels.warm()  # switched on, compiled or loaded from the cache: not in the timings
    levels = [int(x) for x in args.levels.split(",")]
    if args.state is not None and args.state.is_file():
        saved = pickle.loads(args.state.read_bytes())
        if len(saved) != 4:
            print(f"{args.state} was made by an older version of this script: remove it",
                  file=sys.stderr)
            return 2
        state, features, timed, spare = saved
    else:
        state, features, timed, spare = build(levels, args.per_level, args.shared)
        if args.state is not None:
            args.state.write_bytes(pickle.dumps((state, features, timed, spare),
                                                protocol=pickle.HIGHEST_PROTOCOL))
    if args.warm > len(spare):
        print(f"--warm {args.warm}: only {len(spare)} spare articles", file=sys.stderr)
        return 2
    n = len(features)
    # a first, untimed pass (with --compiled, numba's cache is loaded at the first call)
    for article, facts in timed:
        clustering_features(article, facts)
    warm = pickle.loads(state)
    for uri, feature in features[:50]:
        warm.place(uri, feature)
    del warm
    # as the extract stage makes them: an article longer than the analysed part has its
    # whole body's names found again here (clustering_facts), which is part of their cost
    cpu = time.process_time()
    for article, facts in timed:
        clustering_features(article, clustering_facts(article, facts))
    features_ms = 1000 * (time.process_time() - cpu) / n
    in_part = sum(analysed_in_part(article) for article, _ in timed)

    def warmed(name: str) -> Clusterer:
        """The saved state afresh, its cold store (if any) in ``name``, the warm-up placed."""
        clusterer: Clusterer = pickle.loads(state)
        if args.cold_store is not None:
            clusterer.attach_cold_store(RocksColdStore.empty(args.cold_store / name),
                                        WARM_ARTICLES)
        for uri, feature in spare[: args.warm]:
            clusterer.place(uri, feature)
        gc.collect()
        return clusterer

    runs: list[float] = []
    digest = ""
    for run in range(args.runs):
        clusterer = warmed(f"run-{run}")
        cpu = time.process_time()
        out = [clusterer.place(uri, feature) for uri, feature in features]
        runs.append(1000 * (time.process_time() - cpu) / n)
        run_digest = hashlib.sha256(repr(out).encode()).hexdigest()[:16]
        if digest and run_digest != digest:
            print("assignments differ between runs", file=sys.stderr)
            return 1
        digest = run_digest
        del clusterer
    print(f"stories {levels[-1]}  articles {n}  warm {args.warm}  "
          f"features {features_ms:.3f} CPU ms/article ({in_part} read in part)  "
          f"place min {min(runs):.3f} median {statistics.median(runs):.3f} CPU ms/article "
          f"({n / (min(runs) * n / 1000):.0f}/s)  runs {' '.join(f'{r:.3f}' for r in runs)}  "
          f"assignments {digest}")
    if args.profile:
        clusterer = warmed("profile")
        profile = cProfile.Profile()
        profile.enable()
        for uri, feature in features:
            clusterer.place(uri, feature)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    if args.sample:
        sampler = LineSampler()
        for run in range(args.sample):  # unpickled and warmed as the timed runs, unsampled
            clusterer = warmed(f"sample-{run}")
            sampler.place(clusterer, features)
            del clusterer
        sampler.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
