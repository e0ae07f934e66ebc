#!/usr/bin/env bash
# Installs a Vigil collector on this host with one command:
#
#   sudo deploy/install-collector.sh --brokers kafka1:9092,kafka2:9092 --label site=store-12 --label env=prod
#
# It checks Node.js (20 or newer), copies Vigil into /opt/vigil (from this checkout, or from
# --tarball vigil.tar.gz), writes /etc/vigil/collector.yaml from the flags, checks it with
# `vigil validate`, builds the collector bundle (dist/vigil-collector.mjs: plain node, about half
# the memory of running the TypeScript sources through tsx), installs the hardened systemd unit
# and starts it. --dry-run prints every step and the config it would write, and changes nothing.
set -euo pipefail

PREFIX=/opt/vigil
CONFIG_DIR=/etc/vigil
UNIT_DIR=/etc/systemd/system
UNIT=vigil-collector.service
BROKERS=""
LABELS=()
HTTP_PORT=8080
OTLP_LISTEN=127.0.0.1:4318
TARBALL=""
SOURCE=""
DRY_RUN=0
START=1
FORCE=0
MIN_NODE_MAJOR=20

usage() {
  cat <<USAGE
Usage: install-collector.sh --brokers HOST:PORT[,HOST:PORT...] [options]

  --brokers LIST       Kafka bootstrap brokers (required)
  --label KEY=VALUE    resource attribute on every record (site, environment, ...); repeatable
  --http-port PORT     the collector's /health and /metrics port (default $HTTP_PORT)
  --otlp-listen H:P    where applications send OTLP/HTTP and JSON events (default $OTLP_LISTEN; "none" to leave it out)
  --tarball FILE       install from a Vigil release tarball instead of this checkout
  --from DIR           install from this Vigil checkout (default: the one holding this script)
  --prefix DIR         install directory (default $PREFIX)
  --config-dir DIR     configuration directory (default $CONFIG_DIR)
  --unit-dir DIR       systemd unit directory (default $UNIT_DIR)
  --force              overwrite an existing collector.yaml (it is kept otherwise)
  --no-start           install and enable, but do not start the service
  --dry-run            print what would be done and the config, change nothing
  -h, --help           this text
USAGE
}

die() {
  echo "install-collector: $*" >&2
  exit 1
}

# Runs a command, or prints it under --dry-run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '[dry-run]'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --brokers) BROKERS="${2:-}"; shift 2 ;;
    --brokers=*) BROKERS="${1#*=}"; shift ;;
    --label) LABELS+=("${2:-}"); shift 2 ;;
    --label=*) LABELS+=("${1#*=}"); shift ;;
    --http-port) HTTP_PORT="${2:-}"; shift 2 ;;
    --otlp-listen) OTLP_LISTEN="${2:-}"; shift 2 ;;
    --tarball) TARBALL="${2:-}"; shift 2 ;;
    --from) SOURCE="${2:-}"; shift 2 ;;
    --prefix) PREFIX="${2:-}"; shift 2 ;;
    --config-dir) CONFIG_DIR="${2:-}"; shift 2 ;;
    --unit-dir) UNIT_DIR="${2:-}"; shift 2 ;;
    --force) FORCE=1; shift ;;
    --no-start) START=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option \"$1\"" ;;
  esac
done

# --- Check the flags before touching anything.
[ -n "$BROKERS" ] || { usage >&2; die "--brokers is required (e.g. --brokers kafka1:9092,kafka2:9092)"; }
BROKER_LIST=""
IFS=',' read -r -a BROKER_ARRAY <<<"$BROKERS"
for b in "${BROKER_ARRAY[@]}"; do
  [[ "$b" =~ ^[A-Za-z0-9._-]+:[0-9]{1,5}$ ]] || die "--brokers: \"$b\" is not host:port"
  BROKER_LIST="${BROKER_LIST:+$BROKER_LIST, }\"$b\""
done
[[ "$HTTP_PORT" =~ ^[0-9]{1,5}$ ]] && [ "$HTTP_PORT" -le 65535 ] || die "--http-port: \"$HTTP_PORT\" is not a port (1-65535)"
if [ "$OTLP_LISTEN" != none ]; then
  [[ "$OTLP_LISTEN" =~ ^[A-Za-z0-9._-]+:[0-9]{1,5}$ ]] || die "--otlp-listen: \"$OTLP_LISTEN\" is not host:port (or none)"
