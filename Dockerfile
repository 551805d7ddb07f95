# One image for all four roles of the lab: docker-compose.yml tells each
# container which script to run.
FROM python:3.13-slim

WORKDIR /lab
COPY tcp_server_docker.py tcp_client_docker.py udp_server_docker.py udp_client_docker.py ./

# What a container needs that a terminal does not, set here so that the
# scripts stay the lesson:
# - A container's output is a pipe, and Python holds a pipe's output back in
#   a buffer: unbuffered, each print() reaches `docker compose logs` at once.
ENV PYTHONUNBUFFERED=1
# - `docker compose stop` (and Ctrl-C on `docker compose up`) sends this
#   signal. Python turns SIGINT into KeyboardInterrupt, so a server stops as
#   on Ctrl-C and prints its last line. Docker's default, SIGTERM, would be
#   ignored: in a container the script is PID 1, which gets no default signal
#   handling, and Docker would kill it 10 seconds later.
STOPSIGNAL SIGINT

# Nothing here needs root (the lab's ports are above 1024): run as 'nobody'.
USER 65534:65534

# Exec form: python itself is PID 1 and receives the stop signal.
CMD ["python", "tcp_server_docker.py"]
