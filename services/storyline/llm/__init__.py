"""Optional LLM summaries: off by default, recorded so that replay never calls the model.

- :mod:`client`: an async OpenAI-compatible ``/v1/chat/completions`` client (httpx) and its
  settings (``STORYLINE_LLM_*``);
- :mod:`summariser`: turns a revision's cited facts into paragraphs through the model,
  validates every citation against the facts it was given, falls back to the extractive
  summary otherwise, and applies recorded results on replay;
- :mod:`records`: the ``SummaryGenerated`` event a live worker records.
"""
