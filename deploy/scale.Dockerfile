# The companions of docker-compose.yml's "scale" profile, from Debian 12's own packages like
# the service's image:
#   redis     Redis, where the replicas share their Idempotency-Keys (REDIS_URL)
#   balancer  nginx in front of the replicas, configured by deploy/nginx.conf
ARG DEBIAN_IMAGE=debian:12-slim

FROM ${DEBIAN_IMAGE} AS redis
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/*
USER redis
WORKDIR /var/lib/redis
EXPOSE 6379
ENTRYPOINT ["redis-server"]

FROM ${DEBIAN_IMAGE} AS balancer
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx-light \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/nginx.conf /etc/nginx/nginx.conf
EXPOSE 8080
# SIGQUIT: nginx finishes the requests it is proxying before it exits.
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
