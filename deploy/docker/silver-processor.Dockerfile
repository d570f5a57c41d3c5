# The silver processor image: one static binary on `scratch`.
#
# Two targets, so the image builds both where base images can be pulled and where none
# can (this project's machines):
#
# * default (`runtime`), multi-stage, for users with a registry:
#     docker build -f deploy/docker/silver-processor.Dockerfile -t silver-processor .
#   (context: the workspace root)
#
# * `prebuilt`, FROM scratch only, around a binary built on the host:
#     RUSTFLAGS="-C target-feature=+crt-static" cargo build --release \
#       --target x86_64-unknown-linux-gnu -p silver-processor
#     mkdir ctx && cp target/x86_64-unknown-linux-gnu/release/silver-processor ctx/
#     docker build -f deploy/docker/silver-processor.Dockerfile --target prebuilt -t silver-processor ctx
#
# `prebuilt` comes first on purpose: the classic builder runs stages in order and stops
# at the target, so it never tries to pull the Rust image.
#
# The binary is statically linked (glibc with +crt-static; librdkafka, zstd and zlib built
# in; no OpenSSL: ClickHouse over plain HTTP, Kafka over PLAINTEXT). The health check uses
# the binary's own `healthcheck` subcommand because scratch has no curl.

FROM scratch AS prebuilt
COPY silver-processor /silver-processor
USER 65534:65534
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/silver-processor", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/silver-processor"]
CMD ["run"]

ARG RUST_IMAGE=rust:1.95-bookworm
FROM ${RUST_IMAGE} AS builder
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake pkg-config zlib1g-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu -p silver-processor \
    && cp target/x86_64-unknown-linux-gnu/release/silver-processor /silver-processor

FROM scratch AS runtime
COPY --from=builder /silver-processor /silver-processor
USER 65534:65534
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/silver-processor", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/silver-processor"]
CMD ["run"]
