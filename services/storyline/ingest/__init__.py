"""Ingest: wire items (IPTC ninjs, flat JSON, RSS, Atom) in, ``ArticleReceived`` events out.

``normalise.parse_item`` / ``parse_bytes`` parse one item; ``files.iter_file`` reads a file
of items; ``producer.ArticleProducer`` publishes to Kafka; ``cli`` is ``storyline ingest``.
"""

from storyline.ingest.fields import InvalidArticle
from storyline.ingest.files import ParseResult, iter_file
from storyline.ingest.normalise import parse_bytes, parse_item

__all__ = ["InvalidArticle", "ParseResult", "iter_file", "parse_bytes", "parse_item"]
