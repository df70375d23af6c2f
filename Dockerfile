# One image for every QuantumFlux service: `docker compose` runs it with a different `qf` command each.

# The web app, built with Node.
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# The services.
FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 QF_DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services/ services/
RUN pip install . && useradd --create-home --uid 10001 qf && mkdir -p /data && chown qf /data
COPY --from=web /src/web/dist web/dist
USER qf
VOLUME ["/data"]
ENTRYPOINT ["qf"]
CMD ["--help"]
