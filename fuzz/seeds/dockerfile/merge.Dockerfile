FROM golang:1.22
WORKDIR /src
RUN --mount=type=cache,target=/root/.cache/go-build go build -o /out/app ./cmd/app
RUN rm -rf /src/testdata
RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool.tgz
RUN tar -C /opt -xzf /tmp/tool.tgz
RUN rm -f /tmp/tool.tgz
RUN echo done
