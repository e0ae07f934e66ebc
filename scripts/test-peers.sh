#!/usr/bin/env bash
# The real servers the integration tests talk to, from Debian's packages: PostgreSQL, MariaDB, Redis,
# node_exporter (scrape target), rsyslog with omkafka and kcat (collector benchmark baselines),
# Alertmanager (notifier benchmark baseline), Chromium (the console's browser tests),
# promtool from prometheus (checks deploy/prometheus). Installs what is missing when it can (root with
# apt-get), otherwise says which packages to install and fails: tests never skip silently.
set -uo pipefail

# binary (any of the listed paths) -> Debian package
declare -A NEED=(
  ["/usr/lib/postgresql/15/bin/postgres"]=postgresql
  ["/usr/sbin/mariadbd"]=mariadb-server
  ["/usr/bin/redis-server"]=redis-server
  ["/usr/bin/prometheus-node-exporter"]=prometheus-node-exporter
  ["/usr/sbin/rsyslogd"]=rsyslog
  ["/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so"]=rsyslog-kafka
  ["/usr/bin/kcat"]=kcat
  ["/usr/bin/prometheus-alertmanager"]=prometheus-alertmanager
  ["/usr/bin/chromium"]=chromium
  ["/usr/bin/promtool"]=prometheus
)

missing=()
for path in "${!NEED[@]}"; do
  [ -e "$path" ] || missing+=("${NEED[$path]}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "test peers missing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing them with apt-get (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  # Keep package scripts from starting system services: tests start their own on loopback.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rc=$?
  rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] && exit 0
  echo "error: apt-get could not install ${missing[*]}" >&2
  exit 1
fi
echo "error: install these Debian packages first (as root): apt-get install ${missing[*]}" >&2
exit 1
