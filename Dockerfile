# twilio-block: Twilio SMS, MMS and call blocks for integration marketplaces.
#
#   docker build -t twilio-block .                          # the service (the last stage, "runtime")
#   docker build --target twilio-mock -t twilio-mock .      # Prism serving Twilio's OpenAPI specs
#   docker compose up                                       # both: a sandbox on :8080 and :4010
#
# Every stage is Debian 12 slim with Debian's own packages; nothing else is pulled from Docker Hub.
#
# Behind a proxy that inspects TLS, hand the build the proxy's CA certificate (PEM; several may
# be concatenated), or npm ci fails with SELF_SIGNED_CERT_IN_CHAIN:
#   docker build --build-arg EXTRA_CA_CERTS="$(cat proxy-ca.crt)" ...
#   EXTRA_CA_CERTS="$(cat proxy-ca.crt)" docker compose build
# apt (through the system bundle, once ca-certificates is in) and npm (NODE_EXTRA_CA_CERTS)
# trust it during the build. The runtime image does not keep it: give the service a bundle
# with CA_FILE if its calls to Twilio go through that proxy. A CA certificate is public, and
# build args show in `docker history`: never pass a key or a password this way.
ARG DEBIAN_IMAGE=debian:12-slim

# ---------------------------------------------------------------------------------------------
# build: compiles the binary. blocks/*.json and metadata.json are embedded at build time, so
# the binary needs no data files at run time.
FROM ${DEBIAN_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
ARG EXTRA_CA_CERTS=
# The build's own CA, if any, before ca-certificates is installed, so that it joins the bundle.
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
        mkdir -p /usr/local/share/ca-certificates \
     && printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/build-extra-ca.crt; \
    fi
# libssl-dev: the service links libcrypto (SHA-256 for Idempotency-Key fingerprints);
# libhiredis-dev: REDIS_URL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        libcivetweb-dev libcurl4-openssl-dev libjansson-dev libssl-dev libhiredis-dev \
        ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole context minus what .dockerignore leaves out (build trees, node_modules, .git).
COPY . .
RUN cmake -S . -B build -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j"$(nproc)" \
 && ./build/twilio-block --version

# ---------------------------------------------------------------------------------------------
# twilio-mock: Prism serving Twilio's official OpenAPI specs (2010-04-01, Verify, Lookup,
# Conversations and Events, merged by tests/contract/spec.js, and Messaging v1 beside them; from
# @twilio/cli-core, pinned by tests/package-lock.json) on 0.0.0.0:$PRISM_PORT. It answers like Twilio: 201 with
# an example resource, 422 for a request that breaks Twilio's contract, 401 without basic auth.
# Any credentials are accepted and nothing is sent anywhere.
FROM ${DEBIAN_IMAGE} AS twilio-mock
ARG DEBIAN_FRONTEND=noninteractive
ARG EXTRA_CA_CERTS=
# The build's own CA, if any, before ca-certificates is installed, so that it joins the bundle.
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
        mkdir -p /usr/local/share/ca-certificates \
     && printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/build-extra-ca.crt; \
    fi
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10002 mock \
 && useradd --uid 10002 --gid mock --create-home --home-dir /home/mock --shell /usr/sbin/nologin mock \
 && mkdir /mock \
 && chown mock:mock /mock
WORKDIR /mock
USER mock
COPY --chown=mock:mock tests/package.json tests/package-lock.json ./
# Debian's Node.js 18 is new enough for Prism; @twilio/cli-core asks for a newer Node in its
# "engines", which npm only warns about: nothing of it runs, its spec file is only read. The
# optional packages are the Node 22 binaries the MCP tests run on: the mock needs none.
RUN if [ -s /usr/local/share/ca-certificates/build-extra-ca.crt ]; then \
        export NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/build-extra-ca.crt; \
    fi \
 && npm ci --ignore-scripts --omit=optional --no-audit --no-fund \
 && npm cache clean --force
COPY --chown=mock:mock tests/contract/ contract/
ENV PRISM_PORT=4010
EXPOSE 4010
# Prism takes a while to load Twilio's spec; any HTTP answer means it is up.
HEALTHCHECK --interval=5s --timeout=3s --start-period=120s --retries=3 \
    CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.PRISM_PORT||4010)+'/',()=>process.exit(0)).on('error',()=>process.exit(1))"]
# The sandbox's mock (tests/contract/mock.js): Prism on the specs, Messaging v1 on a Prism of its
# own, lists that end; on 0.0.0.0:$PRISM_PORT for the compose network.
CMD ["node", "contract/mock.js", "--host", "0.0.0.0"]

# ---------------------------------------------------------------------------------------------
# runtime (the default target): the binary and the shared libraries it links, as a non-root
# user. Configure it with environment variables (see docs/configuration.md); it needs no writable files.
FROM ${DEBIAN_IMAGE} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
ARG EXTRA_CA_CERTS=
# The build's CA serves apt only: it is taken out of the bundle again in the same step.
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
        mkdir -p /usr/local/share/ca-certificates \
     && printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/build-extra-ca.crt; \
    fi \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
        libcivetweb1 libcurl4 libjansson4 libssl3 libhiredis0.14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && if [ -e /usr/local/share/ca-certificates/build-extra-ca.crt ]; then \
        rm /usr/local/share/ca-certificates/build-extra-ca.crt && update-ca-certificates --fresh >/dev/null; \
    fi \
 && groupadd --gid 10001 twilio \
 && useradd --uid 10001 --gid twilio --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin twilio
COPY --from=build /src/build/twilio-block /usr/local/bin/twilio-block
USER 10001:10001
ENV PORT=8080
EXPOSE 8080
# No curl in the image: bash's /dev/tcp asks GET /healthz. It uses $PORT, so a port given with
# --port instead of PORT needs its own health check.
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-8080} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# SIGTERM stops accepting and gives in-flight requests SHUTDOWN_GRACE_MS (20 s) to finish:
# give `docker stop` a longer timeout than that (docker-compose.yml sets stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/twilio-block"]
