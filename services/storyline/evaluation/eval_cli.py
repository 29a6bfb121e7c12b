"""``storyline eval timeline|clustering|dates|event-dates|summaries``: score the core against
gold data.

Each evaluation is a module with ``add_arguments(parser)`` and ``run(args) -> int``, imported
only when selected, like the top-level commands.
"""

from __future__ import annotations

import argparse
import importlib

# evaluation name -> (module, one-line help)
EVALUATIONS: dict[str, tuple[str, str]] = {
    "timeline": ("storyline.evaluation.timeline_eval",
                 "timelines vs gold: alignment ROUGE-1/2 (tilse) and Date-F1"),
    "clustering": ("storyline.evaluation.clustering_eval",
                   "stories vs gold: B-cubed precision/recall/F1, articles/s"),
    "dates": ("storyline.evaluation.dates_eval",
              "temporal expressions vs TimeML gold: span P/R/F1, TIMEX3 value accuracy and F1"),
    "event-dates": ("storyline.evaluation.event_dates_eval",
                    "timeline statements' dates vs the dates of matching gold timeline entries"),
    "summaries": ("storyline.evaluation.summary_eval",
                  "page summaries vs the gold timeline so far: content-word ROUGE, latest days"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="evaluation", required=True, metavar="EVALUATION")
    for name, (module_name, help_text) in EVALUATIONS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_eval_module=module_name)
        importlib.import_module(module_name).add_arguments(command)


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(args._eval_module)
    result: int = module.run(args)
    return result
