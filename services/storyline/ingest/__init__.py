"""Ingest: wire items (IPTC ninjs, flat JSON, RSS, Atom) in, ``ArticleReceived`` events out.

``normalise.parse_item`` / ``parse_bytes`` parse one item; ``files.iter_file`` reads a file
of items; ``producer.ArticleProducer`` publishes to Kafka; ``cli`` is ``storyline ingest``.
"""
