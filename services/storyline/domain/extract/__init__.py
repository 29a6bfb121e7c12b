"""The extract stage: one article in, everything downstream reads of it out, computed once.

Per article and stateless: sentences, dates (``temporal``, and ``timex`` for the TimeML
evaluation), figures, names, the summary's analysis of it (``analysis``) and the timeline's
input (``timeline_input``). Nothing here reads another article or any story; it imports
nothing from the assign or page stages (``tests/unit/test_import_rules.py``).
"""