fi
LABEL_YAML=""
for l in ${LABELS[@]+"${LABELS[@]}"}; do
  [[ "$l" == *=* ]] || die "--label: \"$l\" is not KEY=VALUE"
  key="${l%%=*}"
  value="${l#*=}"
  [[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_.]*$ ]] || die "--label: \"$key\" is not a label name (letters, digits, _ and ., not starting with a digit)"
  [[ "$value" != *'"'* && "$value" != *'\'* && "$value" != *'$'* ]] || die "--label $key: the value may not contain \", \\ or \$"
  LABEL_YAML="${LABEL_YAML}    ${key}: \"${value}\""$'\n'
done

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "$TARBALL" ] && [ -z "$SOURCE" ]; then SOURCE="$(cd "$HERE/.." && pwd)"; fi
if [ -n "$TARBALL" ]; then
  [ -f "$TARBALL" ] || die "--tarball: $TARBALL does not exist"
else
  [ -f "$SOURCE/packages/cli/bin/vigil.mjs" ] || die "--from: $SOURCE is not a Vigil checkout (no packages/cli/bin/vigil.mjs)"
  [ -d "$SOURCE/node_modules" ] || die "--from: $SOURCE has no node_modules; run pnpm install --prod there first, or use --tarball"
fi
UNIT_TEMPLATE="$HERE/systemd/$UNIT"
[ -f "$UNIT_TEMPLATE" ] || die "the unit template $UNIT_TEMPLATE is missing"

# --- Node.js
NODE="$(command -v node || true)"
[ -n "$NODE" ] || die "Node.js is not installed; install Node.js $MIN_NODE_MAJOR or newer (https://nodejs.org or your distribution's nodejs package)"
NODE_MAJOR="$("$NODE" -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge "$MIN_NODE_MAJOR" ] || die "Node.js $("$NODE" -v) is too old; install Node.js $MIN_NODE_MAJOR or newer"
echo "install-collector: Node.js $("$NODE" -v) at $NODE"

if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then die "run as root (sudo), or pass --dry-run to see what it would do"; fi

CONFIG="$CONFIG_DIR/collector.yaml"
if [ -n "$LABEL_YAML" ]; then LABELS_BLOCK="  labels:"$'\n'"$LABEL_YAML"; else LABELS_BLOCK="  labels: {}"$'\n'; fi
OTLP_YAML=""
if [ "$OTLP_LISTEN" != none ]; then
  OTLP_YAML="  plugins:
    - type: otlp
      listen: $OTLP_LISTEN"
fi
CONFIG_TEXT="# Vigil collector on $(hostname), written by install-collector.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ).
# Check changes with: $NODE $PREFIX/packages/cli/bin/vigil.mjs validate $CONFIG
# Secrets belong in $CONFIG_DIR/collector.env as NAME=value; refer to them here as \$NAME in braces.
dataDir: /var/lib/vigil-collector
http:
  host: 127.0.0.1
  port: $HTTP_PORT
kafka:
  brokers: [$BROKER_LIST]
collector:
${LABELS_BLOCK}${OTLP_YAML}"

# --- 1. Vigil itself
run mkdir -p "$PREFIX"
if [ -n "$TARBALL" ]; then
  run tar -xzf "$TARBALL" -C "$PREFIX" --strip-components=1
elif [ "$DRY_RUN" = 1 ]; then
  echo "[dry-run] copy $SOURCE (without .git and data) to $PREFIX"
else
  tar -C "$SOURCE" --exclude=./.git --exclude=./data --exclude=./.cache -cf - . | tar -C "$PREFIX" -xf -
fi

# The collector runs from one bundled file (pnpm build:collector), built where it is installed.
run "$NODE" "$PREFIX/scripts/build-collector.mjs"

# --- 2. Config and secrets file
run mkdir -p "$CONFIG_DIR"
if [ "$DRY_RUN" = 1 ]; then
  echo "[dry-run] write $CONFIG:"
  echo "----- $CONFIG"
  printf '%s\n' "$CONFIG_TEXT"
  echo "-----"
elif [ -f "$CONFIG" ] && [ "$FORCE" = 0 ]; then
  printf '%s\n' "$CONFIG_TEXT" >"$CONFIG.new"
  echo "install-collector: $CONFIG exists and is kept; the config from these flags is in $CONFIG.new (use --force to replace)"
else
  printf '%s\n' "$CONFIG_TEXT" >"$CONFIG"
  chmod 0644 "$CONFIG"
fi
if [ "$DRY_RUN" = 1 ]; then
  echo "[dry-run] create $CONFIG_DIR/collector.env (mode 0600) unless it exists"
elif [ ! -f "$CONFIG_DIR/collector.env" ]; then
  umask 077
  printf '%s\n' "# Secrets for the Vigil collector, as NAME=value (read by systemd, mode 0600)." "# VIGIL_API_TOKEN=" >"$CONFIG_DIR/collector.env"
fi

# --- 3. Validate before anything runs it
run "$NODE" "$PREFIX/packages/cli/bin/vigil.mjs" validate "$CONFIG"

# --- 4. The unit
if [ "$DRY_RUN" = 1 ]; then
  echo "[dry-run] install $UNIT_TEMPLATE as $UNIT_DIR/$UNIT (node $NODE, prefix $PREFIX, config $CONFIG)"
else
  mkdir -p "$UNIT_DIR"
  sed -e "s|@NODE@|$NODE|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@CONFIG@|$CONFIG|g" "$UNIT_TEMPLATE" >"$UNIT_DIR/$UNIT"
  chmod 0644 "$UNIT_DIR/$UNIT"
fi
run systemctl daemon-reload
if [ "$START" = 1 ]; then
  run systemctl enable --now "$UNIT"
else
  run systemctl enable "$UNIT"
fi
echo "install-collector: done. Status: systemctl status ${UNIT%.service}; health: curl -s http://127.0.0.1:$HTTP_PORT/health"
