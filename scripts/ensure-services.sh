#!/usr/bin/env bash
# Starts the local PostgreSQL and Redis the tests use, when they are not already answering.
# Fails loudly when a service cannot be brought up.
set -u

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

wait_for() { # name check
  for _ in $(seq 1 30); do "$2" && return 0; sleep 1; done
  echo "ensure-services: $1 did not come up" >&2
  return 1
}

status=0
if ! pg_up; then
  echo "ensure-services: starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  fi
  wait_for PostgreSQL pg_up || status=1
fi
if ! redis_up; then
  echo "ensure-services: starting Redis"
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  wait_for Redis redis_up || status=1
fi
[ $status -eq 0 ] && echo "ensure-services: PostgreSQL and Redis are up"
exit $status
