FROM golang:1.22-alpine AS build
RUN apk add git=2.43.0-r0
RUN apt-get update
WORKDIR /src
COPY . .
RUN go build -o /out/app ./cmd/app
FROM alpine:3.19
RUN apk add --no-cache ca-certificates=20240226-r0
COPY --from=build /out/app /usr/local/bin/app
ENTRYPOINT ["app"]
