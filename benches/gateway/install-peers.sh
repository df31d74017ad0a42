#!/usr/bin/env bash
# Installs the gateways the benchmark compares sluice with, into target/bench-peers/
# (nothing outside the repository's target folder):
#   portkey/  npm @portkey-ai/gateway, run with node
#   litellm/  a Python venv with litellm[proxy]
# and nginx from Debian's packages (the reverse proxy sluice is measured
# against), when it is missing and apt-get is there.
# The harness (benches/gateway/run.sh) finds them there; without them it reports
# them as "not installed". Versions are pinned so that a rerun measures the same
# code; pass other ones as PORTKEY_VERSION / LITELLM_VERSION.
set -euo pipefail
cd "$(dirname "$0")/../.."
peers="$PWD/target/bench-peers"
mkdir -p "$peers"

portkey_version="${PORTKEY_VERSION:-1.15.2}"
litellm_version="${LITELLM_VERSION:-1.108.7}"

if [ ! -x /usr/sbin/nginx ] && command -v apt-get >/dev/null; then
    echo "--- nginx (Debian)"
    sudo_if() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    sudo_if apt-get install -y -qq nginx-light >/dev/null 2>&1 ||
        sudo_if apt-get install -y -qq nginx >/dev/null ||
        echo "nginx could not be installed" >&2
fi

if command -v npm >/dev/null; then
    echo "--- Portkey gateway $portkey_version (npm)"
    npm install --silent --no-audit --no-fund --prefix "$peers/portkey" \
        "@portkey-ai/gateway@$portkey_version"
else
    echo "npm not found: Portkey not installed" >&2
fi

if command -v python3 >/dev/null; then
    echo "--- LiteLLM proxy ${litellm_version:-latest} (PyPI)"
    [ -x "$peers/litellm/bin/python" ] || python3 -m venv "$peers/litellm"
    spec="litellm[proxy]"
    [ -n "$litellm_version" ] && spec="litellm[proxy]==$litellm_version"
    "$peers/litellm/bin/pip" install --quiet --disable-pip-version-check "$spec"
else
    echo "python3 not found: LiteLLM not installed" >&2
fi
echo "peers in $peers"
