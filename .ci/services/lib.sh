# Helpers for the service scripts (sourced).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # name port [tries of 0.2 s]
  for _ in $(seq 1 "${3:-75}"); do port_open "$2" && { echo "$1: up on $2"; return 0; }; sleep 0.2; done
  echo "$1: NOT reachable on $2"; return 1
}
start_service() { # name port command...
  local name=$1 port=$2; shift 2
  if port_open "$port"; then echo "$name: up on $port"; return 0; fi
  echo "$name: starting"; "$@" || echo "$name: start command failed"
  wait_port "$name" "$port"
}
export -f port_open wait_port start_service
