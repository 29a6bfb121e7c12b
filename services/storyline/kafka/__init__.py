"""Kafka plumbing: the local broker (``broker``), topics as code (``topics``) and the
aiokafka admin calls behind ``storyline topics apply`` (``admin``)."""
