# kiagateway container image: one static binary in an empty (scratch) image, run as a non-root user.
# Build:  docker build -t kiagateway .
# Run:    docker run -v "$PWD/config:/etc/kiagateway:ro" -p 80:80 -p 443:443 kiagateway
# See docs/container.md (ports as non-root, DNS, reload, validate in CI).

# Build stage: the same commands CI proves in .ci/run. scripts/deps installs the Debian build
# dependencies; the `static` workflow preset configures a Release build linked with -static, builds it
# and runs the tests it selects: the CLI tests and tests/packaging/test_static.py, which checks the
# binary is static and runs it in an empty root made of exactly the files the final stage below ships.
FROM debian:12 AS build
WORKDIR /src
COPY . .
RUN scripts/deps && cmake --workflow --preset static
RUN mkdir /out && strip -o /out/kiagateway build/static/kiagateway

# Final stage: nothing but the binary, the user and group files (uid/gid 65532 "kiagateway") and an
# nsswitch.conf naming only the NSS sources the static binary has built in (files, dns).
# Docker provides /etc/hosts and /etc/resolv.conf at run time; the config is mounted at /etc/kiagateway.
FROM scratch
COPY installer/container/rootfs/ /
COPY --from=build /out/kiagateway /kiagateway
USER 65532:65532
# Ports 80 and 443 are bound as uid 65532: Docker (20.10 and later) sets net.ipv4.ip_unprivileged_port_start=0
# in a container's own network namespace. Elsewhere, listen on 8080/8443 in the config (docs/container.md).
EXPOSE 80 443
LABEL org.opencontainers.image.title="kiagateway" \
      org.opencontainers.image.description="A fast TCP domain router: HTTP Host and TLS SNI to backends, without decrypting" \
      org.opencontainers.image.licenses="MIT"
ENTRYPOINT ["/kiagateway"]
CMD ["run", "-c", "/etc/kiagateway/servers.toml"]
