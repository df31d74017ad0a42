#!/usr/bin/env bash
# The gateway benchmark in one command (see docs/benchmarks.md): builds a release
# sluice and the harness, installs the peer gateways into target/bench-peers when
# they are missing (skip with --no-peers), runs every scenario and prints the
# tables. Extra arguments go to sluice-bench (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p sluice -p sluice-bench
case " $* " in
*" --no-peers "* | *" --smoke "*) ;;
*)
    if [ ! -e target/bench-peers/portkey/node_modules/@portkey-ai/gateway ] ||
        [ ! -x target/bench-peers/litellm/bin/litellm ]; then
        benches/gateway/install-peers.sh || echo "run.sh: the peers could not all be installed; measuring without them" >&2
    fi
    ;;
esac
echo "run.sh: sluice at $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- host plugins 2>/dev/null || echo ' with uncommitted changes')" >&2
exec target/release/sluice-bench --sluice target/release/sluice "$@"
