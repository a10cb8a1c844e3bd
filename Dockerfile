# syntax=docker/dockerfile:1
# wallet-auth: a release build in a Rust image, run from a slim Debian image as an unprivileged
# user. Dependencies are built in their own layer (from Cargo.toml and Cargo.lock alone), so a
# change to the sources rebuilds only the crate.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Stand-in targets with the manifest's names: the dependency layer depends on the manifest only.
# Cargo reads every declared target, so each [[bench]] of Cargo.toml gets a stand-in too.
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && sed -n '/^\[\[bench\]\]/,/^name/ s/^name = "\(.*\)"/\1/p' Cargo.toml > benches/names \
    && while read -r bench; do echo 'fn main() {}' > "benches/$bench.rs"; done < benches/names \
    && cargo build --release --locked --bin wallet-auth \
    && rm -rf src benches
COPY build.rs ./
COPY migrations ./migrations
COPY src ./src
COPY benches ./benches
COPY assets ./assets
COPY clients/js/wallet-auth.js ./clients/js/wallet-auth.js
COPY contracts/out ./contracts/out
# The stand-in crate's outputs are newer than nothing: touch the real sources so they rebuild.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin wallet-auth \
    && cp target/release/wallet-auth /wallet-auth

FROM debian:bookworm-slim
# ca-certificates is left unpinned on purpose: it should follow Debian's updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 wallet-auth \
    && useradd --system --uid 10001 --gid wallet-auth --no-create-home --shell /usr/sbin/nologin wallet-auth
COPY --from=build /wallet-auth /usr/local/bin/wallet-auth
# Listen on every interface inside the container so `docker run -p 8080:8080` reaches it.
ENV BIND_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["wallet-auth", "health"]
ENTRYPOINT ["wallet-auth"]
CMD ["serve"]
