# PostgreSQL (Debian cluster) for the postgres.* node tests: started when it does not answer, and
# configured for logical replication (wal_level = logical, enough slots and WAL senders), restarting the
# cluster only when a setting had to change. Idempotent; says what it did.
source "$(dirname "$0")/lib.sh"
command -v pg_ctlcluster >/dev/null || { echo "postgres: pg_ctlcluster not installed"; exit 0; }
ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
[ -n "$ver" ] || { echo "postgres: no cluster in /etc/postgresql"; exit 0; }

start_service postgres 5432 pg_ctlcluster --skip-systemctl-redirect "$ver" main start || exit 1

psql_q() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atqc "$1"; }
# psql may need a moment after the port opens (startup, recovery)
for _ in $(seq 1 50); do psql_q 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done

changed=0
set_if() { # name wanted test: sets `name` to `wanted` when `test` (a shell test on $current) says so
  local name=$1 wanted=$2 cond=$3 current
  current=$(psql_q "SHOW $name") || { echo "postgres: cannot read $name"; return 1; }
  if eval "$cond"; then
    echo "postgres: $name is $current, setting $wanted"
    pg_conftool "$ver" main set "$name" "$wanted"
    changed=1
  else
    echo "postgres: $name = $current (ok)"
  fi
}
set_if wal_level logical '[ "$current" != logical ]'
set_if max_replication_slots 20 '[ "$current" -lt 20 ]'
set_if max_wal_senders 20 '[ "$current" -lt 20 ]'

if [ "$changed" = 1 ]; then
  echo "postgres: restarting cluster $ver/main to apply the settings"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main restart
  wait_port postgres 5432 || exit 1
  for _ in $(seq 1 50); do psql_q 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
  echo "postgres: wal_level is now $(psql_q 'SHOW wal_level')"
fi
