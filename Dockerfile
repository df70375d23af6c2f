# One image for every QuantumFlux service: `docker compose` runs it with a different `qf` command each.
#
# The base images are build arguments so that a machine without access to an image registry can
# substitute its own (docker-compose.local.yml, scripts/base-images.sh); by default they are the
# public ones.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The web app, built with Node. WEB_PREBUILT=1 takes web/dist as built on the host instead, for
# machines where no Node image can be had (then NODE_IMAGE may be any image with a shell).
FROM ${NODE_IMAGE} AS web
ARG WEB_PREBUILT=0
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN if [ "$WEB_PREBUILT" != 1 ]; then npm ci --no-audit --no-fund; fi
COPY web/ ./
RUN if [ "$WEB_PREBUILT" != 1 ]; then rm -rf dist && npm run build; fi
RUN test -f dist/index.html || { echo "web/dist is missing: run scripts/setup.sh first" >&2; exit 1; }

# The services, in a virtual environment (Debian's own Python refuses system-wide pip installs).
FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/qf/bin:$PATH QF_DATA_DIR=/data MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /app
# Dependencies first, in their own layer: a change to the code alone does not reinstall them.
COPY pyproject.toml README.md ./
RUN python3 -m venv /opt/qf \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
    > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt "setuptools>=68" wheel \
 && rm /tmp/requirements.txt
COPY services/ services/
# The import package `quantumflux` is the services/ folder under its own name.
# The build tools are already in the environment: no isolated build downloading them again.
RUN ln -s services quantumflux \
 && pip install --no-cache-dir --no-deps --no-build-isolation . \
 && rm -rf services quantumflux build *.egg-info \
 && useradd --create-home --uid 10001 qf && mkdir -p /data && chown qf /data
COPY --from=web /src/web/dist web/dist
# The services run as an ordinary user; compose also makes the root filesystem read-only.
USER qf
VOLUME ["/data"]
ENTRYPOINT ["qf"]
CMD ["--help"]
