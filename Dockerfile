# keyward in a container: a Rust builder stage, then a small Debian runtime.
#   docker build -t keyward .
#   docker run -p 6379:6379 -v keyward-data:/data -e REDIS_PASSWORD=... keyward
# Settings come from the environment (docker/entrypoint.sh: PORT,
# REDIS_PASSWORD, KEYWARD_CONFIG, KEYWARD_BIND, KEYWARD_DIR) or from flags
# after the image name. CI does not build this image (see README).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin keyward \
    && install -m 0755 target/release/keyward /usr/local/bin/keyward

FROM debian:bookworm-slim
RUN groupadd --system keyward \
    && useradd --system --gid keyward --home-dir /data --no-create-home keyward \
    && mkdir -p /data && chown keyward:keyward /data
COPY --from=build /usr/local/bin/keyward /usr/local/bin/keyward
COPY docker/entrypoint.sh /usr/local/bin/keyward-entrypoint
USER keyward
WORKDIR /data
VOLUME /data
EXPOSE 6379
# PING over loopback (admitted by protected mode), with $REDIS_PASSWORD and
# $PORT from the container's environment; -LOADING counts as not healthy.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["keyward", "--ping"]
ENTRYPOINT ["keyward-entrypoint"]
