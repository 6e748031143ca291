# teleport-mattermost-bridge: a drop-in for Teleport's teleport-plugin-mattermost image.
#   docker run -v /etc/teleport-mattermost.toml:/etc/teleport-mattermost.toml IMAGE   # start
#   docker run IMAGE version | configure | web --bind 0.0.0.0:8000 | manage ...
# `start` and `web` apply migrations themselves: there is no separate migrate step.

# --- build: a wheel of the project (pip install . needs the whole source tree) ----------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY . /src
RUN pip wheel --no-deps --wheel-dir /wheels /src

# --- runtime ---------------------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TELEPORT_MATTERMOST_DATA=/var/lib/teleport-mattermost-bridge

# A fixed UID/GID so volume ownership is predictable across rebuilds (and matches
# runAsUser in deploy/kubernetes/). The data directory exists and belongs to that user
# before VOLUME, so a new named volume starts with the right owner.
RUN groupadd --system --gid 10001 teleport-mattermost \
    && useradd --system --uid 10001 --gid teleport-mattermost \
        --home-dir /var/lib/teleport-mattermost-bridge --shell /usr/sbin/nologin \
        teleport-mattermost \
    && install -d -m 0700 -o teleport-mattermost -g teleport-mattermost \
        /var/lib/teleport-mattermost-bridge

# The pinned requirements first: this layer is reused when only the code changes, and
# the image gets the tested versions, not whatever the package's ranges allow today.
# Every pinned package ships manylinux wheels, so no compiler is needed.
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels && pip check

# Static files are baked in (served by WhiteNoise). The key only satisfies settings at
# build time; it is not kept in the image's environment.
RUN SECRET_KEY=collectstatic-build-only teleport-mattermost manage collectstatic --noinput

USER 10001:10001
WORKDIR /var/lib/teleport-mattermost-bridge
VOLUME ["/var/lib/teleport-mattermost-bridge"]
# 8081: /healthz, /readyz, /metrics of `start`; 8000: `web`.
EXPOSE 8081 8000

# `start` is healthy while its status listener answers /healthz (urllib: the slim image
# has no curl). For `web`, run with --no-healthcheck (there is no status listener).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/healthz', timeout=4)"]

ENTRYPOINT ["teleport-mattermost"]
# 0.0.0.0: probes and Prometheus reach it from outside the container (publish 8081 only
# where they need it). `docker run IMAGE start` keeps it on the container's loopback,
# which the HEALTHCHECK still reaches.
CMD ["start", "--status-addr=0.0.0.0:8081"]
