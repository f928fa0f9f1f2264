FROM debian:bookworm
RUN apt-get update
RUN apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u5
RUN apt-get update && apt-get install -y --no-install-recommends git=1:2.39.2-1.1 && apt-get clean
