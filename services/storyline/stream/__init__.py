"""Kafka adapters around the pure core: the faust worker and the log reader."""
