# dredge as a small image: one static binary on busybox. For CI jobs that build where a registry is
# reachable:
#   docker build -t dredge .
#   docker save app:1 | docker run --rm -i --network none dredge check - --max-size 200MB
# tests/packaging.rs builds the final stage (from "# final stage" to the end, unchanged but for the
# COPY source) from a binary made by scripts/build-static on an imported busybox base, and checks the
# image against its budget.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG BASE=busybox:1.37

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# The same static build as scripts/build-static (glibc with crt-static: runs on any x86-64 Linux base).
RUN scripts/build-static && install -D target/x86_64-unknown-linux-gnu/dist/dredge /out/dredge

# final stage
FROM ${BASE} AS final
COPY --from=build /out/dredge /usr/local/bin/dredge
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/dredge"]
CMD ["--help"]
