# The lab's optional packet capture: tcpdump from Debian's packages. Built only
# by docker-compose.capture.yml; the four scripts' image is not touched.
#
# Capturing needs one privilege, raw sockets (CAP_NET_RAW). The binary gets it as
# a file capability, so tcpdump never runs as root (run as root, Debian's tcpdump
# would want more privileges to switch to its own user).
FROM python:3.13-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends tcpdump=4.99.* libcap2-bin=1:2.* \
    && setcap cap_net_raw=ep "$(command -v tcpdump)" \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

USER 65534:65534
CMD ["tcpdump", "--version"]
