FROM alpine:3.19
RUN apk add --no-cache ca-certificates=20240226-r0
RUN apk update && apk add tzdata=2024a-r0
RUN --mount=type=cache,target=/var/cache/apk apk add curl=8.5.0-r0
RUN set -eux; \
    apk add --virtual .build-deps gcc=13.2.1_git20231014-r0 musl-dev=1.2.4_git20230717-r4; \
    apk del .build-deps
ENTRYPOINT ["/bin/sh"]
