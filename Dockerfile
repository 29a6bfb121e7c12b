# Storyline's Python services (worker, projector, API, CLI) in one image.
# Used by docker-compose.yml; the Kafka broker there is the official apache/kafka image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies change less often than the code: install them in their own layer.
# Without the `compiled` extra (numba): the image runs the clusterer's portable code
# (STORYLINE_COMPILED_KERNELS must stay false; the kernels cost ~130 MB RSS a process). An
# image with the extra would also need a writable NUMBA_CACHE_DIR warmed at build
# (docs/clustering.md, "Cost").
COPY pyproject.toml README.md constraints.txt ./
RUN mkdir -p services/storyline && touch services/storyline/__init__.py \
    && pip install -c constraints.txt '.[postgres]' \
    && pip uninstall -y storyline

COPY services ./services
COPY schemas ./schemas
COPY deploy/topics.toml ./deploy/topics.toml
RUN pip install --no-deps .

RUN useradd --create-home --uid 10001 storyline \
    && mkdir -p /data \
    && chown storyline /data
USER storyline

# Worker tables (RocksDB) and other local state live in /data (a volume in compose).
ENV STORYLINE_DATA_DIR=/data \
    STORYLINE_TOPICS_FILE=/app/deploy/topics.toml \
    STORYLINE_BOOTSTRAP_SERVERS=kafka:19092

ENTRYPOINT ["storyline"]
CMD ["--help"]
