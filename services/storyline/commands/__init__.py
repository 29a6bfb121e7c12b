"""Sub-commands of the ``storyline`` CLI that belong to no single adapter package."""
