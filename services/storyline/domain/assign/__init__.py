"""The assign stage: the globally ordered placement of each article in a story.

The clusterer (``clustering``: its text vectors in ``clustering_text``, its near-duplicate
index in ``dedup``, its opt-in compiled loops in ``kernels``) and the record of why it
decided (``clustering_explain``). State follows the whole log in its one order; it imports
nothing from the extract or page stages (``tests/unit/test_import_rules.py``).
"""
