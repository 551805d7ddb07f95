"""TCP echo client: sends one long message, reads the echo chunk by chunk.

Exits with 0 only if every byte came back, in order. Settings come from
the environment:
  SERVER_HOST  the server's name or address (default localhost)
  SERVER_PORT  the server's port (default 10000)
  MESSAGE      the text to send (default: the lecture's 91-byte message)
"""
import os
import socket
import sys
import time

host = os.environ.get("SERVER_HOST", "localhost")
port = os.environ.get("SERVER_PORT", "10000")
if not (port.isdecimal() and 1 <= int(port) <= 65535):
    sys.exit("Error: SERVER_PORT must be a number from 1 to 65535, "
             f"not {port!r}")
port = int(port)
message = os.environ.get(
    "MESSAGE",
    "This is our message. It is very long but will only be transmitted "
    "in chunks of 16 at a time",
).encode()

# Create a TCP/IPv4 socket (IPv4, like the server: "localhost" is then
# 127.0.0.1 even where it also names ::1) and connect: the three-way
# handshake. The server may still be starting, so a refused connection is
# retried for 10 s.
print(f"Connecting to {host} port {port}")
deadline = time.monotonic() + 10
while True:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)  # no connect() or recv() below waits longer
    try:
        sock.connect((host, port))
        break
    except ConnectionRefusedError:  # the host says: nobody on that port
        sock.close()  # a socket whose connect() failed is not reused
        if time.monotonic() > deadline:
            sys.exit("Error: no TCP server is listening on "
                     f"{host} port {port}")
        time.sleep(0.5)
    except OSError as error:  # unknown host, no route, no answer at all, ...
        sys.exit(f"Error: cannot connect to {host} port {port}: {error}")

try:
    print(f"sending {message!r}")
    sock.sendall(message)

    # The echo comes back as a stream too: read until every byte has arrived.
    received = b""
    while len(received) < len(message):
        data = sock.recv(16)
        if not data:  # b'' means the server closed the connection
            sys.exit(f"Error: the server closed the connection after "
                     f"{len(received)} of {len(message)} bytes")
        print(f"received {data!r}")
        received += data
    if received != message:
        sys.exit("Error: the echo is not the message that was sent")
except OSError as error:
    sys.exit(f"Error: lost the connection to {host} port {port}: {error}")
finally:
    print("closing socket")
    sock.close()
