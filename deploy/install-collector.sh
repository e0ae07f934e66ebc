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
#
# Run it again to upgrade: the new version is staged beside the old one and must accept the
# installed config before anything stops; then the service stops (flushing to Kafka or the spool),
# the versions are swapped, and the service starts again. If it does not answer /health/live in
# time, the previous version is put back. The spool and the file checkpoints
# (/var/lib/vigil-collector) and the config are never touched.
#
#   sudo deploy/install-collector.sh --uninstall            # stop, remove the unit and /opt/vigil
#   sudo deploy/install-collector.sh --uninstall --purge    # also the config, secrets, spool, checkpoints
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
UNINSTALL=0
PURGE=0
HEALTH_TIMEOUT=60
MIN_NODE_MAJOR=20
# The unit's StateDirectory (the spool and file checkpoints), and the service manager: tests point
# both elsewhere.
STATE_DIR="${VIGIL_COLLECTOR_STATE_DIR:-/var/lib/vigil-collector}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"

usage() {
  cat <<USAGE
Usage: install-collector.sh --brokers HOST:PORT[,HOST:PORT...] [options]     install, or upgrade in place
       install-collector.sh --uninstall [--purge] [options]

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
  --health-timeout S   after a start, wait this long for /health/live (default $HEALTH_TIMEOUT; 0: do not wait);
                       an upgrade that does not answer is rolled back to the previous version
  --uninstall          stop and disable the service, remove the unit and the installed Vigil;
                       keep the config, secrets, spool and checkpoints ($STATE_DIR)
  --purge              with --uninstall: also remove the config, secrets, spool and checkpoints
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
    --health-timeout) HEALTH_TIMEOUT="${2:-}"; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option \"$1\"" ;;
  esac
done

