#!/bin/sh
# Open a TCP port in this server's network namespace once a wire tool is ready.
# The clients send nothing until that port answers (see capture.yml), so the
# capture records their first packet and the loss rules can drop it.
#   ready.sh PORT FILE LINES   (ready: FILE, one of /proc's, has more lines)
set -eu

for _ in $(seq 300); do  # 30 s at most
    if [ "$(wc -l < "$2")" -gt "$3" ]; then
        # Accept each connection and close it at once: a knock on the door.
        exec python3 -c '
import socket, sys
door = socket.create_server(("", int(sys.argv[1])))
while True:
    door.accept()[0].close()' "$1"
    fi
    sleep 0.1
done
echo "Error: $2 still has $3 lines after 30 s: not ready" >&2
exit 1
