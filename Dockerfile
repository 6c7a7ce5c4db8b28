# The raftmq node image: nothing but the static binary. Build the binary on
# the host first (make image does): there is no base image to pull.
#   CGO_ENABLED=0 go build -o bin/node ./cmd/node
FROM scratch
COPY bin/node /node
EXPOSE 6570 6571 6572 6572/udp 6580
VOLUME ["/data"]
ENTRYPOINT ["/node"]
