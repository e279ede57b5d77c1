#!/usr/bin/env bash
# docker-compose.yml on a Docker Swarm (docs/deploy.md):
#
#   deploy/swarm.sh up STACK [docker compose options...]   # e.g. -f docker-compose.yml
#                                                           #   -f deploy/compose.local-images.yml
#   deploy/swarm.sh down STACK [--volumes]
#
# `up` makes the stack's secrets once (kept in $MODELPORT_SWARM_STATE, default
# .state/swarm-STACK, mode 0700; values from the environment/.env win, as with compose), creates
# them as Swarm secrets, renders the compose file for `docker stack deploy`
# (modelport.devstack.swarm: MODELPORT_SWARM_REPLICAS replicas of each service, default 2;
# infrastructure pinned by MODELPORT_SWARM_INFRA_CONSTRAINT, default node.role == manager;
# MODELPORT_SWARM_ENDPOINT_MODE=dnsrr and MODELPORT_SWARM_PORT_MODE=host where the kernel has
# no IPVS for Swarm's virtual IPs and routing mesh) and deploys it. `down` removes the stack, waits until its tasks and networks are gone, and
# removes its secrets (and with --volumes its volumes and the kept secrets).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-"$repo/.venv/bin/python"}
cmd=${1:?usage: deploy/swarm.sh up|down STACK ...}
stack=${2:?usage: deploy/swarm.sh up|down STACK ...}
shift 2
state=${MODELPORT_SWARM_STATE:-"$repo/.state/swarm-$stack"}

up() {
    mkdir -p "$state/secrets" && chmod 0700 "$state"
    "$python" -m modelport.devstack.compose secrets "$state/secrets" --flat
    "$python" -m modelport.devstack.swarm secrets "$stack" "$state/secrets"
    (cd "$repo" && docker compose "$@" config --format json) \
        | "$python" -m modelport.devstack.swarm render "$stack" \
            --replicas "${MODELPORT_SWARM_REPLICAS:-2}" \
            --infra-constraint "${MODELPORT_SWARM_INFRA_CONSTRAINT:-node.role == manager}" \
            --endpoint-mode "${MODELPORT_SWARM_ENDPOINT_MODE:-vip}" \
            --port-mode "${MODELPORT_SWARM_PORT_MODE:-ingress}" \
        >"$state/stack.json"
    docker stack deploy --prune -c "$state/stack.json" "$stack"
}

# wait_gone WHAT COMMAND...: until COMMAND prints nothing, at most 120 s
wait_gone() {
    local what=$1 until=$(( $(date +%s) + 120 ))
    shift
    while [[ -n "$("$@" 2>/dev/null)" ]]; do
        (( $(date +%s) < until )) || { echo "swarm.sh: $what of $stack still there after 120 s" >&2; return 1; }
        sleep 0.5
    done
}

down() {
    docker stack rm "$stack" >/dev/null 2>&1 || true
    wait_gone containers docker ps -aq --filter "label=com.docker.stack.namespace=$stack"
    wait_gone networks docker network ls -q --filter "label=com.docker.stack.namespace=$stack"
    local ids
    ids=$(docker secret ls -q --filter "label=org.modelport.stack=$stack")
    [[ -z "$ids" ]] || docker secret rm $ids >/dev/null
    if [[ "${1:-}" == --volumes ]]; then
        ids=$(docker volume ls -q --filter "label=com.docker.stack.namespace=$stack")
        [[ -z "$ids" ]] || docker volume rm $ids >/dev/null
        rm -rf "$state"
    fi
}

case "$cmd" in
    up) up "$@" ;;
    down) down "$@" ;;
    *) echo "usage: deploy/swarm.sh up|down STACK ..." >&2; exit 2 ;;
esac
