#!/usr/bin/env bash
# Installs what the network-namespace tests need when it is missing: Debian's iproute2 (ip, tc) for the
# chaos suite's sites, nftables (nft) for the NAT routers of the sites-behind-NAT test, coturn
# (turnserver, run as a STUN server) for its hole punching. Run as root (the
# tests themselves need root for `ip netns`); `pnpm test` runs it first.
set -euo pipefail
missing=()
if ! command -v ip >/dev/null 2>&1 || ! command -v tc >/dev/null 2>&1; then missing+=(iproute2); fi
if ! command -v nft >/dev/null 2>&1; then missing+=(nftables); fi
if ! command -v turnserver >/dev/null 2>&1; then missing+=(coturn); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "chaos-prereqs: ${missing[*]} missing and installing needs root" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
