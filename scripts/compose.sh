#!/usr/bin/env bash
# Runs docker compose (the plugin) or, where that is missing, the older
# docker-compose, with this project's compose file and project name.
set -euo pipefail
cd "$(dirname "$0")/.."
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-raftmq}"
if docker compose version >/dev/null 2>&1; then
  exec docker compose -f docker-compose.yml "$@"
elif command -v docker-compose >/dev/null 2>&1; then
  exec docker-compose -f docker-compose.yml "$@"
fi
echo "neither 'docker compose' nor 'docker-compose' is installed" >&2
exit 1
