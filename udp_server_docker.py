"""UDP echo server: receives one datagram and sends the same datagram back.

Serves forever. Settings come from the environment:
  LISTEN_HOST  address to listen on (default 0.0.0.0: every interface)
  LISTEN_PORT  port to listen on (default 10001)
"""
import os
import select
import socket
import sys

host = os.environ.get("LISTEN_HOST", "0.0.0.0")
port = os.environ.get("LISTEN_PORT", "10001")
if not (port.isdecimal() and 1 <= int(port) <= 65535):
    sys.exit("Error: LISTEN_PORT must be a number from 1 to 65535, "
             f"not {port!r}")
port = int(port)

# Create a UDP/IPv4 socket and bind it. No listen(), no accept(): UDP has
# no connections.
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    sock.bind((host, port))
except OSError as error:
    sys.exit(f"Error: cannot listen on {host} port {port}: {error}")
print(f"Starting UDP server on port {port}")

try:
    while True:
        print("Waiting to receive message...")
        # Look up twice a second instead of blocking in recvfrom():
        # on Windows, Ctrl-C cannot interrupt a blocked recvfrom().
        while not select.select([sock], [], [], 0.5)[0]:
            pass
        try:
            # One recvfrom() returns one whole datagram, with the sender's
            # address. 65535 bytes has room for the largest; a datagram too
            # big for the buffer would be cut short. b'' is an empty
            # datagram, not a hang-up.
            data, address = sock.recvfrom(65535)
            print(f"Received {len(data)} bytes from {address}")
            print(f"Data: {data!r}")
            print(f"Sending acknowledgement back to {address}")
            sock.sendto(data, address)
        except OSError as error:  # Windows: an earlier echo found nobody
            print(f"Error: {error}")
except KeyboardInterrupt:
    print("Stopping UDP server")
finally:
    sock.close()
