# Cases where hadolint 2.15 is wrong about size (see src/advice/lint.rs).
FROM python:3.12-alpine
# pip accepts any unambiguous prefix of an option: --no-cache is --no-cache-dir.
RUN pip install --no-cache flask==3.0.0
# --no-network installs from what is already local: no index is downloaded, no cache written.
RUN apk add --no-network musl-locales=0.1.0-r1
# A path-qualified pip is still pip (hadolint misses it).
ENV X=1
RUN /usr/local/bin/pip install requests==2.32.0
