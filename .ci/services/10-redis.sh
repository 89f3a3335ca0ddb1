source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || { echo "redis-server not installed"; exit 0; }
start_service redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
