#!/usr/bin/env bash
# MongoDB for the mongodb.* tests (MONGO_URL, default mongodb://127.0.0.1:27018/?directConnection=true).
# No mongod can be installed here, so this starts mongo-java-server (in-memory, see test/servers/mongo/
# Main.java) on 127.0.0.1:$SLUICE_MONGO_PORT (27018): its jars come from Maven Central through
# `mvn dependency:copy-dependencies` (test/servers/mongo/pom.xml), Main.java is compiled with javac, all
# under $SLUICE_CACHE/mongo-java-server (default ~/.cache/sluice). A server already answering on the
# port is left alone. SLUICE_MONGO_HEAP sets the Java heap (default 2g: the data lives in it);
# SLUICE_MONGO_OPLOG_WINDOW the seconds of oplog kept for change streams (default 30).
# A second instance on $SLUICE_MONGO_TLS_PORT (27019) speaks TLS only, with a certificate signed by a
# test CA created here with openssl ($DIR/tls/ca.pem): the TLS tests (MONGO_TLS_URL, MONGO_TLS_CA).
# To test against a real replica set, set MONGO_URL (and MONGO_TLS_URL / MONGO_TLS_CA for TLS).
# Idempotent; says what it did.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SRC="$ROOT/test/servers/mongo"
PORT=${SLUICE_MONGO_PORT:-27018}
DIR=${SLUICE_CACHE:-$HOME/.cache/sluice}/mongo-java-server

TLS_PORT=${SLUICE_MONGO_TLS_PORT:-27019}
if port_open "$PORT" && port_open "$TLS_PORT"; then echo "mongo: up on $PORT, TLS on $TLS_PORT"; exit 0; fi
for tool in java javac mvn openssl; do
  command -v "$tool" >/dev/null || { echo "mongo: $tool not installed (needs a JDK 17+, Maven and openssl)"; exit 0; }
done
mkdir -p "$DIR"

if [ ! -f "$DIR/lib/.complete" ] || [ "$SRC/pom.xml" -nt "$DIR/lib/.complete" ]; then
  echo "mongo: fetching mongo-java-server jars into $DIR/lib (Maven)"
  rm -rf "$DIR/lib"
  mvn -B -q -f "$SRC/pom.xml" dependency:copy-dependencies -DoutputDirectory="$DIR/lib" >"$DIR/mvn.log" 2>&1 \
    || { echo "mongo: mvn dependency:copy-dependencies failed:"; tail -20 "$DIR/mvn.log"; exit 1; }
  touch "$DIR/lib/.complete"
else
  echo "mongo: jars cached in $DIR/lib"
fi

if [ ! -f "$DIR/classes/Main.class" ] || [ "$SRC/Main.java" -nt "$DIR/classes/Main.class" ]; then
  echo "mongo: compiling $SRC/Main.java"
  rm -rf "$DIR/classes" && mkdir -p "$DIR/classes"
  javac -d "$DIR/classes" -cp "$DIR/lib/*" "$SRC/Main.java" || { echo "mongo: javac failed"; exit 1; }
fi

# A test CA and a server certificate for 127.0.0.1 / localhost (the TLS tests trust $DIR/tls/ca.pem)
if [ ! -f "$DIR/tls/server.pem" ]; then
  echo "mongo: creating a test CA and server certificate in $DIR/tls"
  rm -rf "$DIR/tls" && mkdir -p "$DIR/tls"
  (
    cd "$DIR/tls" &&
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=sluice test CA" &&
      openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" &&
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext.cnf &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 3650 -extfile ext.cnf
  ) >"$DIR/tls.log" 2>&1 || { echo "mongo: openssl failed:"; tail -20 "$DIR/tls.log"; exit 1; }
fi

start() { # name port heap args...
  local name=$1 port=$2 heap=$3; shift 3
  if port_open "$port"; then echo "$name: up on $port"; return 0; fi
  echo "$name: starting mongo-java-server on 127.0.0.1:$port (log $DIR/$name.log)"
  # setsid + nohup: the server outlives this script and the CI step that ran it
  setsid nohup java -Xmx"$heap" -cp "$DIR/classes:$DIR/lib/*" Main "$port" 127.0.0.1 "$@" </dev/null >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
  wait_port "$name" "$port" 100 || { tail -20 "$DIR/$name.log"; return 1; }
}
start mongo "$PORT" "${SLUICE_MONGO_HEAP:-2g}" "${SLUICE_MONGO_OPLOG_WINDOW:-30}" || exit 1
start mongo-tls "$TLS_PORT" 256m 30 "$DIR/tls/server.pem" "$DIR/tls/server.key" || exit 1
