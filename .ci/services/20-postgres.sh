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

# A private cluster on 5433 that tests may crash and restart (`pg_ctlcluster $ver sluice_restart stop -m
# immediate`): the shared one on 5432 serves every other suite at the same time.
if ! pg_lsclusters -h 2>/dev/null | awk '{print $2}' | grep -qx sluice_restart; then
  echo "postgres (restartable): creating cluster $ver/sluice_restart on 5433"
  pg_createcluster "$ver" sluice_restart -p 5433 -- --auth=trust >/dev/null || { echo "postgres (restartable): pg_createcluster failed"; exit 0; }
  pg_conftool "$ver" sluice_restart set wal_level logical
  pg_conftool "$ver" sluice_restart set max_replication_slots 10
  pg_conftool "$ver" sluice_restart set max_wal_senders 10
fi
start_service "postgres (restartable)" 5433 pg_ctlcluster --skip-systemctl-redirect "$ver" sluice_restart start || true
