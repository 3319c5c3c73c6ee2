# Builds the scimd binary (pure Go, no cgo) into a small non-root image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/scimd ./cmd/scimd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/scimd /usr/local/bin/scimd
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/scimd"]
CMD ["serve"]
