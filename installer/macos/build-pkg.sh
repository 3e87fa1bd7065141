#!/usr/bin/env bash
# Builds kiagateway-VERSION.pkg on macOS with pkgbuild: the binary in /usr/local/bin, the launchd
# daemon plist, and an example config that never replaces an existing one.
# Usage: installer/macos/build-pkg.sh path/to/kiagateway [out-dir]
set -euo pipefail
binary=$1
out=${2:-.}
here=$(cd "$(dirname "$0")" && pwd)
version=$("$binary" --version | awk '{print $2}')
stage=$(mktemp -d)
scripts=$(mktemp -d)
trap 'rm -rf "$stage" "$scripts"' EXIT

install -d "$stage/usr/local/bin" "$stage/Library/LaunchDaemons" "$stage/usr/local/share/kiagateway"
install -m 0755 "$binary" "$stage/usr/local/bin/kiagateway"
install -m 0644 "$here/com.kiagateway.kiagateway.plist" "$stage/Library/LaunchDaemons/"
install -m 0644 "$here/../linux/servers.toml" "$stage/usr/local/share/kiagateway/servers.toml.example"

cat > "$scripts/postinstall" <<'SCRIPT'
#!/bin/sh
# Keep an existing config; install the example only on first install. Not started until the
# routes are edited: see /usr/local/share/kiagateway/servers.toml.example and docs/macos.md.
mkdir -p /usr/local/etc/kiagateway /usr/local/var/log/kiagateway
if [ ! -f /usr/local/etc/kiagateway/servers.toml ]; then
    cp /usr/local/share/kiagateway/servers.toml.example /usr/local/etc/kiagateway/servers.toml
fi
exit 0
SCRIPT
chmod 0755 "$scripts/postinstall"

pkgbuild --root "$stage" --scripts "$scripts" --identifier com.kiagateway.kiagateway --version "$version" \
    --install-location / "$out/kiagateway-$version.pkg"
echo "$out/kiagateway-$version.pkg"
