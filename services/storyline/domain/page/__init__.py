"""The page stage: the fold of each story's articles into its versioned page.

Per story: its state (``story``), the cited summary (``summary``), the title (``title``),
the reconciled timeline (``timeline``, ``timeline_select``) and the checks a page must pass
(``page_checks``). It reads the per-article analyses of the extract stage and imports
nothing from the assign stage (``tests/unit/test_import_rules.py``).
"""
