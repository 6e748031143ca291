# teleport-mattermost-bridge: one image for every role (watcher, web, workers); the
# command picks the role, e.g. `docker run IMAGE runserver` or `... qcluster`.
FROM python:3.11-slim

# DATABASE_URL: the embedded SQLite default must live where the non-root user can
# write; production passes DATABASE_URL=postgres://... instead.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=bridge.settings \
    DATABASE_URL=sqlite:////data/db.sqlite3

# A fixed UID/GID so volume ownership is predictable across rebuilds.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /data \
    && chown app:app /data

WORKDIR /app

# Requirements first: the dependency layer is reused when only the code changes.
# Every pinned package ships manylinux wheels, so no compiler is needed.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are baked in (served by WhiteNoise). The key only satisfies settings at
# build time; it is not kept in the image's environment.
RUN SECRET_KEY=collectstatic-build-only DEBUG=0 python manage.py collectstatic --noinput

USER app
VOLUME ["/data"]

ENTRYPOINT ["python", "manage.py"]
CMD ["runwatcher", "--config", "/etc/teleport-mattermost.toml"]
