"""TCP echo server: reads the stream 16 bytes at a time, sends each chunk back.

Serves one client after another, forever. Settings come from the environment:
  LISTEN_HOST  address to listen on (default 0.0.0.0: every interface)
  LISTEN_PORT  port to listen on (default 10000)
"""
import os
import select
import socket
import sys

IDLE_TIMEOUT = 10  # seconds a client may stay silent before it is dropped

host = os.environ.get("LISTEN_HOST", "0.0.0.0")
port = os.environ.get("LISTEN_PORT", "10000")
if not (port.isdecimal() and 1 <= int(port) <= 65535):
    sys.exit("Error: LISTEN_PORT must be a number from 1 to 65535, "
             f"not {port!r}")
port = int(port)

# Create a TCP/IPv4 socket and bind it to the address and port.
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Restart at once, even while old connections linger in TIME_WAIT.
if os.name != "nt":
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    sock.bind((host, port))
except OSError as error:
    sys.exit(f"Error: cannot listen on {host} port {port}: {error}")
# From now on the kernel completes handshakes and queues the clients.
sock.listen()
print(f"Starting TCP server on port {port}")

try:
    while True:
        print("Waiting for a connection...")
        # Look up twice a second instead of blocking in accept():
        # on Windows, Ctrl-C cannot interrupt a blocked accept().
        while not select.select([sock], [], [], 0.5)[0]:
            pass
        try:
            connection, client_address = sock.accept()
            with connection:  # closes the connection however this block ends
                print(f"Connection from {client_address}")
                connection.settimeout(IDLE_TIMEOUT)
                while True:
                    # TCP carries a stream of bytes, not messages:
                    # recv(16) returns what has arrived so far,
                    # 16 bytes at most, maybe fewer.
                    data = connection.recv(16)
                    # b'' means the client closed its side: it is done.
                    if not data:
                        print(f"No more data from {client_address}, "
                              "closing the connection")
                        break
                    print(f"Received: {data!r}")
                    print("Sending data back to client")
                    connection.sendall(data)
        except OSError as error:  # reset, silent too long: next client
            print(f"Dropped the client: {error}")
except KeyboardInterrupt:
    print("Stopping TCP server")
finally:
    sock.close()