# --- Check the flags before touching anything.
[ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || die "--purge goes with --uninstall (it removes the config, spool and checkpoints)"
[[ "$HEALTH_TIMEOUT" =~ ^[0-9]+$ ]] || die "--health-timeout: \"$HEALTH_TIMEOUT\" is not a number of seconds"
for d in "$PREFIX" "$CONFIG_DIR" "$UNIT_DIR" "$STATE_DIR"; do
  [[ "$d" == /?* && "$d" != */ ]] || die "\"$d\": directories must be absolute paths (and not /)"
done
CONFIG="$CONFIG_DIR/collector.yaml"
UNIT_FILE="$UNIT_DIR/$UNIT"

# --- Uninstall: the service, the unit and the installed copies; the rest only with --purge.
if [ "$UNINSTALL" = 1 ]; then
  if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then die "run as root (sudo), or pass --dry-run to see what it would do"; fi
  if [ -f "$UNIT_FILE" ] || [ "$DRY_RUN" = 1 ]; then
    run "$SYSTEMCTL" disable --now "$UNIT" || echo "install-collector: $UNIT was not running"
  fi
  run rm -f "$UNIT_FILE"
  run "$SYSTEMCTL" daemon-reload
  run rm -rf "$PREFIX" "$PREFIX.new" "$PREFIX.previous" "$PREFIX.failed"
  if [ "$PURGE" = 1 ]; then
    # With DynamicUser=yes systemd keeps the state under /var/lib/private and links it.
    run rm -rf "$STATE_DIR" "$(dirname "$STATE_DIR")/private/$(basename "$STATE_DIR")"
    run rm -f "$CONFIG" "$CONFIG.new" "$CONFIG_DIR/collector.env"
    [ "$DRY_RUN" = 1 ] || rmdir "$CONFIG_DIR" 2>/dev/null || true
    echo "install-collector: removed the collector, its config, secrets, spool and checkpoints"
  else
    echo "install-collector: removed the collector; kept $CONFIG, $CONFIG_DIR/collector.env and $STATE_DIR (spool, checkpoints): --uninstall --purge removes them"
  fi
  exit 0
fi

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

# An installed Vigil is upgraded: the new one is staged in $PREFIX.new and replaces it only once
# it accepts the config; the spool and checkpoints in $STATE_DIR are the unit's and stay as they are.
UPGRADE=0
[ -f "$PREFIX/packages/cli/bin/vigil.mjs" ] && UPGRADE=1
TARGET="$PREFIX"
if [ "$UPGRADE" = 1 ]; then
  TARGET="$PREFIX.new"
  echo "install-collector: $PREFIX holds a Vigil: upgrading it (staged in $TARGET; $STATE_DIR and $CONFIG are kept)"
fi

# Waits for the collector's /health/live on the port of the config in effect.
config_port() {
  awk '/^http:/ { h = 1; next } /^[^[:space:]#]/ { h = 0 } h && $1 == "port:" { print $2 + 0; exit }' "$1" 2>/dev/null
}
healthy() {
  local port
  port="$(config_port "$CONFIG")"
  port="${port:-8080}"
  "$NODE" -e '
    const [port, seconds] = process.argv.slice(1).map(Number);
    const until = Date.now() + seconds * 1000;
    const probe = () => fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
    (async () => {
      while (Date.now() < until) {
        if (await probe()) process.exit(0);
        await new Promise((r) => setTimeout(r, 500));
      }
      process.exit(1);
    })();' "$port" "$HEALTH_TIMEOUT"
}

# --- 1. Vigil itself
[ "$UPGRADE" = 0 ] || run rm -rf "$TARGET"
run mkdir -p "$TARGET"
if [ -n "$TARBALL" ]; then
  run tar -xzf "$TARBALL" -C "$TARGET" --strip-components=1
elif [ "$DRY_RUN" = 1 ]; then
  echo "[dry-run] copy $SOURCE (without .git and data) to $TARGET"
else
  tar -C "$SOURCE" --exclude=./.git --exclude=./data --exclude=./.cache -cf - . | tar -C "$TARGET" -xf -
fi

# The collector runs from one bundled file (pnpm build:collector), built where it is installed.
run "$NODE" "$TARGET/scripts/build-collector.mjs"

# --- 2. Config and secrets file
run mkdir -p "$CONFIG_DIR"
# Two configs differ when more than their comments (the first lines say when they were written) do.
same_config() { diff -q <(grep -v '^#' "$1") <(grep -v '^#' "$2") >/dev/null 2>&1; }
if [ "$DRY_RUN" = 1 ]; then
  echo "[dry-run] write $CONFIG:"
  echo "----- $CONFIG"
  printf '%s\n' "$CONFIG_TEXT"
  echo "-----"
elif [ -f "$CONFIG" ] && [ "$FORCE" = 0 ]; then
  printf '%s\n' "$CONFIG_TEXT" >"$CONFIG.new"
  if same_config "$CONFIG" "$CONFIG.new"; then
    rm -f "$CONFIG.new"
    echo "install-collector: $CONFIG is kept"
  else
    echo "install-collector: $CONFIG exists and is kept; the config from these flags is in $CONFIG.new (use --force to replace)"
  fi
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

# --- 3. Validate before anything runs it (an upgrade: the new version, the config in effect)
if [ "$DRY_RUN" = 0 ] && ! "$NODE" "$TARGET/packages/cli/bin/vigil.mjs" validate "$CONFIG"; then
  if [ "$UPGRADE" = 1 ]; then
    rm -rf "$TARGET"
    die "the new version does not accept $CONFIG (above); nothing was changed and the installed version keeps running"
  fi
  die "$CONFIG is not valid (above)"
fi
[ "$DRY_RUN" = 0 ] || run "$NODE" "$TARGET/packages/cli/bin/vigil.mjs" validate "$CONFIG"

# --- 4. Swap in the new version (an upgrade): stop (the shipper flushes to Kafka or the spool), move.
if [ "$UPGRADE" = 1 ]; then
  run "$SYSTEMCTL" stop "$UNIT"
  run rm -rf "$PREFIX.previous"
  run mv "$PREFIX" "$PREFIX.previous"
  run mv "$TARGET" "$PREFIX"
fi

# --- 5. The unit
if [ "$DRY_RUN" = 1 ]; then
  echo "[dry-run] install $UNIT_TEMPLATE as $UNIT_FILE (node $NODE, prefix $PREFIX, config $CONFIG)"
else
  mkdir -p "$UNIT_DIR"
  sed -e "s|@NODE@|$NODE|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@CONFIG@|$CONFIG|g" "$UNIT_TEMPLATE" >"$UNIT_FILE"
  chmod 0644 "$UNIT_FILE"
fi
run "$SYSTEMCTL" daemon-reload
if [ "$START" = 1 ]; then
  run "$SYSTEMCTL" enable --now "$UNIT"
  # enable --now starts a stopped unit; after an upgrade it was stopped above.
else
  run "$SYSTEMCTL" enable "$UNIT"
fi

# --- 6. Is it up? An upgrade that is not goes back to the previous version.
if [ "$DRY_RUN" = 1 ]; then
  [ "$START" = 0 ] || [ "$HEALTH_TIMEOUT" = 0 ] || echo "[dry-run] wait up to ${HEALTH_TIMEOUT}s for /health/live; an upgrade that does not answer is rolled back to $PREFIX.previous"
elif [ "$START" = 1 ] && [ "$HEALTH_TIMEOUT" != 0 ] && ! healthy; then
  if [ "$UPGRADE" = 1 ] && [ -d "$PREFIX.previous" ]; then
    "$SYSTEMCTL" stop "$UNIT" || true
    rm -rf "$PREFIX.failed"
    mv "$PREFIX" "$PREFIX.failed"
    mv "$PREFIX.previous" "$PREFIX"
    "$SYSTEMCTL" start "$UNIT" || true
    die "the new version did not answer /health/live within ${HEALTH_TIMEOUT}s; the previous version is back in $PREFIX and started (the new one is in $PREFIX.failed; see journalctl -u ${UNIT%.service})"
  fi
  die "the collector did not answer /health/live within ${HEALTH_TIMEOUT}s; see journalctl -u ${UNIT%.service}"
fi
if [ "$UPGRADE" = 1 ]; then
  echo "install-collector: upgraded; the previous version is in $PREFIX.previous (spool and checkpoints in $STATE_DIR kept)"
fi
port="$(config_port "$CONFIG" || true)"
echo "install-collector: done. Status: systemctl status ${UNIT%.service}; health: curl -s http://127.0.0.1:${port:-$HTTP_PORT}/health"
