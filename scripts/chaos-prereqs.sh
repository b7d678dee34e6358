#!/usr/bin/env bash
# Installs what the chaos suite's network-namespace case needs (Debian's iproute2: ip, tc) when it is
# missing. Run as root (the case itself needs root for `ip netns`); `pnpm test` runs it first.
set -euo pipefail
if ! command -v ip >/dev/null 2>&1 || ! command -v tc >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "chaos-prereqs: iproute2 (ip, tc) is missing and installing it needs root" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null
fi
