"""UDP echo client: sends one datagram, waits for the server to send it back.

Exits with 0 only if the echo is the message. Settings come from the
environment:
  SERVER_HOST  the server's name or address (default localhost)
  SERVER_PORT  the server's port (default 10001)
  MESSAGE      the text to send (default: the lecture's 48-byte message)
"""
import os
import socket
import sys
import time

host = os.environ.get("SERVER_HOST", "localhost")
port = os.environ.get("SERVER_PORT", "10001")
if not (port.isdecimal() and 1 <= int(port) <= 65535):
    sys.exit("Error: SERVER_PORT must be a number from 1 to 65535, "
             f"not {port!r}")
port = int(port)
message = os.environ.get(
    "MESSAGE",
    "This is our message. It will be sent all at once",
).encode()

# Create a UDP/IPv4 socket (IPv4, like the server: "localhost" is then
# 127.0.0.1 even where it also names ::1). No connect(): every sendto()
# names its destination.
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# UDP never resends a lost datagram, and usually nobody tells the sender
# that no server listens, so recvfrom() could wait for ever: wait 1 s,
# then send again.
sock.settimeout(1)
try:
    # Look the name up once: every try below goes to the same address.
    address = (socket.gethostbyname(host), port)
    for attempt in range(10):
        print(f"Sending {message!r} to {host}:{port}")
        sock.sendto(message, address)
        print("Waiting to receive...")
        try:
            # 65535 bytes: room for the largest datagram.
            data, server = sock.recvfrom(65535)
            if server == address:
                break
            # Anybody may send to this port: only the server's reply counts.
            print(f"Ignored a datagram from {server}")
        except socket.timeout:
            print("No reply within 1 s")
        except ConnectionResetError:  # Windows: "port unreachable" came back
            print("No server on that port (yet)")
            time.sleep(1)
    else:
        sys.exit(f"Error: no reply from {host}:{port} after 10 tries; "
                 "is the UDP server running?")
    print(f"Received {len(data)} bytes from {server}")
    print(f"Data: {data!r}")
    if data != message:
        sys.exit("Error: the echo is not the message that was sent")
except OSError as error:  # unknown host, datagram too large, ...
    sys.exit(f"Error: cannot send to {host}:{port}: {error}")
finally:
    print("Closing socket")
    sock.close()
