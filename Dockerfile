# One image for all four roles of the lab: docker-compose.yml tells each
# container which script to run.
FROM python:3.13-slim

WORKDIR /lab
COPY tcp_server_docker.py tcp_client_docker.py udp_server_docker.py udp_client_docker.py ./

# Nothing here needs root (the lab's ports are above 1024): run as 'nobody'.
USER 65534:65534

# Exec form: python itself is PID 1 and receives the SIGTERM of `docker stop`.
CMD ["python", "tcp_server_docker.py"]
