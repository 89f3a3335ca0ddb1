#!/usr/bin/env bash
# MariaDB for the mysql.* tests:
#   1. the system server on 3306 (MYSQL_URL, snapshot and sink tests), started when it is not answering;
#   2. a private binlog-enabled instance on 3307 (MYSQL_CDC_URL, binlog CDC tests): log_bin on,
#      binlog_format=ROW, server_id=1, datadir /tmp/sluice-mariadb-binlog, root without a password, and
#      TLS with a CA made here ($DIR/tls/ca.pem: the tests connect with tls.ca set to it).
# Idempotent: a server that already answers is left alone. SLUICE_MARIADB_CDC_DIR / _PORT override.
source "$(dirname "$0")/lib.sh"
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || { echo "mariadbd not installed"; exit 0; }
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)

# 1. system server
start_service mariadb 3306 start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd

# 2. private binlog instance
DIR=${SLUICE_MARIADB_CDC_DIR:-/tmp/sluice-mariadb-binlog}
PORT=${SLUICE_MARIADB_CDC_PORT:-3307}
if port_open "$PORT"; then echo "mariadb (binlog): up on $PORT"; exit 0; fi
if [ ! -d "$DIR/mysql" ]; then
  echo "mariadb (binlog): initialising $DIR"
  mkdir -p "$DIR"
  mariadb-install-db --no-defaults --user=root --datadir="$DIR" --auth-root-authentication-method=normal \
    --skip-test-db >"$DIR/install.log" 2>&1 || { echo "mariadb-install-db failed:"; tail -20 "$DIR/install.log"; exit 1; }
fi
TLS_ARGS=()
if command -v openssl >/dev/null; then
  if [ ! -f "$DIR/tls/server-key.pem" ]; then
    mkdir -p "$DIR/tls"
    (
      cd "$DIR/tls"
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sluice-test-ca" -keyout ca-key.pem -out ca.pem
      openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext.cnf
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -extfile ext.cnf -out server-cert.pem
    ) >"$DIR/tls.log" 2>&1 || echo "mariadb (binlog): could not make TLS certificates (see $DIR/tls.log); starting without TLS"
  fi
  [ -f "$DIR/tls/server-cert.pem" ] && TLS_ARGS=(--ssl-ca="$DIR/tls/ca.pem" --ssl-cert="$DIR/tls/server-cert.pem" --ssl-key="$DIR/tls/server-key.pem")
fi
echo "mariadb (binlog): starting on $PORT"
# setsid + nohup: the server outlives this script and the CI step that ran it
setsid nohup "$MARIADBD" --no-defaults --user=root --datadir="$DIR" --port="$PORT" --bind-address=127.0.0.1 \
  --socket="$DIR/sock" --pid-file="$DIR/mariadbd.pid" --log-bin="$DIR/binlog" --binlog-format=ROW --server-id=1 \
  --log-error="$DIR/error.log" "${TLS_ARGS[@]}" </dev/null >/dev/null 2>&1 &
wait_port "mariadb (binlog)" "$PORT" || { tail -20 "$DIR/error.log" 2>/dev/null; exit 1; }
